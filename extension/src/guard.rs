//! The guard: experiments stop themselves in an environment where the function starts failing on
//! its own while they apply, within one invocation of crossing the threshold, with no API call.
//!
//! While an experiment with a guard is in force, the Runtime API proxy reports how each
//! invocation ended: an error faultline did not inject (the runtime's own `/error`, an
//! HTTP-shaped answer with a 5xx status, an answer missing at the deadline), or not. Faults
//! faultline injected never count: its own `/error` posts do not pass through here, an answer it
//! replaced is judged as the runtime gave it, and an invocation it made time out is not tracked.
//! When, over a guard's window, at least `min_invocations` ended and the share of errors reached
//! `max_error_rate`, the experiment is suspended in this environment until its definition
//! changes ([`ConfigState::trip_guard`]), and the window starts afresh.

use crate::config::state::{ActiveConfig, ConfigState};
use chrono::{DateTime, Utc};
use faultline_schema::config::Guard;
use std::sync::{Arc, Mutex, Weak};
use std::time::Instant;

/// Slices each guard's window is counted in. Outcomes leave the window a slice at a time, so it
/// reaches back between 31/32 of its length and all of it; in exchange an outcome costs the same
/// few operations whatever the traffic (no record per invocation to keep, search or drop: at
/// 1,000 invocations a second a 60 s window held 60,000 of them).
const SLICES: usize = 32;

/// The outcomes counted in one slice of a window.
#[derive(Debug, Clone, Copy, Default)]
struct Slice {
    invocations: u32,
    errors: u32,
}

/// One guard's counts over its window: the slices and their running sums.
#[derive(Debug)]
struct Tally {
    experiment: String,
    guard: Guard,
    /// Nanoseconds per slice.
    width: u64,
    slices: [Slice; SLICES],
    /// The latest slice counted in (slices since the guardian's origin).
    latest: u64,
    invocations: u32,
    errors: u32,
}

impl Tally {
    fn new(experiment: &str, guard: Guard) -> Tally {
        let width = guard.window.as_nanos() / SLICES as u128;
        Tally {
            experiment: experiment.to_string(),
            guard,
            width: u64::try_from(width).unwrap_or(u64::MAX).max(1),
            slices: [Slice::default(); SLICES],
            latest: 0,
            invocations: 0,
            errors: 0,
        }
    }

    /// Counts one outcome `at` nanoseconds after the origin; the errors and the invocations in
    /// the window up to it.
    fn count(&mut self, at: u64, error: bool) -> (u32, u32) {
        let index = (at / self.width).max(self.latest);
        // The slots of the slices that left the window are taken by the new ones, empty.
        let moved = (index - self.latest).min(SLICES as u64);
        for step in 1..=moved {
            let slot = Self::slot(self.latest + step);
            if let Some(slice) = self.slices.get_mut(slot) {
                self.invocations = self.invocations.saturating_sub(slice.invocations);
                self.errors = self.errors.saturating_sub(slice.errors);
                *slice = Slice::default();
            }
        }
        self.latest = index;
        if let Some(slice) = self.slices.get_mut(Self::slot(index)) {
            slice.invocations = slice.invocations.saturating_add(1);
            slice.errors = slice.errors.saturating_add(u32::from(error));
            self.invocations = self.invocations.saturating_add(1);
            self.errors = self.errors.saturating_add(u32::from(error));
        }
        (self.errors, self.invocations)
    }

    fn slot(index: u64) -> usize {
        usize::try_from(index % SLICES as u64).unwrap_or(0)
    }

    fn clear(&mut self) {
        self.slices = [Slice::default(); SLICES];
        self.invocations = 0;
        self.errors = 0;
    }
}

#[derive(Debug)]
struct Window {
    /// Where slices are counted from.
    origin: Instant,
    /// The config the tallies were lined up with: one per guarded experiment, in its order.
    /// (Held weakly, so that its address is never another config's while compared.)
    config: Weak<ActiveConfig>,
    tallies: Vec<Tally>,
    /// Invocations delivered to the runtime and not answered yet: a hash of their request id
    /// and their deadline (ms since the epoch). One at a time, or a Managed Instance's few.
    pending: Vec<(u64, i64)>,
}

