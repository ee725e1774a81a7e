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

use crate::audit::epoch_ms;
use crate::config::state::ConfigState;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Instant;

#[derive(Debug, Default)]
struct Window {
    /// When each invocation ended, in order, with the errors counted before it: the errors of
    /// any stretch up to now are a difference, its start found by a binary search on time.
    outcomes: VecDeque<(Instant, u64)>,
    /// Errors counted since the window began.
    errors: u64,
    /// Invocations delivered to the runtime and not answered yet, by a hash of their request
    /// id: their deadline (ms since the epoch).
    pending: HashMap<u64, u64>,
}

/// The outcomes of this environment's invocations while guarded experiments apply.
#[derive(Debug)]
pub struct Guardian {
    state: ConfigState,
    window: Mutex<Window>,
}

/// The key of a request id in `pending` (no allocation per invocation).
fn key(request_id: &str) -> u64 {
    use std::hash::{BuildHasher, BuildHasherDefault};
    BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default().hash_one(request_id)
}

impl Guardian {
    pub fn new(state: ConfigState) -> Guardian {
        Guardian {
            state,
            window: Mutex::new(Window::default()),
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
        let now = epoch_ms();
        let timed_out = {
            let mut window = self.window();
            let before = window.pending.len();
            window.pending.retain(|_, deadline| *deadline >= now);
            let timed_out = before - window.pending.len();
            if let Some(deadline) = deadline_ms {
                window.pending.insert(key(request_id), deadline);
            }
            timed_out
        };
        for _ in 0..timed_out {
            self.record(true);
        }
    }

    /// The runtime answered invocation `request_id`: with an error of its own (`failed`), or
    /// not. An answer after the deadline is a timeout.
    pub fn ended(&self, request_id: &str, failed: bool) {
        let deadline = self.window().pending.remove(&key(request_id));
        let late = deadline.is_some_and(|deadline| epoch_ms() > deadline);
        self.record(failed || late);
    }

    /// Records one outcome and suspends each guarded experiment whose guard it trips. Outcomes
    /// older than the longest window in force are forgotten.
    fn record(&self, error: bool) {
        let now = Instant::now();
        // The config as loaded (its guards), without the dead-man's clock reads: a stale
        // config applies nothing anyway.
        let Some(active) = self.state.current() else {
            return;
        };
        let guards: Vec<(&str, faultline_schema::config::Guard)> =
            active.guards(chrono::Utc::now()).collect();
        let longest = guards
            .iter()
            .map(|(_, g)| g.window)
            .max()
            .unwrap_or_default();
        let mut window = self.window();
        let before = window.errors;
        window.outcomes.push_back((now, before));
        window.errors += u64::from(error);
        let errors = window.errors;
        while window
            .outcomes
            .front()
            .is_some_and(|(at, _)| now.duration_since(*at) > longest)
        {
            window.outcomes.pop_front();
        }
        let mut tripped = false;
        for (name, guard) in guards {
            let first = window
                .outcomes
                .partition_point(|(at, _)| now.duration_since(*at) > guard.window);
            let total = window.outcomes.len() - first;
            let counted_before = window.outcomes.get(first).map_or(errors, |(_, e)| *e);
            let in_window = errors.saturating_sub(counted_before);
            let (in_window, total) = (
                u32::try_from(in_window).unwrap_or(u32::MAX),
                u32::try_from(total).unwrap_or(u32::MAX),
            );
            if guard.trips(in_window, total) {
                tripped |= self.state.trip_guard(name, in_window, total, guard);
            }
        }
        if tripped {
            // A re-armed guard (a changed definition) starts from a clean window.
            window.outcomes.clear();
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
    std::str::from_utf8(rest.get(..digits)?).ok()?.parse().ok()
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
    fn without_a_guard_nothing_is_suspended() {
        let (state, guardian) =
            guarded("experiments:\n  - {name: slow, flag: ingress, effect: {latency: 10}}\n");
        for i in 0..50 {
            guardian.ended(&format!("r{i}"), true);
        }
        assert_eq!(state.in_force().expect("config").experiments.len(), 1);
    }
}
