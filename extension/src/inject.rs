//! Carries out a fault decided by `faultline_schema::fault`: draws it with the clock and a random
//! number, sleeps its latency, writes an audit line for every effect applied and, with active
//! tracing, sends it to X-Ray ([`xray`]).

use crate::audit::{self, Invocation};
use crate::xray;
use faultline_schema::fault::{Answers, AppliedEffect, Fault, Terminal};
use faultline_schema::labels::Labels;
use faultline_schema::matcher::ExperimentSet;
use std::time::{Duration, SystemTime};

/// Selects the experiments for `flag` now, with a fresh random draw.
pub fn decide(set: &ExperimentSet, flag: &str, labels: &Labels) -> Option<Fault> {
    if set.is_empty() {
        return None;
    }
    Fault::decide(set, flag, labels, chrono::Utc::now(), fastrand::f64())
}

/// Sleeps for the summed latency of the selected experiments, auditing each one; with tracing,
/// each latency is a subsegment spanning its part of the delay.
pub async fn delay(fault: &Fault, invocation: Invocation<'_>, labels: &Labels) {
    let mut total = Duration::ZERO;
    let mut spans = Vec::new();
    for latency in fault.latencies(|max| fastrand::u64(0..=max)) {
        let effect = AppliedEffect::Latency { ms: latency.ms };
        audit::record(
            invocation,
            &latency.experiment.name,
            fault.flag(),
            &effect,
            labels,
        );
        total = total.saturating_add(Duration::from_millis(latency.ms));
        spans.push((latency.experiment.name.as_str(), latency.ms));
    }
    if total.is_zero() {
        return;
    }
    let started = SystemTime::now();
    tokio::time::sleep(total).await;
    let mut at = started;
    for (experiment, ms) in spans {
        let end = at + Duration::from_millis(ms);
        let effect = AppliedEffect::Latency { ms };
        xray::send(invocation.trace, experiment, fault.flag(), &effect, at, end);
        at = end;
    }
}

/// The first terminal effect the flag supports, audited (and traced, at the moment it applies).
pub fn terminal<'a>(
    fault: &'a Fault,
    answers: Answers,
    invocation: Invocation<'_>,
    labels: &Labels,
) -> Option<Terminal<'a>> {
    let (experiment, chosen, applied) = fault.terminal(answers)?;
    audit::record(invocation, &experiment.name, fault.flag(), &applied, labels);
    let now = SystemTime::now();
    xray::send(
        invocation.trace,
        &experiment.name,
        fault.flag(),
        &applied,
        now,
        now,
    );
    Some(chosen)
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_schema::config::Config;

    #[tokio::test(start_paused = true)]
    async fn latencies_are_slept_in_full() {
        let config = Config::parse_strict(
            r#"
experiments:
  - {name: a, flag: response, effect: {latency: 100}}
  - {name: b, flag: response, effect: {latency: {ms: 50, jitter: 10}, exception: first}}
"#,
        )
        .expect("valid");
        let set = ExperimentSet::compile(&config.experiments);
        let labels = Labels::new();
        let fault = decide(&set, "response", &labels).expect("all rates are 1");
        let started = tokio::time::Instant::now();
        delay(&fault, Invocation::new(Some("r"), None), &labels).await;
        let waited = started.elapsed();
        assert!(waited >= Duration::from_millis(150) && waited <= Duration::from_millis(160));
        assert!(matches!(
            terminal(&fault, Answers::Exception, Invocation::new(Some("r"), None), &labels),
            Some(Terminal::Exception(e)) if e.message == "first"
        ));
        assert!(decide(&set, "ingress", &labels).is_none());
    }
}
