//! What acts on the execution environment rather than on one request: the `environment` flag's
//! resource effects (`disk`, `memory`, `cpu`), and the guard that suspends experiments when the
//! function fails on its own (`guard`, top-level and per experiment).

use super::values::{HumanDuration, Rate, RawRate};
use serde::Deserialize;
use std::time::Duration;

/// Lambda's largest memory size and ephemeral storage, in MB: no resource effect asks for more.
pub const MAX_RESOURCE_MB: u64 = 10_240;
/// The share of the function's memory a `memory` effect may take without `allow_oom`, in percent.
pub const MEMORY_CEILING_PERCENT: u64 = 90;
/// Default of `guard.min_invocations`.
pub const DEFAULT_GUARD_MIN_INVOCATIONS: u32 = 20;
/// Default of `guard.window`.
pub const DEFAULT_GUARD_WINDOW: Duration = Duration::from_secs(60);

/// `disk: {fill_mb: 400}` or `disk: {leave_free_mb: 10}`: one file in the temporary directory
/// (`/tmp` in Lambda), allocated, never more than the free space less 1 MiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiskEffect {
    /// A file of this many MiB.
    Fill(u64),
    /// A file that leaves this many MiB free.
    LeaveFree(u64),
}

/// `memory: {mb: 512}`: memory faultline allocates and touches, counted in the function's limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryEffect {
    /// MiB to hold.
    pub mb: u64,
    /// Above 90 % of the function's memory only with this: a rehearsal of an out-of-memory kill.
    pub allow_oom: bool,
}

impl MemoryEffect {
    /// Why this may not run in a function of `function_mb` MB, if it may not.
    pub fn refusal(&self, function_mb: u64) -> Option<String> {
        let ceiling = function_mb.saturating_mul(MEMORY_CEILING_PERCENT) / 100;
        (!self.allow_oom && self.mb > ceiling).then(|| {
            format!(
                "{} MB is more than {MEMORY_CEILING_PERCENT} % of the function's {function_mb} MB \
                 ({ceiling} MB); add `allow_oom: true` to rehearse an out-of-memory kill",
                self.mb
            )
        })
    }
}

/// `cpu: {percent: 50}`: a thread burning that share of one CPU in short slices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuEffect {
    /// Share of one CPU, 1..=100.
    pub percent: u8,
}

/// `guard: {max_error_rate: 50%, min_invocations: 20, window: 60s}`: experiments are suspended in
/// an environment where, over `window`, at least `min_invocations` ended and more than
/// `max_error_rate` of them in an error faultline did not inject.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Guard {
    /// The share of invocations failing on their own that trips the guard.
    pub max_error_rate: Rate,
    /// Fewer invocations in the window never trip it.
    pub min_invocations: u32,
    /// How far back invocations count.
    pub window: Duration,
}

impl Guard {
    /// Whether `errors` of `total` invocations in the window trip this guard.
    pub fn trips(&self, errors: u32, total: u32) -> bool {
        total > 0
            && total >= self.min_invocations
            && f64::from(errors) / f64::from(total) >= self.max_error_rate.value()
            && errors > 0
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDisk {
    #[serde(default)]
    fill_mb: Option<u64>,
    #[serde(default)]
    leave_free_mb: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMemory {
    mb: u64,
    #[serde(default)]
    allow_oom: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCpu {
    percent: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawGuard {
    max_error_rate: RawRate,
    #[serde(default)]
    min_invocations: Option<u32>,
    #[serde(default)]
    window: Option<HumanDuration>,
}

/// A problem: the key under the effect or guard, and why.
type Problem = (&'static str, String);

fn within(value: u64, key: &'static str, low: u64) -> Result<u64, Problem> {
    if (low..=MAX_RESOURCE_MB).contains(&value) {
        Ok(value)
    } else {
        Err((
            key,
            format!("{value} is not between {low} and {MAX_RESOURCE_MB} (Lambda's largest)"),
        ))
    }
}

impl RawDisk {
    pub(crate) fn validate(self) -> Result<DiskEffect, Problem> {
        match (self.fill_mb, self.leave_free_mb) {
            (Some(mb), None) => Ok(DiskEffect::Fill(within(mb, "fill_mb", 1)?)),
            (None, Some(mb)) => Ok(DiskEffect::LeaveFree(within(mb, "leave_free_mb", 0)?)),
            _ => Err((
                "",
                "give one of `fill_mb: MB` (a file of that size) or `leave_free_mb: MB` (a file \
                 leaving that much free)"
                    .into(),
            )),
        }
    }
}

impl RawMemory {
    pub(crate) fn validate(self) -> Result<MemoryEffect, Problem> {
        Ok(MemoryEffect {
            mb: within(self.mb, "mb", 1)?,
            allow_oom: self.allow_oom,
        })
    }
}

impl RawCpu {
    pub(crate) fn validate(self) -> Result<CpuEffect, Problem> {
        match u8::try_from(self.percent) {
            Ok(percent) if (1..=100).contains(&percent) => Ok(CpuEffect { percent }),
            _ => Err((
                "percent",
                format!("{} is not a share of one CPU (1 to 100)", self.percent),
            )),
        }
    }
}

impl RawGuard {
    pub(crate) fn validate(self) -> Result<Guard, Problem> {
        let RawRate(rate) = self.max_error_rate;
        let max_error_rate = rate.map_err(|reason| ("max_error_rate", reason))?;
        if max_error_rate.value() <= 0.0 {
            return Err((
                "max_error_rate",
                "0 would trip on the first error: give a share above 0".into(),
            ));
        }
        let min_invocations = self
            .min_invocations
            .unwrap_or(DEFAULT_GUARD_MIN_INVOCATIONS);
        if min_invocations == 0 {
            return Err(("min_invocations", "must be at least 1".into()));
        }
        let window = self.window.map_or(DEFAULT_GUARD_WINDOW, |d| d.0);
        if window < Duration::from_secs(1) || window > Duration::from_secs(3600) {
            return Err(("window", "must be between 1s and 1h".into()));
        }
        Ok(Guard {
            max_error_rate,
            min_invocations,
            window,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard(rate: f64, min: u32) -> Guard {
        Guard {
            max_error_rate: Rate::new(rate).unwrap(),
            min_invocations: min,
            window: DEFAULT_GUARD_WINDOW,
        }
    }

    #[test]
    fn a_guard_trips_at_its_rate_once_enough_invocations_ended() {
        let half = guard(0.5, 20);
        assert!(!half.trips(19, 19), "too few");
        assert!(half.trips(10, 20));
        assert!(!half.trips(9, 20));
        assert!(!half.trips(0, 0));
        assert!(guard(1.0, 1).trips(1, 1));
        assert!(!guard(1.0, 1).trips(0, 1));
    }

    #[test]
    fn memory_above_nine_tenths_needs_allow_oom() {
        let ask = |mb, allow_oom| MemoryEffect { mb, allow_oom };
        assert_eq!(ask(115, false).refusal(128), None);
        let refusal = ask(116, false).refusal(128).expect("refused");
        assert!(refusal.contains("allow_oom"), "{refusal}");
        assert_eq!(ask(4096, true).refusal(128), None);
    }
}