impl Window {
    /// Lines the tallies up with `active`'s guarded experiments: each keeps its counts while its
    /// experiment keeps the same guard; a new one (or one back after a trip) starts empty.
    fn line_up(&mut self, active: &Arc<ActiveConfig>) {
        if std::ptr::eq(self.config.as_ptr(), Arc::as_ptr(active)) {
            return;
        }
        let mut old = std::mem::take(&mut self.tallies);
        self.tallies = active
            .guarded()
            .iter()
            .map(|g| {
                match old
                    .iter()
                    .position(|t| t.experiment == g.name && t.guard == g.guard)
                {
                    Some(at) => old.swap_remove(at),
                    None => Tally::new(&g.name, g.guard),
                }
            })
            .collect();
        self.config = Arc::downgrade(active);
    }
}

/// The outcomes of this environment's invocations while guarded experiments apply.
#[derive(Debug)]
pub struct Guardian {
    state: ConfigState,
    window: Mutex<Window>,
}

/// The key of a request id in `pending`: a fast hash (the ids come from Lambda, not from
/// someone choosing collisions; a collision would only mistake one pending deadline for
/// another).
fn key(request_id: &str) -> u64 {
    use std::hash::BuildHasher;
    foldhash::fast::FixedState::with_seed(0).hash_one(request_id)
}

impl Guardian {
    pub fn new(state: ConfigState) -> Guardian {
        Guardian {
            state,
            window: Mutex::new(Window {
                origin: Instant::now(),
                config: Weak::new(),
                tallies: Vec::new(),
                pending: Vec::new(),
            }),
        }
    }

    fn window(&self) -> std::sync::MutexGuard<'_, Window> {
        self.window
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// An event was delivered to the runtime with this deadline. Invocations delivered earlier
    /// and still unanswered past their deadline timed out: each counts as an error.
    pub fn delivered(&self, request_id: &str, deadline_ms: Option<u64>) {
        let now = Utc::now();
        let now_ms = now.timestamp_millis();
        let timed_out = {
            let mut window = self.window();
            let before = window.pending.len();
            window.pending.retain(|(_, deadline)| *deadline >= now_ms);
            let timed_out = before - window.pending.len();
            if let Some(deadline) = deadline_ms {
                let deadline = i64::try_from(deadline).unwrap_or(i64::MAX);
                window.pending.push((key(request_id), deadline));
            }
            timed_out
        };
        for _ in 0..timed_out {
            self.record(true, now);
        }
    }

    /// The runtime answered invocation `request_id`: with an error of its own (`failed`), or
    /// not. An answer after the deadline is a timeout.
    pub fn ended(&self, request_id: &str, failed: bool) {
        let now = Utc::now();
        let key = key(request_id);
        let deadline = {
            let mut window = self.window();
            let found = window.pending.iter().position(|(k, _)| *k == key);
            found.map(|at| window.pending.swap_remove(at).1)
        };
        let late = deadline.is_some_and(|deadline| now.timestamp_millis() > deadline);
        self.record(failed || late, now);
    }

    /// Counts one outcome for each guarded experiment running `now` and suspends each one whose
    /// guard it trips. A guard that leaves the config leaves its counts; one that comes back
    /// (or a changed definition) starts from a clean window.
    fn record(&self, error: bool, now: DateTime<Utc>) {
        // The config as loaded (its guards), without the dead-man's clock reads: a stale
        // config applies nothing anyway.
        let Some(active) = self.state.current() else {
            return;
        };
        if active.guarded().is_empty() {
            return;
        }
        let mut window = self.window();
        window.line_up(&active);
        let at = u64::try_from(window.origin.elapsed().as_nanos()).unwrap_or(u64::MAX);
        for (tally, guarded) in window.tallies.iter_mut().zip(active.guarded()) {
            if !guarded.runs_at(now) {
                continue;
            }
            let (errors, total) = tally.count(at, error);
            let guard = guarded.guard;
            if guard.trips(errors, total)
                && self.state.trip_guard(&guarded.name, errors, total, guard)
            {
                // Should the definition come back unchanged, its guard starts afresh.
                tally.clear();
            }
        }
    }
}

