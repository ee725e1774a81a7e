//! The fault decided for one request at one flag: the selected experiments and the effect they
//! add up to.
//!
//! Several experiments may select the same request. Their latencies add up (each with its own
//! jitter); the first terminal effect in config order wins, and where a flag supports both, an
//! `httpResponse` is preferred to an `exception` within one experiment (it is the more specific).

use crate::audit::{self, AppliedEffect};
use crate::config::{ExceptionEffect, Experiment, HttpResponseEffect};
use crate::experiment_matcher::{ExperimentSet, Labels};
use std::sync::Arc;
use std::time::Duration;

/// What ends the request instead of the normal path.
#[derive(Debug, Clone, Copy)]
pub enum Terminal<'a> {
    Exception(&'a ExceptionEffect),
    HttpResponse(&'a HttpResponseEffect),
}

#[derive(Debug, Clone)]
pub struct Fault {
    flag: String,
    experiments: Vec<Arc<Experiment>>,
}

impl Fault {
    /// Selects the experiments for `flag` now, with a fresh random draw. `None` when nothing
    /// applies (the common case, and allocation-free when no experiment names the flag).
    pub fn decide(set: &ExperimentSet, flag: &str, labels: &Labels) -> Option<Fault> {
        if set.is_empty() {
            return None;
        }
        let experiments = set.select(flag, labels, chrono::Utc::now(), fastrand::f64());
        (!experiments.is_empty()).then(|| Fault {
            flag: flag.to_string(),
            experiments,
        })
    }

    /// Sleeps for the summed latency of the selected experiments, auditing each one.
    pub async fn delay(&self, request_id: Option<&str>, labels: &Labels) {
        let mut total = Duration::ZERO;
        for experiment in &self.experiments {
            if let Some(latency) = experiment.effect.latency {
                let jitter = if latency.jitter_ms == 0 {
                    0
                } else {
                    fastrand::u64(0..=latency.jitter_ms)
                };
                let ms = latency.ms.saturating_add(jitter);
                audit::record(
                    request_id,
                    &experiment.name,
                    &self.flag,
                    &AppliedEffect::Latency { ms },
                    labels,
                );
                total += Duration::from_millis(ms);
            }
        }
        if !total.is_zero() {
            tokio::time::sleep(total).await;
        }
    }

    /// The first terminal effect among those the flag supports, audited. `allow_http` says
    /// whether the flag can answer with an HTTP response.
    pub fn terminal(
        &self,
        allow_http: bool,
        request_id: Option<&str>,
        labels: &Labels,
    ) -> Option<Terminal<'_>> {
        self.experiments.iter().find_map(|experiment| {
            let effect = &experiment.effect;
            let chosen = match (&effect.http_response, &effect.exception) {
                (Some(response), _) if allow_http => Terminal::HttpResponse(response),
                (_, Some(exception)) => Terminal::Exception(exception),
                _ => return None,
            };
            let applied = match chosen {
                Terminal::HttpResponse(response) => AppliedEffect::HttpResponse {
                    code: response.code,
                },
                Terminal::Exception(exception) => AppliedEffect::Exception {
                    message: exception.message.clone(),
                    error_type: exception.error_type.clone(),
                },
            };
            audit::record(request_id, &experiment.name, &self.flag, &applied, labels);
            Some(chosen)
        })
    }

    /// Names of the selected experiments (for debug logs).
    pub fn experiment_names(&self) -> Vec<&str> {
        self.experiments.iter().map(|e| e.name.as_str()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[tokio::test(start_paused = true)]
    async fn latencies_add_up_and_the_first_terminal_effect_wins() {
        let config = Config::parse_strict(
            r#"
experiments:
  - {name: a, flag: response, effect: {latency: 100}}
  - {name: b, flag: response, effect: {latency: {ms: 50, jitter: 10}, exception: first}}
  - {name: c, flag: response, effect: {exception: second, httpResponse: {code: 503}}}
"#,
        )
        .expect("valid");
        let set = ExperimentSet::compile(&config.experiments);
        let labels = Labels::new();
        let fault = Fault::decide(&set, "response", &labels).expect("all rates are 1");
        let started = tokio::time::Instant::now();
        fault.delay(Some("r"), &labels).await;
        let waited = started.elapsed();
        assert!(waited >= Duration::from_millis(150) && waited <= Duration::from_millis(160));
        match fault.terminal(false, Some("r"), &labels) {
            Some(Terminal::Exception(e)) => assert_eq!(e.message, "first"),
            other => panic!("{other:?}"),
        }
        assert!(Fault::decide(&set, "ingress", &labels).is_none());
    }

    #[test]
    fn http_response_is_preferred_where_the_flag_supports_it() {
        let config = Config::parse_strict(
            "experiments: [{name: c, flag: egress, effect: {exception: x, httpResponse: {code: 503}}}]",
        )
        .expect("valid");
        let set = ExperimentSet::compile(&config.experiments);
        let labels = Labels::new();
        let fault = Fault::decide(&set, "egress", &labels).expect("selected");
        assert!(matches!(
            fault.terminal(true, None, &labels),
            Some(Terminal::HttpResponse(r)) if r.code == 503
        ));
        assert!(matches!(
            fault.terminal(false, None, &labels),
            Some(Terminal::Exception(_))
        ));
        assert_eq!(fault.experiment_names(), ["c"]);
    }
}
