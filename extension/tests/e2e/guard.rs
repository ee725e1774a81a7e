//! The guard through the real extension, wrapper and awslambdaric: a function that fails on its
//! own under an experiment stops the experiment in its environment within one invocation, an
//! injected exception never does, and a changed definition re-arms it.

use crate::emulator::{Emulator, Outcome};
use crate::start_extension;
use crate::support::{LambdaEnv, Proc, invoke_or_show};
use serde_json::{Value, json};
use std::time::Duration;

fn lines(extension: &Proc, kind: &str) -> Vec<Value> {
    extension
        .logs()
        .iter()
        .filter(|line| line.contains(&format!("\"faultline\":\"{kind}\"")))
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect()
}

async fn invoke(emulator: &Emulator, runtime: &Proc, extension: &Proc, event: Value) -> Outcome {
    invoke_or_show(
        emulator,
        runtime,
        extension,
        event.to_string(),
        Duration::from_secs(30),
    )
    .await
}

const GUARDED: &str = "refresh_interval: 1s
guard: {max_error_rate: 50%, min_invocations: 4}
experiments:
  - {name: slow-orders, flag: ingress, effect: {latency: 20}}
";

#[tokio::test]
async fn a_function_failing_on_its_own_trips_the_guard_and_an_edit_rearms_it() {
    let emulator = Emulator::start().await;
    let mut env = LambdaEnv::new(&emulator.runtime_api());
    env.config_file(GUARDED);
    let config = env.temp_path("faultline.yaml");
    let extension = start_extension(&env, &emulator).await;
    let runtime = env.python(true);
    let injected = || lines(&extension, "fault-injected").len();

    // Two answered, then one error of its own and one HTTP-shaped 503: 2 of 4, the threshold.
    for event in [
        json!({"op": "echo"}),
        json!({"op": "echo"}),
        json!({"op": "fail"}),
    ] {
        invoke(&emulator, &runtime, &extension, event).await;
    }
    assert_eq!(injected(), 3, "{}", extension.log_text());
    assert!(lines(&extension, "guard-tripped").is_empty());
    let outcome = invoke(
        &emulator,
        &runtime,
        &extension,
        json!({"op": "echo", "statusCode": 503}),
    )
    .await;
    assert_eq!(outcome.json()["statusCode"], 503);
    assert_eq!(injected(), 4);
    let tripped = lines(&extension, "guard-tripped");
    assert_eq!(tripped.len(), 1, "{}", extension.log_text());
    assert_eq!(tripped[0]["experiment"], "slow-orders");
    assert_eq!(tripped[0]["errorRate"], 0.5);
    assert_eq!(
        tripped[0]["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"],
        "ExperimentGuardTripped"
    );
    assert_eq!(tripped[0]["ExperimentGuardTripped"], 1);

    // The very next invocation gets no fault, nor any after it.
    for _ in 0..3 {
        invoke(&emulator, &runtime, &extension, json!({"op": "echo"})).await;
    }
    assert_eq!(injected(), 4, "{}", extension.log_text());

    // A changed definition re-arms it: the fault applies again.
    std::fs::write(&config, GUARDED.replace("latency: 20", "latency: 25")).expect("config");
    assert!(
        extension
            .wait_log("experiment(s)", Duration::from_secs(10))
            .await
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while injected() == 4 && std::time::Instant::now() < deadline {
        invoke(&emulator, &runtime, &extension, json!({"op": "echo"})).await;
    }
    assert!(injected() > 4, "{}", extension.log_text());
}

#[tokio::test]
async fn injected_exceptions_alone_never_trip_it() {
    let emulator = Emulator::start().await;
    let mut env = LambdaEnv::new(&emulator.runtime_api());
    env.config_file(
        "guard: {max_error_rate: 10%, min_invocations: 2}
experiments:
  - {name: down, flag: ingress, selector: {event-source: sqs}, effect: {exception: {message: injected, errorType: Injected}}}
  - {name: lost, flag: response, selector: {event-source: direct}, effect: {exception: {message: lost, errorType: Lost}}}
",
    );
    let extension = start_extension(&env, &emulator).await;
    let runtime = env.python(true);
    let sqs = json!({"op": "echo", "Records": [{"eventSource": "aws:sqs", "messageId": "m1"}]});
    for round in 0..6 {
        // Before the handler (ingress), then after it (the runtime's answer replaced).
        let (event, expected) = if round % 2 == 0 {
            (sqs.clone(), "Injected")
        } else {
            (json!({"op": "echo"}), "Lost")
        };
        let outcome = invoke(&emulator, &runtime, &extension, event).await;
        let Outcome::Error { error_type, .. } = outcome else {
            panic!("answered: {}", extension.log_text());
        };
        assert_eq!(error_type.as_deref(), Some(expected));
    }
    assert!(
        lines(&extension, "guard-tripped").is_empty(),
        "{}",
        extension.log_text()
    );
    assert_eq!(lines(&extension, "fault-injected").len(), 6);
}
