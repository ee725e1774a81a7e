//! Lambda Managed Instances: one execution environment serves several invocations at once.
//! awslambdaric runs in its multi-concurrent mode (`AWS_LAMBDA_MAX_CONCURRENCY=8`: eight worker
//! processes, each with its own `/next`) against the emulator, which delivers invocations
//! concurrently. Every invocation gets its own answer, experiments select the invocations they
//! name and no others, and every answer carries its own invocation id.

use crate::emulator::{Emulator, Outcome};
use crate::start_extension;
use crate::support::{LambdaEnv, Proc};
use serde_json::{Value, json};
use std::time::Duration;

const CONCURRENCY: &str = "8";
const INVOCATIONS: usize = 24;

const EXPERIMENTS: &str = r#"
experiments:
  - name: slow-path
    flag: ingress
    selector: {path: /slow}
    effect: {latency: 300}
  - name: teapot
    flag: response
    selector: {path: /teapot}
    effect: {httpResponse: {code: 418, body: dGVhcG90}}
"#;

/// The path of invocation `n`: every third is slowed, every third answered as a teapot.
fn path_of(n: usize) -> &'static str {
    ["/slow", "/fast", "/teapot"][n % 3]
}

/// An API Gateway event whose handler sleeps 200 ms and returns the event with its request id.
fn event(n: usize) -> String {
    let path = path_of(n);
    json!({
        "op": "sleep", "ms": 200, "n": n,
        "resource": path, "path": path, "httpMethod": "GET", "headers": {},
        "requestContext": {"apiId": "api1", "stage": "prod", "httpMethod": "GET"},
        "body": null, "isBase64Encoded": false
    })
    .to_string()
}

/// Starts the extension and awslambdaric in multi-concurrent mode, and runs INVOCATIONS
/// invocations at once.
async fn run_concurrently(config: Option<&str>) -> (Emulator, Proc, Proc, Vec<Outcome>) {
    let emulator = Emulator::start().await;
    let mut env = LambdaEnv::new(&emulator.runtime_api());
    env.set("AWS_LAMBDA_MAX_CONCURRENCY", CONCURRENCY);
    if let Some(config) = config {
        env.config_file(config);
    }
    let extension = start_extension(&env, &emulator).await;
    let runtime = env.python(true);
    let outcomes = futures::future::join_all(
        (0..INVOCATIONS).map(|n| emulator.try_invoke(event(n), Duration::from_secs(30))),
    )
    .await;
    let outcomes = outcomes
        .into_iter()
        .enumerate()
        .map(|(n, outcome)| {
            outcome.unwrap_or_else(|| {
                panic!(
                    "invocation {n} unanswered:\n{}\n{}",
                    runtime.log_text(),
                    extension.log_text()
                )
            })
        })
        .collect();
    (emulator, extension, runtime, outcomes)
}

/// Checks what every concurrent run shares: each invocation got its own answer, several ran at
/// once, and no answer was refused (each carried its own invocation id).
fn check_common(emulator: &Emulator, extension: &Proc, outcomes: &[Outcome]) {
    for (n, outcome) in outcomes.iter().enumerate() {
        assert!(
            matches!(outcome, Outcome::Response { .. }),
            "{n}: {outcome:?}"
        );
        assert_eq!(outcome.json()["payload"]["n"], n, "{n}: {outcome:?}");
    }
    assert!(
        emulator.max_in_flight() >= 4,
        "the runtime ran {} invocations at once at most",
        emulator.max_in_flight()
    );
    assert_eq!(emulator.refused(), Vec::new(), "{}", extension.log_text());
}

#[tokio::test]
async fn concurrent_invocations_pass_through_untouched() {
    let (emulator, extension, _runtime, outcomes) = run_concurrently(None).await;
    check_common(&emulator, &extension, &outcomes);
    for outcome in &outcomes {
        assert!(outcome.json().get("statusCode").is_none(), "{outcome:?}");
    }
}

#[tokio::test]
async fn experiments_select_the_right_invocations_among_concurrent_ones() {
    let (emulator, extension, _runtime, outcomes) = run_concurrently(Some(EXPERIMENTS)).await;
    check_common(&emulator, &extension, &outcomes);
    for (n, outcome) in outcomes.iter().enumerate() {
        let answer = outcome.json();
        if path_of(n) == "/teapot" {
            assert_eq!(answer["statusCode"], 418, "{n}: {answer}");
            assert_eq!(answer["body"], "teapot", "{n}: {answer}");
        } else {
            assert!(answer.get("statusCode").is_none(), "{n}: {answer}");
        }
    }
    // One audit line per fault, each naming the invocation it acted on and that invocation's
    // path: the answers' request ids tell which invocation was which.
    let request_id_of = |n: usize| {
        outcomes[n].json()["request_id"]
            .as_str()
            .map(str::to_string)
    };
    let audit: Vec<Value> = extension
        .logs()
        .iter()
        .filter(|line| line.contains("\"fault-injected\""))
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    for (experiment, path) in [("slow-path", "/slow"), ("teapot", "/teapot")] {
        let mut named: Vec<String> = audit
            .iter()
            .filter(|line| line["experiment"] == experiment)
            .map(|line| {
                assert_eq!(line["labels"]["path"], path, "{line}");
                line["requestId"].as_str().unwrap_or_default().to_string()
            })
            .collect();
        named.sort();
        let mut expected: Vec<String> = (0..INVOCATIONS)
            .filter(|&n| path_of(n) == path)
            .filter_map(request_id_of)
            .collect();
        expected.sort();
        assert_eq!(named, expected, "{experiment}: {audit:?}");
    }
}
