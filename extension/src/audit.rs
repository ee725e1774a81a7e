//! The audit trail: every injected fault is one JSON line on stderr (CloudWatch keeps it), with
//! the request id, the experiment, the flag, the effect and the labels it matched. Each line is
//! also a CloudWatch Embedded Metric Format document, so CloudWatch turns it into metrics with
//! no API call: namespace `faultline`, `FaultsInjected` by `[experiment]` and by
//! `[function-name, flag]` (and by `[aws_service, operation]` for AWS calls);
//! `ExperimentHalted` by `[experiment]` when a stop alarm halts one, and
//! `ExperimentsSuspended` by `[function-name]` when the config goes stale; and
//! `ExperimentGuardTripped` by `[experiment]` and `[function-name]` when a guard suspends one.

use faultline_schema::fault::AppliedEffect;
use faultline_schema::labels::Labels;
use serde::Serialize;
use serde_json::{Value, json};
use std::io::Write;

/// The CloudWatch namespace of faultline's metrics.
pub const NAMESPACE: &str = "faultline";

/// The invocation a fault belongs to, when it is known: its request id and its trace header
/// (`Lambda-Runtime-Trace-Id`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Invocation<'a> {
    pub request_id: Option<&'a str>,
    pub trace: Option<&'a str>,
}

impl<'a> Invocation<'a> {
    /// The invocation `request_id`, with its trace header when there is one.
    pub fn new(request_id: Option<&'a str>, trace: Option<&'a str>) -> Invocation<'a> {
        Invocation { request_id, trace }
    }
}

#[derive(Serialize)]
struct AuditLine<'a> {
    #[serde(rename = "_aws")]
    aws: Value,
    faultline: &'static str,
    #[serde(rename = "requestId")]
    request_id: Option<&'a str>,
    /// The X-Ray trace id of the invocation, when it came with one.
    #[serde(rename = "traceId", skip_serializing_if = "Option::is_none")]
    trace_id: Option<&'a str>,
    experiment: &'a str,
    flag: &'a str,
    #[serde(rename = "function-name")]
    function_name: &'a str,
    effect: &'a AppliedEffect,
    labels: &'a Labels,
    /// The AWS service and operation of an AWS call, as fields (and EMF dimensions) of their own.
    #[serde(skip_serializing_if = "Option::is_none")]
    aws_service: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    operation: Option<&'a str>,
    #[serde(rename = "FaultsInjected")]
    faults_injected: u32,
}

/// Milliseconds since the epoch, now (EMF timestamps, invocation deadlines).
pub fn epoch_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The `_aws` block of an EMF document: one metric (a count) with the given dimension sets.
fn metadata(metric: &str, dimensions: &[&[&str]]) -> Value {
    json!({
        "Timestamp": epoch_ms(),
        "CloudWatchMetrics": [{
            "Namespace": NAMESPACE,
            "Dimensions": dimensions,
            "Metrics": [{"Name": metric, "Unit": "Count"}],
        }],
    })
}

/// The function name among the labels, as a dimension value.
fn function_name(labels: &Labels) -> &str {
    labels
        .get("function-name")
        .map_or("unknown", String::as_str)
}

/// Formats one audit line (without the newline).
pub fn line(
    invocation: Invocation<'_>,
    experiment: &str,
    flag: &str,
    effect: &AppliedEffect,
    labels: &Labels,
) -> String {
    let aws_service = labels.get("aws_service").map(String::as_str);
    let operation = labels.get("operation").map(String::as_str);
    let dimensions: &[&[&str]] = if aws_service.is_some() && operation.is_some() {
        &[
            &["experiment"],
            &["function-name", "flag"],
            &["aws_service", "operation"],
        ]
    } else {
        &[&["experiment"], &["function-name", "flag"]]
    };
    let entry = AuditLine {
        aws: metadata("FaultsInjected", dimensions),
        faultline: "fault-injected",
        request_id: invocation.request_id,
        trace_id: invocation.trace.and_then(crate::xray::trace_id),
        experiment,
        flag,
        function_name: function_name(labels),
        effect,
        labels,
        aws_service,
        operation,
        faults_injected: 1,
    };
    // Serialising plain strings and numbers cannot fail.
    serde_json::to_string(&entry).unwrap_or_default()
}

/// The line for an experiment halted by a stop alarm.
pub fn halted_line(experiment: &str, reason: &str, function: &str) -> String {
    json!({
        "_aws": metadata("ExperimentHalted", &[&["experiment"]]),
        "faultline": "experiment-halted",
        "experiment": experiment,
        "function-name": function,
        "reason": reason,
        "ExperimentHalted": 1,
    })
    .to_string()
}

