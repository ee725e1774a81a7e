//! An experiment as the Failure Flags SDKs read it: the JSON the SDK endpoint answers with and
//! `deployer experiment list --json` prints.

use crate::config::Experiment;
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
