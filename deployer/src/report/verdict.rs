//! The figures of a report and its verdicts: what each function did before, during and after
//! the experiment's window, and whether it met the objectives while the fault was on. Pure: the
//! series come in, the figures and verdicts go out.

use super::series::Series;
use chrono::{DateTime, Utc};
use serde::Serialize;

/// The three stretches of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Before,
    During,
    After,
}

impl Phase {
    pub const ALL: [Phase; 3] = [Phase::Before, Phase::During, Phase::After];

    pub fn name(self) -> &'static str {
        match self {
            Phase::Before => "before",
            Phase::During => "during",
            Phase::After => "after",
        }
    }
}

/// When each phase starts and ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Window {
    pub start: DateTime<Utc>,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Window {
    /// The bounds of `phase`.
    pub fn of(&self, phase: Phase) -> (DateTime<Utc>, DateTime<Utc>) {
        match phase {
            Phase::Before => (self.start, self.from),
            Phase::During => (self.from, self.to),
            Phase::After => (self.to, self.end),
        }
    }
}

/// One phase's figures for a function; None where the data is missing.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figures {
    pub phase: Phase,
    pub invocations: Option<f64>,
    pub errors: Option<f64>,
    /// Errors over invocations, in percent.
    pub error_rate: Option<f64>,
    /// The highest p99 duration of the phase's periods, in ms.
    pub p99_ms: Option<f64>,
    pub faults: Option<f64>,
}

impl Figures {
    pub fn of(
        phase: Phase,
        window: &Window,
        invocations: &Series,
        errors: &Series,
        p99: &Series,
        faults: &Series,
    ) -> Figures {
        let (from, to) = window.of(phase);
        let invocations = invocations.sum(from, to);
        let errors = errors.sum(from, to);
        let error_rate = match (invocations, errors) {
            (Some(n), Some(e)) if n > 0.0 => Some(100.0 * e / n),
            _ => None,
        };
        Figures {
            phase,
            invocations,
            errors,
            error_rate,
            p99_ms: p99.max(from, to),
            // faultline counts a fault when it injects one: no datapoint is none injected.
            faults: faults
                .sum(from, to)
                .or_else(|| faults.missing.is_none().then_some(0.0)),
        }
    }
}

/// What the team promised while a fault is on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Objectives {
    /// Errors over invocations, in percent, at most.
    pub error_rate: Option<f64>,
    /// p99 duration in ms, at most.
    pub p99_ms: Option<f64>,
}

/// Met, missed, or no data to tell.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    Met {
        objective: String,
        value: f64,
        /// The value's unit as written after it (` %`, ` ms`).
        unit: &'static str,
    },
    Missed {
        objective: String,
        value: f64,
        unit: &'static str,
    },
    NoData {
        objective: String,
        reason: String,
    },
}

impl Verdict {
    pub fn is_missed(&self) -> bool {
        matches!(self, Verdict::Missed { .. })
    }

    pub fn objective(&self) -> &str {
        match self {
            Verdict::Met { objective, .. }
            | Verdict::Missed { objective, .. }
            | Verdict::NoData { objective, .. } => objective,
        }
    }

    /// `met (0.4 %)`, `missed (812 ms)`, `no data (why)`.
    pub fn said(&self) -> String {
        match self {
            Verdict::Met { value, unit, .. } => format!("met ({value:.1}{unit})"),
            Verdict::Missed { value, unit, .. } => format!("missed ({value:.1}{unit})"),
            Verdict::NoData { reason, .. } => format!("no data ({reason})"),
        }
    }
}

fn judge(
    objective: String,
    unit: &'static str,
    limit: f64,
    value: Option<f64>,
    missing: Option<&str>,
) -> Verdict {
    match value {
        Some(value) if value <= limit => Verdict::Met {
            objective,
            value,
            unit,
        },
        Some(value) => Verdict::Missed {
            objective,
            value,
            unit,
        },
        None => Verdict::NoData {
            objective,
            reason: missing.unwrap_or("no datapoints in the window").to_string(),
        },
    }
}

/// The verdicts on the `during` figures; `why_*` says why a series is missing, when it is.
pub fn verdicts(
    objectives: &Objectives,
    during: &Figures,
    why_errors: Option<&str>,
    why_p99: Option<&str>,
) -> Vec<Verdict> {
    let mut verdicts = Vec::new();
    if let Some(limit) = objectives.error_rate {
        let missing = why_errors.or(match during.invocations {
            Some(n) if n > 0.0 => None,
            _ => Some("no invocations in the window"),
        });
        verdicts.push(judge(
            format!("error rate <= {limit}%"),
            " %",
            limit,
            during.error_rate,
            missing,
        ));
    }
    if let Some(limit) = objectives.p99_ms {
        verdicts.push(judge(
            format!("p99 <= {limit} ms"),
            " ms",
            limit,
            during.p99_ms,
            why_p99,
        ));
    }
    verdicts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minute: i64) -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp(1_800_000_000 + minute * 60, 0).unwrap_or_default()
    }

    fn series(points: &[(i64, f64)]) -> Series {
        Series::with(points.iter().map(|(m, v)| (at(*m), *v)).collect())
    }

    #[test]
    fn figures_follow_the_phases_and_verdicts_the_objectives() {
        let window = Window {
            start: at(0),
            from: at(10),
            to: at(20),
            end: at(30),
        };
        let invocations = series(&[(5, 100.0), (12, 100.0), (15, 100.0), (25, 100.0)]);
        let errors = series(&[(12, 3.0), (15, 1.0)]);
        let p99 = series(&[(5, 120.0), (12, 700.0), (15, 900.0)]);
        let faults = series(&[(12, 50.0)]);
        let during = Figures::of(Phase::During, &window, &invocations, &errors, &p99, &faults);
        assert_eq!(during.invocations, Some(200.0));
        assert_eq!(during.error_rate, Some(2.0));
        assert_eq!(during.p99_ms, Some(900.0));
        let objectives = Objectives {
            error_rate: Some(1.0),
            p99_ms: Some(1000.0),
        };
        let said = verdicts(&objectives, &during, None, None);
        assert!(said[0].is_missed());
        assert_eq!(
            said[1],
            Verdict::Met {
                objective: "p99 <= 1000 ms".into(),
                value: 900.0,
                unit: " ms"
            }
        );
        assert_eq!(said[1].said(), "met (900.0 ms)");
        let refused = Series::missing("CloudWatch refused");
        let without_p99 = Figures::of(
            Phase::During,
            &window,
            &invocations,
            &errors,
            &refused,
            &faults,
        );
        let none = verdicts(&objectives, &without_p99, None, Some("CloudWatch refused"));
        assert!(
            matches!(&none[1], Verdict::NoData { reason, .. } if reason == "CloudWatch refused")
        );
        let after = Figures::of(
            Phase::After,
            &window,
            &invocations,
            &errors,
            &p99,
            &Series::default(),
        );
        assert_eq!(
            after.errors, None,
            "no error datapoint after: no data, not zero"
        );
    }
}
