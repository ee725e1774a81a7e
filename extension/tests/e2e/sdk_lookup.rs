//! The SDK lookup endpoint with the real Failure Flags Python SDK (PyPI `failureflags`, 1 ms
//! lookup timeout) inside a handler run by awslambdaric, and with a plain HTTP client.

use crate::emulator::Emulator;
use crate::start_extension;
use crate::support::LambdaEnv;
use faultline_extension::net::client::{full_body, new_client};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use std::time::Duration;

/// POSTs `body` to the SDK endpoint on `port` and returns the parsed answer, checking the headers
/// the SDKs insist on.
pub async fn lookup(port: &str, body: &str) -> Value {
    let request = http::Request::post(format!("http://127.0.0.1:{port}/experiment"))
        .header("content-type", "application/json")
        .body(full_body(body.to_string()))
        .expect("request");
    let response = new_client()
        .request(request)
        .await
        .expect("SDK endpoint answers");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let length: usize = response.headers()["content-length"]
        .to_str()
        .ok()
        .and_then(|v| v.parse().ok())
        .expect("content-length");
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    assert_eq!(bytes.len(), length);
    serde_json::from_slice(&bytes).expect("JSON answer")
}

const SDK_EXPERIMENTS: &str = r#"
labels: {team: payments}
experiments:
  - name: slow-db
    flag: checkout-db
    selector: {tier: gold, team: payments}
    effect: {latency: 300}
  - name: payments-down
    flag: payments-*
    selector: {tier: gold}
    rate: 0.7
    effect: {exception: {message: "payments down", errorType: ConnectionError}}
  - name: dependency-only
    flag: egress
    effect: {latency: 5000}
"#;

#[tokio::test]
async fn failureflags_sdk_gets_latency_and_exception_selected_by_labels() {
    let emulator = Emulator::start().await;
    let mut env = LambdaEnv::new(&emulator.runtime_api());
    env.config_file(SDK_EXPERIMENTS);
    let extension = start_extension(&env, &emulator).await;
    let runtime = env.python(true);
    let port = env.vars["GREMLIN_SIDECAR_PORT"].clone();

    // The answer as the SDKs read it: the rate is passed on, not applied.
    let list = lookup(&port, r#"{"name":"payments-api","labels":{"tier":"gold"}}"#).await;
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!(list[0]["rate"], 0.7);
    assert_eq!(list[0]["effect"]["exception"]["message"], "payments down");
    assert_eq!(
        lookup(&port, r#"{"name":"nothing","labels":{}}"#).await,
        json!([])
    );

    // The SDK gives up after 1 ms; on a loaded 2-core machine a lookup can miss that, so each
    // case gets a few attempts. A miss shows as `active: false`.
    let invoke_flag = async |flag: &str, tier: &str| -> Value {
        let event = json!({"op": "flag", "flag": flag, "labels": {"tier": tier}}).to_string();
        let mut last = Value::Null;
        for _ in 0..5 {
            last = emulator
                .try_invoke(event.clone(), Duration::from_secs(30))
                .await
                .unwrap_or_else(|| panic!("no answer: {}", runtime.log_text()))
                .json();
            if last["active"] == true {
                break;
            }
        }
        last
    };

    let slow = invoke_flag("checkout-db", "gold").await;
    assert_eq!(slow["active"], true, "{slow}\n{}", extension.log_text());
    assert_eq!(slow["impacted"], true, "{slow}");
    assert!(
        slow["elapsed_ms"].as_f64().unwrap_or(0.0) >= 300.0,
        "{slow}"
    );

    let other_tier = invoke_flag("checkout-db", "silver").await;
    assert_eq!(other_tier["active"], false, "{other_tier}");

    // rate 0.7 is applied by the SDK: within a few tries the exception is raised.
    let mut raised = Value::Null;
    for _ in 0..20 {
        raised = invoke_flag("payments-api", "gold").await;
        if raised.get("raised").is_some() {
            break;
        }
    }
    // ConnectionError is a Python builtin: the SDK raises it by name.
    assert_eq!(raised["raised"], "ConnectionError", "{raised}");
    assert_eq!(raised["message"], "payments down");
}
