//! The nodejs24.x runtime's client: Node.js 24 with aws-lambda-ric 4.0.2 (both from the npm
//! registry, `scripts/node-runtime.sh`), started through `faultline-wrapper` as Lambda starts
//! it with `AWS_LAMBDA_EXEC_WRAPPER`. Pass-through, an ingress exception, a response
//! replacement and a handler's own error, then the client's multi-concurrent mode (Managed
//! Instances). aws-lambda-ric 4.0.2 does not echo `Lambda-Runtime-Invocation-Id` (the Python,
//! Java and .NET clients do), so the emulator takes answers without it, as Lambda must for it;
//! faultline's own answers still carry it, and a wrong one would be refused.

use crate::emulator::{Emulator, Outcome};
use crate::start_extension;
use crate::support::{LambdaEnv, Proc, invoke_or_show};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const EXPERIMENTS: &str = r#"
experiments:
  - name: queue-down
    flag: ingress
    selector: {event-source: sqs}
    effect: {exception: {message: "queue consumer down", errorType: IngressDown}}
  - name: teapot
    flag: response
    selector: {path: /teapot}
    effect: {httpResponse: {code: 418, body: dGVhcG90}}
"#;

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

fn answer(outcome: &Outcome) -> Value {
    match outcome {
        Outcome::Response { body, .. } => serde_json::from_slice(body).expect("a JSON answer"),
        other => panic!("expected a response, got {other:?}"),
    }
}

#[tokio::test]
async fn node24_with_aws_lambda_ric_through_the_wrapper() {
    let emulator = Emulator::start().await;
    emulator.accept_answers_without_invocation_id();
    let mut env = LambdaEnv::new(&emulator.runtime_api());
    env.config_file(EXPERIMENTS);
    let extension = start_extension(&env, &emulator).await;
    let runtime = env.node(true);

    // Pass-through: the handler's answer as it gave it, from Node 24.
    let outcome = invoke(&emulator, &runtime, &extension, json!({"n": 1})).await;
    let body = answer(&outcome);
    assert_eq!(body["echo"], json!({"n": 1}));
    assert!(
        body["node"].as_str().is_some_and(|v| v.starts_with("v24.")),
        "{body}"
    );

    // An ingress exception: faultline answers /error itself; the handler never sees the event.
    let sqs = json!({"Records": [{"eventSource": "aws:sqs", "body": "order-1"}]});
    match invoke(&emulator, &runtime, &extension, sqs).await {
        Outcome::Error { error_type, .. } => {
            assert_eq!(error_type.as_deref(), Some("IngressDown"));
        }
        other => panic!("expected the injected error, got {other:?}"),
    }

    // A response replacement: the handler ran, its answer became a 418.
    let teapot = json!({
        "resource": "/teapot", "path": "/teapot", "httpMethod": "GET", "headers": {},
        "requestContext": {"apiId": "api1", "stage": "prod", "httpMethod": "GET"},
        "body": null, "isBase64Encoded": false
    });
    let replaced = answer(&invoke(&emulator, &runtime, &extension, teapot).await);
    assert_eq!(replaced["statusCode"], 418);
    assert_eq!(replaced["body"], "teapot");

    // The handler's own error passes through as aws-lambda-ric reported it.
    match invoke(&emulator, &runtime, &extension, json!({"op": "throw"})).await {
        Outcome::Error { error_type, .. } => {
            assert_eq!(error_type.as_deref(), Some("TypeError"));
        }
        other => panic!("expected the handler's error, got {other:?}"),
    }

    // And the runtime carries on.
    let body = answer(&invoke(&emulator, &runtime, &extension, json!({"n": 2})).await);
    assert_eq!(body["echo"], json!({"n": 2}));
    assert!(
        emulator.refused().is_empty(),
        "answers refused: {:?}",
        emulator.refused()
    );
}

