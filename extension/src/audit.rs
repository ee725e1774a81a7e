//! The audit trail: every injected fault is one JSON line on stderr (CloudWatch keeps it), with
//! the request id, the experiment, the flag, the effect and the labels it matched.

use faultline_schema::fault::AppliedEffect;
use faultline_schema::labels::Labels;
use serde::Serialize;
use std::io::Write;

#[derive(Serialize)]
struct AuditLine<'a> {
    faultline: &'static str,
    #[serde(rename = "requestId")]
    request_id: Option<&'a str>,
    experiment: &'a str,
    flag: &'a str,
    effect: &'a AppliedEffect,
    labels: &'a Labels,
}

/// Formats one audit line (without the newline).
pub fn line(
    request_id: Option<&str>,
    experiment: &str,
    flag: &str,
    effect: &AppliedEffect,
    labels: &Labels,
) -> String {
    let entry = AuditLine {
        faultline: "fault-injected",
        request_id,
        experiment,
        flag,
        effect,
        labels,
    };
    // Serialising plain strings and numbers cannot fail.
    serde_json::to_string(&entry).unwrap_or_default()
}

/// Writes one audit line to stderr in a single write, so lines never interleave.
pub fn record(
    request_id: Option<&str>,
    experiment: &str,
    flag: &str,
    effect: &AppliedEffect,
    labels: &Labels,
) {
    let mut text = line(request_id, experiment, flag, effect, labels);
    text.push('\n');
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_json_object_per_fault() {
        let labels: Labels = [("function-name".to_string(), "checkout".to_string())].into();
        let text = line(
            Some("req-1"),
            "slow",
            "ingress",
            &AppliedEffect::Latency { ms: 20 },
            &labels,
        );
        let value: serde_json::Value = serde_json::from_str(&text).expect("json");
        assert_eq!(value["requestId"], "req-1");
        assert_eq!(value["experiment"], "slow");
        assert_eq!(value["effect"]["type"], "latency");
        assert_eq!(value["effect"]["ms"], 20);
        assert_eq!(value["labels"]["function-name"], "checkout");
        assert!(!text.contains('\n'));
    }
}
