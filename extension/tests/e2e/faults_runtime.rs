//! Runtime API flags end to end: `ingress`, `http-ingress` and `response`, each effect they
//! support, with awslambdaric (our emulator) and with lambda_runtime (cargo-lambda's emulator).

use crate::emulator::{Emulator, Outcome};
use crate::start_extension;
use crate::support::{CargoLambda, LambdaEnv, Proc, invoke_or_show};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// Every Runtime API flag and effect, told apart by event source and path.
const RUNTIME_FAULTS: &str = r#"
experiments:
  - name: ingress-down
    flag: ingress
    selector: {event-source: sqs}
    effect: {exception: {message: "queue consumer down", errorType: IngressDown}}
  - name: ingress-slow
    flag: ingress
    selector: {event-source: schedule}
    effect: {latency: 400}
  - name: maintenance-page
    flag: http-ingress
    selector: {path: /maintenance}
    effect: {httpResponse: {code: 503, body: bWFpbnRlbmFuY2U=, headers: {content-type: text/plain}}}
  - name: http-ingress-error
    flag: http-ingress
    selector: {path: /ingress-error}
    effect: {exception: {message: "gateway says no", errorType: GatewayFault}}
  - name: teapot
    flag: response
    selector: {path: /teapot}
    effect: {httpResponse: {code: 418, body: dGVhcG90}}
  - name: response-error
    flag: response
    selector: {path: /response-error}
    effect: {exception: {message: "response lost", errorType: ResponseLost}}
  - name: response-slow
    flag: response
    selector: {path: /slow-response, method: [GET]}
    effect: {latency: {ms: 400, jitter: 20}}
  - name: garbled-cut
    flag: response
    selector: {path: /cut}
    effect: {corrupt: {truncate: 0.5}}
  - name: garbled-mangle
    flag: response
    selector: {path: /mng}
    effect: {corrupt: {mangle: true}}
"#;

fn sqs_event(touch: &str) -> String {
    json!({"touch": touch, "Records": [{"eventSource": "aws:sqs", "body": "order-1"}]}).to_string()
}