/// The status of an answer that begins `{"statusCode": NNN` (as API Gateway, ALB and function
/// URL answers written by most frameworks do), read without scanning the rest of it.
fn leading_status(payload: &[u8]) -> Option<u64> {
    let rest = payload.trim_ascii_start().strip_prefix(b"{")?;
    let rest = rest.trim_ascii_start().strip_prefix(b"\"statusCode\"")?;
    let rest = rest.trim_ascii_start().strip_prefix(b":")?;
    let rest = rest.trim_ascii_start();
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    let after = rest.get(digits..)?.trim_ascii_start().first()?;
    if digits == 0 || digits > 3 || !matches!(after, b',' | b'}') {
        return None;
    }
    Some(
        rest.get(..digits)?
            .iter()
            .fold(0, |status, digit| status * 10 + u64::from(digit - b'0')),
    )
}

/// Whether an answer that begins with `start` is a server error, when `start` tells (it begins
/// `{"statusCode": NNN`); None when the whole answer must be read to tell.
pub fn judged_by_start(start: &[u8]) -> Option<bool> {
    leading_status(start).map(|status| (500..600).contains(&status))
}

/// Whether an answer is HTTP-shaped (`{"statusCode": ...}`) with a 5xx status.
pub fn is_server_error(payload: &[u8]) -> bool {
    if let Some(status) = leading_status(payload) {
        return (500..600).contains(&status);
    }
    #[derive(serde::Deserialize)]
    struct Shape {
        #[serde(rename = "statusCode")]
        status_code: Option<serde_json::Value>,
    }
    // An object only: serde would read a list positionally.
    if payload.trim_ascii_start().first() != Some(&b'{') {
        return false;
    }
    let Ok(Shape {
        status_code: Some(code),
    }) = serde_json::from_slice::<Shape>(payload)
    else {
        return false;
    };
    let code = code
        .as_u64()
        .or_else(|| code.as_str().and_then(|s| s.trim().parse().ok()));
    code.is_some_and(|c| (500..600).contains(&c))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::epoch_ms;
    use faultline_schema::config::Config;

    #[test]
    fn only_an_http_shaped_5xx_is_a_server_error() {
        assert!(is_server_error(br#"{"statusCode": 503, "body": "down"}"#));
        assert!(is_server_error(br#"{"statusCode": "500"}"#));
        assert!(!is_server_error(br#"{"statusCode": 404}"#));
        assert!(!is_server_error(br#"{"ok": true}"#));
        assert!(!is_server_error(b"not json"));
        assert!(!is_server_error(br#"[500]"#));
        // The status first (read at once), or anywhere at the top level.
        assert!(is_server_error(br#" { "statusCode" : 502 , "body": "x"}"#));
        assert!(!is_server_error(
            br#"{"statusCode":200,"body":"{\"statusCode\":500}"}"#
        ));
        assert!(is_server_error(br#"{"body":"x","statusCode":500}"#));
        assert_eq!(leading_status(br#"{"statusCode":5000}"#), None);
        // The start of an answer tells, or asks for the rest.
        assert_eq!(judged_by_start(br#"{"statusCode":503,"bo"#), Some(true));
        assert_eq!(judged_by_start(br#"{"statusCode":200,"#), Some(false));
        assert_eq!(judged_by_start(br#"{"statusCode":50"#), None);
        assert_eq!(judged_by_start(br#"{"body":"#), None);
    }

    fn guarded(yaml: &str) -> (ConfigState, Guardian) {
        let state = ConfigState::new();
        state.set(Config::parse_strict(yaml).expect("valid"));
        let guardian = Guardian::new(state.clone());
        (state, guardian)
    }

    #[test]
    fn the_guard_suspends_at_its_rate_and_a_new_definition_rearms_it() {
        let yaml = "experiments:\n  - {name: slow, flag: ingress, guard: {max_error_rate: 50%, min_invocations: 4}, effect: {latency: 10}}\n";
        let (state, guardian) = guarded(yaml);
        for (i, failed) in [false, true, false].into_iter().enumerate() {
            guardian.ended(&format!("r{i}"), failed);
        }
        assert!(state.in_force().expect("config").experiments.len() == 1);
        guardian.ended("r3", true);
        assert_eq!(
            state.in_force().expect("config").experiments.len(),
            0,
            "2 of 4 failed: suspended"
        );
        assert_eq!(state.halted().len(), 1);
        // The same definition read again stays suspended; a changed one runs again.
        state.set(Config::parse_strict(yaml).expect("valid"));
        assert_eq!(state.in_force().expect("config").experiments.len(), 0);
        state
            .set(Config::parse_strict(&yaml.replace("latency: 10", "latency: 20")).expect("valid"));
        assert_eq!(state.in_force().expect("config").experiments.len(), 1);
        guardian.ended("r4", true);
        assert_eq!(
            state.in_force().expect("config").experiments.len(),
            1,
            "re-armed with a clean window"
        );
    }

    #[test]
    fn an_answer_missing_at_the_deadline_is_an_error() {
        let (state, guardian) = guarded(
            "experiments:\n  - {name: slow, flag: ingress, guard: {max_error_rate: 100%, min_invocations: 1}, effect: {latency: 10}}\n",
        );
        guardian.delivered("late", Some(epoch_ms().saturating_sub(1)));
        guardian.delivered("next", Some(epoch_ms() + 60_000));
        assert!(state.in_force().expect("config").experiments.is_empty());
    }

    #[test]
    fn outcomes_older_than_the_window_do_not_count() {
        let (state, guardian) = guarded(
            "experiments:\n  - {name: slow, flag: ingress, guard: {max_error_rate: 100%, min_invocations: 2, window: 1s}, effect: {latency: 10}}\n",
        );
        guardian.ended("r0", true);
        std::thread::sleep(std::time::Duration::from_millis(1100));
        guardian.ended("r1", true);
        assert_eq!(
            state.in_force().expect("config").experiments.len(),
            1,
            "one error in the window"
        );
        guardian.ended("r2", true);
        assert!(state.in_force().expect("config").experiments.is_empty());
    }

    #[test]
    fn a_window_forgets_its_oldest_slice_whole() {
        let second = 1_000_000_000u64;
        let guard = Guard {
            max_error_rate: faultline_schema::config::Rate::new(0.5).expect("rate"),
            min_invocations: 1,
            window: std::time::Duration::from_secs(SLICES as u64),
        };
        let mut tally = Tally::new("slow", guard);
        assert_eq!(tally.count(0, true), (1, 1));
        assert_eq!(tally.count(second / 2, false), (1, 2), "the same slice");
        // The first slice still counts until a whole window has passed since it began.
        assert_eq!(tally.count(31 * second + second / 2, false), (1, 3));
        assert_eq!(
            tally.count(32 * second, false),
            (0, 2),
            "the first slice left whole"
        );
        // A slot is reused for a later slice with fresh counts, however long the gap.
        assert_eq!(tally.count(1_000 * second, true), (1, 1));
        tally.clear();
        assert_eq!(tally.count(1_000 * second, false), (0, 1));
    }

    #[test]
    fn without_a_guard_nothing_is_suspended() {
        let (state, guardian) =
            guarded("experiments:\n  - {name: slow, flag: ingress, effect: {latency: 10}}\n");
        for i in 0..50 {
            guardian.ended(&format!("r{i}"), true);
        }
        assert_eq!(state.in_force().expect("config").experiments.len(), 1);
    }
}
