//! The fault decided for one request at one flag: the selected experiments and the effect they
//! add up to.
//!
//! Several experiments may select the same request. Their latencies add up (each with its own
//! jitter); the first terminal effect in config order wins, and where a flag supports both, an
//! `httpResponse` is preferred to an `exception` within one experiment (it is the more specific).
//!
//! This is the decision only: the extension sleeps, answers and writes the audit line.

use crate::config::{
    AwsErrorEffect, BatchFailuresEffect, CorruptEffect, ExceptionEffect, Experiment,
    HttpResponseEffect, TimeoutEffect,
};
use crate::labels::Labels;
use crate::matcher::ExperimentSet;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::sync::Arc;

/// What was injected, as the audit line and the metrics name it.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum AppliedEffect {
    /// The request was delayed by `ms` milliseconds (jitter included).
    Latency {
        /// The delay in milliseconds.
        ms: u64,
    },
    /// The request failed with an exception.
    Exception {
        /// The exception's message.
        message: String,
        /// The exception's type (`errorType`).
        #[serde(rename = "errorType")]
        error_type: String,
    },
    /// The request was answered with a forged HTTP response.
    HttpResponse {
        /// The forged status code.
        code: u16,
    },
    /// A dependency connection closed without an answer.
    ConnectionReset,
    /// An AWS call was answered with a service error in its protocol's shape.
    AwsError {
        /// The error code.
        code: String,
        /// The HTTP status.
        status: u16,
    },
    /// The invocation was made to time out: held past its deadline, or delivered with only
    /// `buffer_ms` left.
    Timeout {
        /// The time the handler was told it had left; absent: the event was held.
        #[serde(rename = "bufferMs", skip_serializing_if = "Option::is_none")]
        buffer_ms: Option<u64>,
    },
    /// Records of the batch were reported failed, each with probability `rate`.
    BatchItemFailures {
        /// The probability per record.
        rate: f64,
    },
    /// A file filled the temporary directory while the experiment was active.
    Disk {
        /// The file's size in bytes.
        bytes: u64,
    },
    /// Memory was held while the experiment was active.
    Memory {
        /// MiB held.
        mb: u64,
    },
    /// A thread burnt a share of one CPU while the experiment was active.
    Cpu {
        /// The share, in percent.
        percent: u8,
    },
    /// The function's answer was corrupted after the handler ran.
    Corrupt {
        /// The fraction of the body kept, when it was cut.
        #[serde(skip_serializing_if = "Option::is_none")]
        truncate: Option<f64>,
        /// Whether bytes were flipped.
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        mangle: bool,
    },
}

impl AppliedEffect {
    /// Its name, as the audit line's `effect.type` spells it.
    pub fn kind(&self) -> &'static str {
        match self {
            AppliedEffect::Latency { .. } => "latency",
            AppliedEffect::Exception { .. } => "exception",
            AppliedEffect::HttpResponse { .. } => "httpResponse",
            AppliedEffect::ConnectionReset => "connectionReset",
            AppliedEffect::AwsError { .. } => "awsError",
            AppliedEffect::Timeout { .. } => "timeout",
            AppliedEffect::BatchItemFailures { .. } => "batchItemFailures",
            AppliedEffect::Disk { .. } => "disk",
            AppliedEffect::Memory { .. } => "memory",
            AppliedEffect::Cpu { .. } => "cpu",
            AppliedEffect::Corrupt { .. } => "corrupt",
        }
    }

    /// Whether it makes the call fail, as HTTP classes failures: 500 for a server-side failure
    /// (an exception, a reset, a timeout, a 5xx), 400 for a client-side one (a 4xx); None when
    /// the call still succeeds (a delay, a corruption, resource pressure).
    pub fn failure_class(&self) -> Option<u16> {
        let class = |status: u16| match status {
            400..=499 => Some(400),
            500..=599 => Some(500),
            _ => None,
        };
        match self {
            AppliedEffect::Exception { .. }
            | AppliedEffect::ConnectionReset
            | AppliedEffect::Timeout { .. } => Some(500),
            AppliedEffect::HttpResponse { code } => class(*code),
            AppliedEffect::AwsError { status, .. } => class(*status),
            AppliedEffect::BatchItemFailures { .. } => Some(400),
            AppliedEffect::Latency { .. }
            | AppliedEffect::Disk { .. }
            | AppliedEffect::Memory { .. }
            | AppliedEffect::Cpu { .. }
            | AppliedEffect::Corrupt { .. } => None,
        }
    }
}

