//! Carries out a fault decided by `faultline_schema::fault`: draws it with the clock and a random
//! number, sleeps its latency and writes an audit line for every effect applied.

use crate::audit;
use faultline_schema::fault::{Answers, Fault, Terminal};
use faultline_schema::labels::Labels;
use faultline_schema::matcher::ExperimentSet;
use std::time::Duration;

/// Selects the experiments for `flag` now, with a fresh random draw.
pub fn decide(set: &ExperimentSet, flag: &str, labels: &Labels) -> Option<Fault> {
    if set.is_empty() {
        return None;
    }
    Fault::decide(set, flag, labels, chrono::Utc::now(), fastrand::f64())
}

/// Sleeps for the summed latency of the selected experiments, auditing each one.
pub async fn delay(fault: &Fault, request_id: Option<&str>, labels: &Labels) {
    let mut total = Duration::ZERO;
    for latency in fault.latencies(|max| fastrand::u64(0..=max)) {
        audit::record(
            request_id,
            &latency.experiment.name,
            fault.flag(),
            &faultline_schema::fault::AppliedEffect::Latency { ms: latency.ms },
            labels,
        );
        total = total.saturating_add(Duration::from_millis(latency.ms));
    }
    if !total.is_zero() {
        tokio::time::sleep(total).await;
    }
}

/// The first terminal effect the flag supports, audited.
pub fn terminal<'a>(
    fault: &'a Fault,
    answers: Answers,
    request_id: Option<&str>,
    labels: &Labels,
) -> Option<Terminal<'a>> {
    let (experiment, chosen, applied) = fault.terminal(answers)?;
    audit::record(request_id, &experiment.name, fault.flag(), &applied, labels);
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
        delay(&fault, Some("r"), &labels).await;
        let waited = started.elapsed();
        assert!(waited >= Duration::from_millis(150) && waited <= Duration::from_millis(160));
        assert!(matches!(
            terminal(&fault, Answers::Exception, Some("r"), &labels),
            Some(Terminal::Exception(e)) if e.message == "first"
        ));
        assert!(decide(&set, "ingress", &labels).is_none());
    }
}