fn schedule_event() -> String {
    json!({"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}).to_string()
}

/// An API Gateway REST proxy event for `path`.
fn rest_event(path: &str, touch: &str) -> String {
    json!({
        "touch": touch,
        "resource": path, "path": path, "httpMethod": "GET",
        "headers": {"accept": "*/*"},
        "requestContext": {"apiId": "api1", "stage": "prod", "httpMethod": "GET"},
        "body": null, "isBase64Encoded": false
    })
    .to_string()
}

/// One invocation, answered within 30 s (else the test fails with the logs).
async fn within_30s(
    emulator: &Emulator,
    runtime: &Proc,
    extension: &Proc,
    payload: String,
) -> Outcome {
    invoke_or_show(
        emulator,
        runtime,
        extension,
        payload,
        Duration::from_secs(30),
    )
    .await
}

/// Audit lines the extension logged.
fn audit_lines(extension: &Proc) -> Vec<Value> {
    extension
        .logs()
        .iter()
        .filter(|line| line.contains("\"fault-injected\""))
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect()
}

#[tokio::test]
async fn python_runtime_flags_and_effects() {
    let emulator = Emulator::start().await;
    let mut env = LambdaEnv::new(&emulator.runtime_api());
    env.config_file(RUNTIME_FAULTS);
    let extension = start_extension(&env, &emulator).await;
    let runtime = env.python(true);
    let marker = env.temp_path("handler-ran");
    let marker_text = marker.to_string_lossy().to_string();
    let invoke = async |payload: String| within_30s(&emulator, &runtime, &extension, payload).await;

    // ingress exception: the invocation fails and the handler never runs.
    let outcome = invoke(sqs_event(&marker_text)).await;
    match &outcome {
        Outcome::Error { error_type, .. } => assert_eq!(error_type.as_deref(), Some("IngressDown")),
        other => panic!("expected an error, got {other:?}"),
    }
    assert_eq!(outcome.json()["errorMessage"], "queue consumer down");
    assert!(
        !marker.exists(),
        "the handler ran despite the ingress exception"
    );

    // The runtime was handed the next event: a direct invocation is answered normally.
    let outcome = invoke(json!({"op": "echo", "touch": marker_text}).to_string()).await;
    assert_eq!(outcome.json()["op"], "echo");
    assert!(
        marker.exists(),
        "the handler runs for events no experiment selects"
    );
    std::fs::remove_file(&marker).expect("remove marker");

    // ingress latency delays delivery.
    let started = Instant::now();
    let outcome = invoke(schedule_event()).await;
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(outcome.json()["source"], "aws.events");

    // http-ingress httpResponse answers for the handler.
    let outcome = invoke(rest_event("/maintenance", &marker_text)).await;
    assert!(matches!(outcome, Outcome::Response { .. }), "{outcome:?}");
    assert_eq!(outcome.json()["statusCode"], 503);
    assert_eq!(outcome.json()["body"], "maintenance");
    assert_eq!(outcome.json()["headers"]["content-type"], "text/plain");
    assert!(
        !marker.exists(),
        "the handler ran despite the forged response"
    );

    // http-ingress exception fails the invocation like ingress.
    let outcome = invoke(rest_event("/ingress-error", &marker_text)).await;
    assert!(
        matches!(&outcome, Outcome::Error { error_type: Some(t), .. } if t == "GatewayFault"),
        "{outcome:?}"
    );
    assert!(!marker.exists());

    // response httpResponse replaces statusCode and body of what the handler returned.
    let outcome = invoke(rest_event("/teapot", &marker_text)).await;
    assert!(marker.exists(), "response faults run after the handler");
    assert_eq!(outcome.json()["statusCode"], 418);
    assert_eq!(outcome.json()["body"], "teapot");
    assert_eq!(
        outcome.json()["path"],
        "/teapot",
        "the rest of the answer is kept"
    );

    // response exception turns the answer into an error.
    let outcome = invoke(rest_event("/response-error", &marker_text)).await;
    assert!(
        matches!(&outcome, Outcome::Error { error_type: Some(t), .. } if t == "ResponseLost"),
        "{outcome:?}"
    );

    // response latency delays forwarding.
    let started = Instant::now();
    let outcome = invoke(rest_event("/slow-response", &marker_text)).await;
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(outcome.json()["path"], "/slow-response");

    // response corrupt: the answer cut to half, or no longer JSON, against the same answer for
    // a path of the same length that no experiment selects.
    let body = |outcome: Outcome| match outcome {
        Outcome::Response { body, .. } => body.to_vec(),
        other => panic!("expected an answer, got {other:?}"),
    };
    let whole = body(invoke(rest_event("/cux", &marker_text)).await);
    assert!(serde_json::from_slice::<Value>(&whole).is_ok());
    let cut = body(invoke(rest_event("/cut", &marker_text)).await);
    assert_eq!(
        cut.len(),
        whole.len() / 2,
        "{}",
        String::from_utf8_lossy(&cut)
    );
    let expected = String::from_utf8_lossy(&whole).replace("/cux", "/cut");
    assert!(expected.as_bytes().starts_with(&cut));
    let untouched = body(invoke(rest_event("/mnx", &marker_text)).await);
    let mangled = body(invoke(rest_event("/mng", &marker_text)).await);
    assert_eq!(mangled.len(), untouched.len());
    assert!(
        serde_json::from_slice::<Value>(&mangled).is_err(),
        "{}",
        String::from_utf8_lossy(&mangled)
    );

    // Every answer, faultline's own among them, carried the invocation id /next gave.
    assert_eq!(emulator.refused(), Vec::new(), "{}", extension.log_text());

    // Every injected fault is one JSON audit line with the request id, experiment, flag, labels.
    let audit = audit_lines(&extension);
    let experiments: Vec<&str> = audit
        .iter()
        .filter_map(|line| line["experiment"].as_str())
        .collect();
    for name in [
        "ingress-down",
        "ingress-slow",
        "maintenance-page",
        "http-ingress-error",
        "teapot",
        "response-error",
        "response-slow",
        "garbled-cut",
        "garbled-mangle",
    ] {
        assert!(experiments.contains(&name), "{name} not audited: {audit:?}");
    }
    let first = &audit[0];
    assert!(
        first["requestId"]
            .as_str()
            .is_some_and(|id| id.starts_with("req-"))
    );
    assert_eq!(first["flag"], "ingress");
    assert_eq!(first["effect"]["type"], "exception");
    assert_eq!(first["labels"]["event-source"], "sqs");
    assert_eq!(first["labels"]["function-name"], "test-fn");
    assert_eq!(first["labels"]["region"], "us-east-1");
    let cut_line = audit
        .iter()
        .find(|line| line["experiment"] == "garbled-cut")
        .expect("garbled-cut audited");
    assert_eq!(
        cut_line["effect"],
        json!({"type": "corrupt", "truncate": 0.5})
    );
    let mangle_line = audit
        .iter()
        .find(|line| line["experiment"] == "garbled-mangle")
        .expect("garbled-mangle audited");
    assert_eq!(
        mangle_line["effect"],
        json!({"type": "corrupt", "mangle": true})
    );
}

#[tokio::test]
async fn rust_runtime_flags_and_effects_on_cargo_lambda() {
    let lambda = CargoLambda::start().await;
    let mut env = LambdaEnv::new(&lambda.runtime_api());
    env.config_file(RUNTIME_FAULTS);
    let extension = env.extension();
    env.wait_ready().await;
    let runtime = env.rust(true);
    let marker = env.temp_path("handler-ran");
    let marker_text = marker.to_string_lossy().to_string();

    let (status, error, body) = lambda.invoke(&sqs_event(&marker_text)).await;
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    // cargo-lambda reports function errors as HTTP 500.
    assert!(
        status == 500 || error.is_some(),
        "an ingress exception is a function error: {status} {body}\n{}",
        runtime.log_text()
    );
    assert_eq!(body["errorType"], "IngressDown");
    assert!(
        !marker.exists(),
        "the handler ran despite the ingress exception"
    );

    let (_, error, body) = lambda
        .invoke(&rest_event("/maintenance", &marker_text))
        .await;
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    assert!(error.is_none(), "{body}");
    assert_eq!(body["statusCode"], 503);
    assert_eq!(body["body"], "maintenance");
    assert!(!marker.exists());

    let (_, error, body) = lambda.invoke(&rest_event("/teapot", &marker_text)).await;
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    assert!(error.is_none(), "{body}");
    assert_eq!(body["statusCode"], 418);
    assert_eq!(body["body"], "teapot");
    assert!(marker.exists(), "the handler ran for the response fault");

    let (status, error, body) = lambda
        .invoke(&rest_event("/response-error", &marker_text))
        .await;
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    assert!(status == 500 || error.is_some(), "{body}");
    assert_eq!(body["errorType"], "ResponseLost");

    let (_, error, body) = lambda.invoke(r#"{"op":"echo","plain":true}"#).await;
    assert!(error.is_none());
    assert_eq!(
        serde_json::from_slice::<Value>(&body).unwrap_or(Value::Null)["plain"],
        true
    );
    assert!(
        audit_lines(&extension).len() >= 4,
        "{}",
        extension.log_text()
    );
}

/// Tenant isolation: `tenant-id` labels each invocation from `Lambda-Runtime-Aws-Tenant-Id`, so
/// an experiment can select one tenant's events and answers; the header reaches the runtime
/// untouched.
#[tokio::test]
async fn tenant_id_selects_one_tenants_invocations() {
    let emulator = Emulator::start().await;
    let mut env = LambdaEnv::new(&emulator.runtime_api());
    env.config_file(
        r#"
experiments:
  - name: gold-down
    flag: ingress
    selector: {tenant-id: gold}
    effect: {exception: {message: "gold tenant down", errorType: TenantDown}}
  - name: silver-teapot
    flag: response
    selector: {tenant-id: silver}
    effect: {httpResponse: {code: 418}}
"#,
    );
    let extension = start_extension(&env, &emulator).await;
    let runtime = env.python(true);
    let invoke = async |tenant: Option<&str>| {
        emulator.set_tenant(tenant);
        let echo = json!({"op": "echo"}).to_string();
        within_30s(&emulator, &runtime, &extension, echo).await
    };
    let gold = invoke(Some("gold")).await;
    assert!(
        matches!(&gold, Outcome::Error { error_type: Some(t), .. } if t == "TenantDown"),
        "{gold:?}"
    );
    let silver = invoke(Some("silver")).await;
    assert_eq!(silver.json()["statusCode"], 418, "{silver:?}");
    for tenant in [Some("bronze"), None] {
        let outcome = invoke(tenant).await;
        assert_eq!(outcome.json()["op"], "echo", "{tenant:?}: {outcome:?}");
    }
    let audit = audit_lines(&extension);
    assert_eq!(audit.len(), 2, "{audit:?}");
    assert_eq!(audit[0]["labels"]["tenant-id"], "gold");
    assert_eq!(audit[1]["labels"]["tenant-id"], "silver");
}

/// `timeout: {}` holds the event past its deadline, so Lambda (the emulator) times the
/// invocation out itself and the handler's late answer gets 410 Gone; `timeout: {buffer_ms}`
/// delivers it at once with only that much time left on its deadline.
#[tokio::test]
async fn timeouts_hold_past_the_deadline_or_leave_little_time() {
    let emulator = Emulator::start().await;
    emulator.set_invocation_timeout(Duration::from_secs(2));
    let mut env = LambdaEnv::new(&emulator.runtime_api());
    env.config_file(
        r#"
experiments:
  - name: hang
    flag: http-ingress
    selector: {path: /hang}
    effect: {timeout: {}}
  - name: hurry
    flag: ingress
    selector: {path: /hurry}
    effect: {timeout: {buffer_ms: 300}}
"#,
    );
    let extension = start_extension(&env, &emulator).await;
    let runtime = env.python(true);
    let event = |path: &str| {
        let mut event: Value = serde_json::from_str(&rest_event(path, "")).expect("event");
        event["op"] = json!("remaining");
        event.as_object_mut().map(|e| e.remove("touch"));
        event.to_string()
    };
    let invoke = async |payload: String| within_30s(&emulator, &runtime, &extension, payload).await;

    let untouched = invoke(event("/plain")).await;
    let full = untouched.json()["remaining_ms"]
        .as_f64()
        .expect("remaining");
    assert!(full > 1000.0, "{untouched:?}");

    let hurried = invoke(event("/hurry")).await;
    let left = hurried.json()["remaining_ms"].as_f64().expect("remaining");
    assert!(left <= 300.0, "{hurried:?}");

    let hung = invoke(event("/hang")).await;
    assert!(
        matches!(&hung, Outcome::Error { error_type: Some(t), .. } if t == crate::emulator::TIMED_OUT),
        "{hung:?}"
    );
    // The handler ran late and its answer was refused, as Lambda refuses it. awslambdaric then
    // exits, as Lambda's reset after a timeout would end it: a new runtime takes the next event.
    let deadline = Instant::now() + Duration::from_secs(10);
    while emulator.refused().is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let refused = emulator.refused();
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0].0, 410);
    let runtime = env.python(true);
    let after = within_30s(&emulator, &runtime, &extension, event("/plain")).await;
    assert!(after.json()["remaining_ms"].as_f64().is_some(), "{after:?}");

    let audit = audit_lines(&extension);
    let effects: Vec<&Value> = audit.iter().map(|line| &line["effect"]).collect();
    assert_eq!(
        effects,
        [
            &json!({"type": "timeout", "bufferMs": 300}),
            &json!({"type": "timeout"})
        ],
        "{audit:?}"
    );
}

/// `batchItemFailures`: each record of an SQS or Kinesis batch is reported failed with the
/// experiment's probability, merged with the failures the handler reported itself; a handler
/// that returned nothing gets `{"batchItemFailures": [...]}`.
#[tokio::test]
async fn partial_batch_failures_are_reported_at_the_rate_and_merged() {
    let emulator = Emulator::start().await;
    let mut env = LambdaEnv::new(&emulator.runtime_api());
    env.config_file(
        r#"
experiments:
  - name: redeliver
    flag: response
    selector: {event-source: [sqs, kinesis]}
    effect: {batchItemFailures: {rate: 0.5}}
"#,
    );
    let extension = start_extension(&env, &emulator).await;
    let runtime = env.python(true);
    let invoke = async |event: Value| {
        within_30s(&emulator, &runtime, &extension, event.to_string())
            .await
            .json()
    };
    let sqs = |n: usize, own: Option<Vec<String>>| {
        let records: Vec<Value> = (0..10)
            .map(|i| json!({"messageId": format!("m{n}-{i}"), "eventSource": "aws:sqs", "body": "{}"}))
            .collect();
        let mut event = json!({"op": "batch", "Records": records});
        if let Some(own) = own {
            event["own"] = json!(own);
        }
        event
    };
    let failed = |answer: &Value| -> Vec<String> {
        answer["batchItemFailures"]
            .as_array()
            .expect("batchItemFailures")
            .iter()
            .filter_map(|f| f["itemIdentifier"].as_str().map(str::to_string))
            .collect()
    };

    // 40 batches of 10, the handler returning nothing: about half the records come back failed.
    let mut total = 0;
    for n in 0..40 {
        let answer = invoke(sqs(n, None)).await;
        let ids = failed(&answer);
        assert!(
            ids.iter().all(|id| id.starts_with(&format!("m{n}-"))),
            "{answer}"
        );
        total += ids.len();
    }
    let share = total as f64 / 400.0;
    assert!((0.35..=0.65).contains(&share), "{total} of 400 records");

    // The handler's own failures are kept, never twice.
    let own = vec!["m99-0".to_string(), "m99-1".to_string()];
    let answer = invoke(sqs(99, Some(own.clone()))).await;
    let ids = failed(&answer);
    assert_eq!(ids[..2], own[..], "{answer}");
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "{answer}");

    // Kinesis: the sequence numbers.
    let kinesis = json!({"op": "batch", "Records": (0..10).map(|i| json!({
        "eventSource": "aws:kinesis", "kinesis": {"sequenceNumber": format!("seq-{i}"), "data": "e30="}
    })).collect::<Vec<_>>()});
    let mut seen = 0;
    for _ in 0..5 {
        let ids = failed(&invoke(kinesis.clone()).await);
        assert!(ids.iter().all(|id| id.starts_with("seq-")), "{ids:?}");
        seen += ids.len();
    }
    assert!(seen > 0 && seen < 50, "{seen} of 50");

    // A direct invocation is not a batch: untouched.
    let answer = invoke(json!({"op": "echo"})).await;
    assert_eq!(answer["op"], "echo");
    let audit = audit_lines(&extension);
    assert_eq!(
        audit[0]["effect"],
        json!({"type": "batchItemFailures", "rate": 0.5})
    );
}