/// What a flag can answer with besides an exception.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answers {
    /// An exception only (`ingress`, a streamed `response`).
    Exception,
    /// Also an HTTP response (`http-ingress`, `response`, dependencies).
    Http,
    /// Also an AWS service error (`aws-*` calls).
    Aws,
}

/// What ends the request instead of the normal path.
#[derive(Debug, Clone, Copy)]
pub enum Terminal<'a> {
    /// Fail with this exception.
    Exception(&'a ExceptionEffect),
    /// Answer with this HTTP response.
    HttpResponse(&'a HttpResponseEffect),
    /// Answer an AWS call with this service error.
    AwsError(&'a AwsErrorEffect),
    /// Corrupt the function's buffered answer.
    Corrupt(&'a CorruptEffect),
    /// Make the invocation time out.
    Timeout(&'a TimeoutEffect),
    /// Report records of the batch as failed.
    BatchItemFailures(&'a BatchFailuresEffect),
}

/// One latency to inject: the experiment that asks for it and the drawn delay.
#[derive(Debug, Clone)]
pub struct Latency<'a> {
    /// The experiment that asks for the delay.
    pub experiment: &'a Experiment,
    /// The delay in milliseconds, jitter included.
    pub ms: u64,
}

/// The experiments selected for one request at one flag.
#[derive(Debug, Clone)]
pub struct Fault {
    flag: String,
    experiments: Vec<Arc<Experiment>>,
}

impl Fault {
    /// Selects the experiments for `flag` at `now` with the random draw `draw` (in `0..1`).
    /// `None` when nothing applies (the common case, and allocation-free when no experiment
    /// names the flag).
    pub fn decide(
        set: &ExperimentSet,
        flag: &str,
        labels: &Labels,
        now: DateTime<Utc>,
        draw: f64,
    ) -> Option<Fault> {
        if set.is_empty() {
            return None;
        }
        let experiments = set.select(flag, labels, now, draw);
        (!experiments.is_empty()).then(|| Fault {
            flag: flag.to_string(),
            experiments,
        })
    }

    /// The flag this fault was decided for.
    pub fn flag(&self) -> &str {
        &self.flag
    }

    /// The latencies of the selected experiments, in config order. `jitter(max)` draws the
    /// extra milliseconds of one experiment in `0..=max` (called only when `max > 0`).
    pub fn latencies(&self, mut jitter: impl FnMut(u64) -> u64) -> Vec<Latency<'_>> {
        self.experiments
            .iter()
            .filter_map(|experiment| {
                let latency = experiment.effect.latency?;
                let extra = if latency.jitter_ms == 0 {
                    0
                } else {
                    jitter(latency.jitter_ms).min(latency.jitter_ms)
                };
                Some(Latency {
                    experiment,
                    ms: latency.ms.saturating_add(extra),
                })
            })
            .collect()
    }

    /// The first terminal effect among those the flag supports, with the experiment that asks
    /// for it and the effect as audited; `answers` says what the flag can answer with.
    pub fn terminal(&self, answers: Answers) -> Option<(&Experiment, Terminal<'_>, AppliedEffect)> {
        let allow_http = answers != Answers::Exception;
        self.experiments.iter().find_map(|experiment| {
            let effect = &experiment.effect;
            // awsError only on AWS calls; an HTTP answer, a partial batch failure and a
            // corruption only where the flag answers with HTTP (the schema allows the last two
            // on `response` only, and a streamed answer is not buffered); a timeout on events
            // only (the schema's rule).
            let chosen = if let (Some(error), Answers::Aws) = (&effect.aws_error, answers) {
                Terminal::AwsError(error)
            } else if let (Some(response), true) = (&effect.http_response, allow_http) {
                Terminal::HttpResponse(response)
            } else if let (Some(batch), true) = (&effect.batch_item_failures, allow_http) {
                Terminal::BatchItemFailures(batch)
            } else if let (Some(corrupt), true) = (&effect.corrupt, allow_http) {
                Terminal::Corrupt(corrupt)
            } else if let Some(timeout) = &effect.timeout {
                Terminal::Timeout(timeout)
            } else if let Some(exception) = &effect.exception {
                Terminal::Exception(exception)
            } else {
                return None;
            };
            let applied = match chosen {
                Terminal::HttpResponse(response) => AppliedEffect::HttpResponse {
                    code: response.code,
                },
                Terminal::Exception(exception) => AppliedEffect::Exception {
                    message: exception.message.clone(),
                    error_type: exception.error_type.clone(),
                },
                Terminal::AwsError(error) => AppliedEffect::AwsError {
                    code: error.code.clone(),
                    status: error.status,
                },
                Terminal::Corrupt(CorruptEffect::Truncate(fraction)) => AppliedEffect::Corrupt {
                    truncate: Some(*fraction),
                    mangle: false,
                },
                Terminal::Corrupt(CorruptEffect::Mangle) => AppliedEffect::Corrupt {
                    truncate: None,
                    mangle: true,
                },
                Terminal::Timeout(timeout) => AppliedEffect::Timeout {
                    buffer_ms: timeout.buffer_ms,
                },
                Terminal::BatchItemFailures(batch) => AppliedEffect::BatchItemFailures {
                    rate: batch.rate.value(),
                },
            };
            Some((experiment.as_ref(), chosen, applied))
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

    #[test]
    fn each_effect_names_itself_as_its_audit_line_does() {
        for effect in [
            AppliedEffect::Latency { ms: 1 },
            AppliedEffect::HttpResponse { code: 503 },
            AppliedEffect::ConnectionReset,
            AppliedEffect::Timeout { buffer_ms: None },
            AppliedEffect::Corrupt {
                truncate: Some(0.5),
                mangle: false,
            },
        ] {
            let json = serde_json::to_value(&effect).expect("json");
            assert_eq!(json["type"], effect.kind());
        }
        assert_eq!(
            AppliedEffect::HttpResponse { code: 429 }.failure_class(),
            Some(400)
        );
        assert_eq!(AppliedEffect::Latency { ms: 1 }.failure_class(), None);
    }
    use crate::config::Config;

    fn now() -> DateTime<Utc> {
        Utc::now()
    }

    #[test]
    fn latencies_add_up_and_the_first_terminal_effect_wins() {
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
        let fault = Fault::decide(&set, "response", &labels, now(), 0.0).expect("all rates are 1");
        let latencies = fault.latencies(|max| max);
        let total: u64 = latencies.iter().map(|l| l.ms).sum();
        assert_eq!(total, 160);
        assert_eq!(
            fault.latencies(|_| 0).iter().map(|l| l.ms).sum::<u64>(),
            150
        );
        // A jitter source that overshoots is clamped to the configured jitter.
        assert_eq!(
            fault
                .latencies(|_| u64::MAX)
                .iter()
                .map(|l| l.ms)
                .sum::<u64>(),
            160
        );
        match fault.terminal(Answers::Exception) {
            Some((experiment, Terminal::Exception(e), _)) => {
                assert_eq!(e.message, "first");
                assert_eq!(experiment.name, "b");
            }
            other => panic!("{other:?}"),
        }
        assert!(Fault::decide(&set, "ingress", &labels, now(), 0.0).is_none());
    }

    #[test]
    fn http_response_is_preferred_where_the_flag_supports_it() {
        let config = Config::parse_strict(
            "experiments: [{name: c, flag: egress, effect: {exception: x, httpResponse: {code: 503}}}]",
        )
        .expect("valid");
        let set = ExperimentSet::compile(&config.experiments);
        let labels = Labels::new();
        let fault = Fault::decide(&set, "egress", &labels, now(), 0.5).expect("selected");
        assert!(matches!(
            fault.terminal(Answers::Http),
            Some((_, Terminal::HttpResponse(r), AppliedEffect::HttpResponse { code: 503 })) if r.code == 503
        ));
        assert!(matches!(
            fault.terminal(Answers::Exception),
            Some((_, Terminal::Exception(_), AppliedEffect::Exception { .. }))
        ));
        assert_eq!(fault.experiment_names(), ["c"]);
        assert_eq!(fault.flag(), "egress");
    }
}
