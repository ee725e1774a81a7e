//! An experiment as the Failure Flags SDKs read it: the JSON the SDK endpoint answers with and
//! `deployer experiment list --json` prints (with faultline's own effects beside the SDKs').

use crate::config::{CorruptEffect, Experiment};
use base64::Engine as _;
use serde_json::{Map, Value, json};

/// An experiment as the Failure Flags SDKs read it: `rate` in 0..1, `effect.latency` as
/// `{ms, jitter}`, `effect.exception` as `{message, errorType, name}` (`name` is the
/// cross-language key the SDKs use for the exception type).
pub fn sdk_view(experiment: &Experiment) -> Value {
    let mut effect = Map::new();
    if let Some(latency) = experiment.effect.latency {
        effect.insert(
            "latency".into(),
            json!({"ms": latency.ms, "jitter": latency.jitter_ms}),
        );
    }
    if let Some(exception) = &experiment.effect.exception {
        effect.insert(
            "exception".into(),
            json!({
                "message": exception.message,
                "errorType": exception.error_type,
                "name": exception.error_type,
            }),
        );
    }
    if let Some(response) = &experiment.effect.http_response {
        effect.insert(
            "httpResponse".into(),
            json!({
                "code": response.code,
                "body": base64::engine::general_purpose::STANDARD.encode(&response.body),
                "headers": response.headers,
            }),
        );
    }
    // faultline's own effects, on flags no SDK looks up (the schema keeps them there), shown for
    // `experiment list`.
    if let Some(error) = &experiment.effect.aws_error {
        effect.insert(
            "awsError".into(),
            json!({"code": error.code, "message": error.message, "status": error.status}),
        );
    }
    if let Some(corrupt) = experiment.effect.corrupt {
        let corrupt = match corrupt {
            CorruptEffect::Truncate(fraction) => json!({"truncate": fraction}),
            CorruptEffect::Mangle => json!({"mangle": true}),
        };
        effect.insert("corrupt".into(), corrupt);
    }
    if let Some(timeout) = experiment.effect.timeout {
        let timeout = match timeout.buffer_ms {
            Some(ms) => json!({"buffer_ms": ms}),
            None => json!({}),
        };
        effect.insert("timeout".into(), timeout);
    }
    if let Some(batch) = experiment.effect.batch_item_failures {
        effect.insert(
            "batchItemFailures".into(),
            json!({"rate": batch.rate.value()}),
        );
    }
    let mut view = json!({
        "name": experiment.name,
        "guid": experiment.name,
        "flag": experiment.flag,
        "selector": experiment.selector,
        "rate": experiment.rate.value(),
        "effect": effect,
    });
    if let Some(start) = experiment.start {
        view["start"] = json!(start.to_rfc3339());
    }
    if let Some(end) = experiment.end {
        view["end"] = json!(end.to_rfc3339());
    }
    view
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn faultlines_own_effects_are_shown_beside_the_sdks() {
        let config = Config::parse_strict(
            "experiments:\n\
             - {name: a, flag: aws-dynamodb, effect: {awsError: {code: ThrottlingException}}}\n\
             - {name: b, flag: response, effect: {corrupt: {truncate: 0.5}, latency: 5}}\n\
             - {name: c, flag: ingress, effect: {timeout: {}}}\n\
             - {name: d, flag: response, effect: {batchItemFailures: {rate: 0.25}}}\n",
        )
        .expect("valid");
        let effects: Vec<Value> = config
            .experiments
            .iter()
            .map(|e| sdk_view(e)["effect"].clone())
            .collect();
        assert_eq!(
            effects,
            [
                json!({"awsError": {"code": "ThrottlingException", "message": "ThrottlingException injected by faultline", "status": 400}}),
                json!({"latency": {"ms": 5, "jitter": 0}, "corrupt": {"truncate": 0.5}}),
                json!({"timeout": {}}),
                json!({"batchItemFailures": {"rate": 0.25}}),
            ]
        );
    }
}