/// Selectors on the event's content: `event.<dot.path>` matches the value at that path, and
/// `exists` any value there; matching and non-matching events in one run.
#[tokio::test]
async fn event_content_selects_the_invocations() {
    let emulator = Emulator::start().await;
    let mut env = LambdaEnv::new(&emulator.runtime_api());
    env.config_file(
        r#"
experiments:
  - name: prod-chaos
    flag: ingress
    selector: {event.requestContext.stage: [prod], event.headers.x-chaos: [exists]}
    effect: {exception: {message: "chaos in prod", errorType: ChaosFault}}
  - name: first-record
    flag: response
    selector: {event.Records.0.body: "order-*"}
    effect: {httpResponse: {code: 409}}
"#,
    );
    let extension = start_extension(&env, &emulator).await;
    let runtime = env.python(true);
    let request = |stage: &str, chaos: bool| {
        let mut event: Value = serde_json::from_str(&rest_event("/orders", "")).expect("event");
        event["requestContext"]["stage"] = json!(stage);
        event.as_object_mut().map(|e| e.remove("touch"));
        if chaos {
            event["headers"]["x-chaos"] = json!("1");
        }
        event.to_string()
    };
    let outcome = within_30s(&emulator, &runtime, &extension, request("prod", true)).await;
    assert!(
        matches!(&outcome, Outcome::Error { error_type: Some(t), .. } if t == "ChaosFault"),
        "{outcome:?}"
    );
    for (stage, chaos) in [("prod", false), ("dev", true)] {
        let outcome = within_30s(&emulator, &runtime, &extension, request(stage, chaos)).await;
        assert!(
            matches!(outcome, Outcome::Response { .. }),
            "{stage} {chaos}: {outcome:?}"
        );
    }
    let batch = |body: &str| json!({"Records": [{"eventSource": "aws:sqs", "body": body}]});
    let order = within_30s(
        &emulator,
        &runtime,
        &extension,
        batch("order-1").to_string(),
    )
    .await;
    assert_eq!(order.json()["statusCode"], 409, "{order:?}");
    let other = within_30s(
        &emulator,
        &runtime,
        &extension,
        batch("refund-1").to_string(),
    )
    .await;
    assert!(other.json()["Records"].is_array(), "{other:?}");
    let audit = audit_lines(&extension);
    let names: Vec<&str> = audit
        .iter()
        .filter_map(|line| line["experiment"].as_str())
        .collect();
    assert_eq!(names, ["prod-chaos", "first-record"]);
    assert_eq!(audit[0]["labels"]["event.requestContext.stage"], "prod");
}