/// aws-lambda-ric's multi-concurrent mode (`AWS_LAMBDA_MAX_CONCURRENCY`), as on Managed
/// Instances: eight invocations at once, each answered with its own event.
#[tokio::test]
async fn node24_multi_concurrent_invocations_each_get_their_own_answer() {
    const INVOCATIONS: u64 = 8;
    let emulator = Emulator::start().await;
    emulator.accept_answers_without_invocation_id();
    let mut env = LambdaEnv::new(&emulator.runtime_api());
    env.set("AWS_LAMBDA_MAX_CONCURRENCY", "4");
    env.config_file("experiments: []\n");
    let extension = start_extension(&env, &emulator).await;
    let runtime = env.node(true);
    // A first invocation, so the runtime is up before the clock starts.
    let _ = invoke(&emulator, &runtime, &extension, json!({"n": 0})).await;
    let started = Instant::now();
    let outcomes = futures::future::join_all((1..=INVOCATIONS).map(|n| {
        invoke(
            &emulator,
            &runtime,
            &extension,
            json!({"op": "sleep", "ms": 400, "n": n}),
        )
    }))
    .await;
    let elapsed = started.elapsed();
    for (n, outcome) in (1..=INVOCATIONS).zip(&outcomes) {
        assert_eq!(answer(outcome)["echo"]["n"], n, "{outcome:?}");
    }
    // Eight handlers of 400 ms one after the other would take 3.2 s.
    assert!(
        elapsed < Duration::from_millis(2400),
        "the invocations did not run concurrently: {elapsed:?}"
    );
}

/// Node 24 honours `HTTP_PROXY` once `NODE_USE_ENV_PROXY=1` is set, as `deployer enable` sets
/// it for Node.js functions, so its requests reach the dependency proxy. `http.get` sends a plain
/// HTTP request in absolute form (every selector applies); `fetch` (undici's proxy agent)
/// tunnels even plain HTTP through CONNECT, so only host and port selectors can match it and a
/// fault refuses the tunnel.
#[tokio::test]
async fn node24_http_and_fetch_reach_the_dependency_proxy_with_node_use_env_proxy() {
    let emulator = Emulator::start().await;
    emulator.accept_answers_without_invocation_id();
    let mut env = LambdaEnv::new(&emulator.runtime_api());
    let open = crate::dependency_proxy::http_upstream().await;
    let refused = crate::dependency_proxy::http_upstream().await;
    env.config_file(&format!(
        r#"
experiments:
  - name: throttled
    flag: dependency-127.0.0.1
    selector: {{path: /forged}}
    effect: {{httpResponse: {{code: 429, body: c2xvdyBkb3du}}}}
  - name: no-tunnel
    flag: dependency-127.0.0.1
    selector: {{port: "{refused}"}}
    effect: {{httpResponse: {{code: 503}}}}
"#
    ));
    let proxy = env.dependency_proxy_url();
    env.set("HTTP_PROXY", proxy.clone())
        .set("HTTPS_PROXY", proxy)
        .set("NODE_USE_ENV_PROXY", "1");
    let extension = start_extension(&env, &emulator).await;
    let runtime = env.node(true);
    let call = |op: &str, port: u16, path: &str| json!({"op": op, "url": format!("http://127.0.0.1:{port}{path}")});
    let outcome =
        async |event: Value| answer(&invoke(&emulator, &runtime, &extension, event).await);

    assert_eq!(
        outcome(call("get", open, "/hello")).await,
        json!({"status": 200, "body": "hello from upstream /hello"})
    );
    assert_eq!(
        outcome(call("get", open, "/forged")).await,
        json!({"status": 429, "body": "slow down"})
    );
    assert_eq!(
        outcome(call("fetch", open, "/hello")).await,
        json!({"status": 200, "body": "hello from upstream /hello"})
    );
    // The tunnel is refused with the fault's code: fetch fails as on any refused CONNECT
    // (undici reports "Request was cancelled.", without the status).
    let failed = outcome(call("fetch", refused, "/hello")).await;
    assert!(failed["error"].is_string(), "{failed}");
    let audited: Vec<String> = extension
        .logs()
        .iter()
        .filter(|line| line.contains("\"fault-injected\""))
        .cloned()
        .collect();
    assert_eq!(audited.len(), 2, "{audited:?}");
    assert!(
        audited[1].contains("\"method\":\"CONNECT\"") && audited[1].contains("\"code\":503"),
        "{audited:?}"
    );
}