/// The line for every experiment suspended because the config went stale.
pub fn suspended_line(reason: &str, function: &str) -> String {
    json!({
        "_aws": metadata("ExperimentsSuspended", &[&["function-name"]]),
        "faultline": "experiments-suspended",
        "function-name": function,
        "reason": reason,
        "ExperimentsSuspended": 1,
    })
    .to_string()
}

/// The line for an experiment its guard suspended in this environment: the error rate seen and
/// the counts it is made of.
pub fn guard_tripped_line(
    experiment: &str,
    function: &str,
    reason: &str,
    error_rate: f64,
    (errors, invocations): (u32, u32),
) -> String {
    json!({
        "_aws": metadata("ExperimentGuardTripped", &[&["experiment"], &["function-name"]]),
        "faultline": "guard-tripped",
        "experiment": experiment,
        "function-name": function,
        "reason": reason,
        "errorRate": error_rate,
        "errors": errors,
        "invocations": invocations,
        "ExperimentGuardTripped": 1,
    })
    .to_string()
}

/// Writes one line to stderr in a single write, so lines never interleave.
pub fn write_line(mut text: String) {
    text.push('\n');
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// Writes one audit line for an injected fault.
pub fn record(
    invocation: Invocation<'_>,
    experiment: &str,
    flag: &str,
    effect: &AppliedEffect,
    labels: &Labels,
) {
    write_line(line(invocation, experiment, flag, effect, labels));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An EMF document as CloudWatch reads it: the `_aws` block, and every dimension and metric
    /// it names present at the top level.
    pub(crate) fn assert_emf(text: &str, metric: &str) -> Value {
        let value: Value = serde_json::from_str(text).expect("json");
        let aws = &value["_aws"];
        assert!(aws["Timestamp"].as_u64().is_some_and(|t| t > 0), "{text}");
        let directive = &aws["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], NAMESPACE);
        for set in directive["Dimensions"].as_array().expect("dimension sets") {
            for key in set.as_array().expect("a set") {
                let key = key.as_str().expect("a name");
                assert!(value[key].is_string(), "dimension {key} missing: {text}");
            }
        }
        assert_eq!(directive["Metrics"][0]["Name"], metric);
        assert_eq!(directive["Metrics"][0]["Unit"], "Count");
        assert_eq!(value[metric], 1, "{text}");
        value
    }

    #[test]
    fn one_emf_document_per_fault() {
        let labels: Labels = [("function-name".to_string(), "checkout".to_string())].into();
        let text = line(
            Invocation::new(
                Some("req-1"),
                Some("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"),
            ),
            "slow",
            "ingress",
            &AppliedEffect::Latency { ms: 20 },
            &labels,
        );
        let value = assert_emf(&text, "FaultsInjected");
        assert_eq!(value["faultline"], "fault-injected");
        assert_eq!(value["requestId"], "req-1");
        assert_eq!(value["traceId"], "1-5759e988-bd862e3fe1be46a994272793");
        assert_eq!(value["experiment"], "slow");
        assert_eq!(value["flag"], "ingress");
        assert_eq!(value["function-name"], "checkout");
        assert_eq!(value["effect"]["type"], "latency");
        assert_eq!(value["effect"]["ms"], 20);
        assert_eq!(value["labels"]["function-name"], "checkout");
        assert_eq!(
            value["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["experiment"], ["function-name", "flag"]])
        );
        assert!(!text.contains('\n'));
    }

    #[test]
    fn a_tripped_guard_is_a_metric_with_its_rate() {
        let line = guard_tripped_line("slow", "checkout", "guard: 6 of 10", 0.6, (6, 10));
        let value = assert_emf(&line, "ExperimentGuardTripped");
        assert_eq!(value["errorRate"], 0.6);
        assert_eq!(value["errors"], 6);
        assert_eq!(value["invocations"], 10);
        assert_eq!(value["faultline"], "guard-tripped");
    }

    #[test]
    fn halts_and_suspensions_are_metrics_too() {
        let halted = assert_emf(
            &halted_line("slow", "alarm orders-5xx is ALARM", "checkout"),
            "ExperimentHalted",
        );
        assert_eq!(halted["reason"], "alarm orders-5xx is ALARM");
        let suspended = assert_emf(
            &suspended_line("config not read for 5m", "checkout"),
            "ExperimentsSuspended",
        );
        assert_eq!(suspended["function-name"], "checkout");
    }
}
