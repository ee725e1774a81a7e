//! Lambda's invocation id (sent on `/next` since mid-2026, echoed by current runtime clients):
//! every answer faultline writes itself carries the id of the invocation it answers, and a
//! `410 Gone` for an invocation that already timed out reaches the runtime as Lambda sent it, on
//! every path. The emulator refuses an answer without the id (stricter than Lambda), so faultline
//! never relies on leniency.
//!
//! When faultline's own late answer gets the 410, the runtime never sees it and its `/next`
//! goes on to the next event. When the runtime's own answer gets it, awslambdaric 4.2.2 (outside
//! its multi-concurrent mode) exits on it, as it does without faultline; Lambda resets an
//! environment after a timeout anyway, so the test starts a new runtime, as that reset would.

use crate::emulator::{Emulator, Outcome, TIMED_OUT};
use crate::start_extension;
use crate::support::{LambdaEnv, Proc};
use serde_json::json;
use std::time::Duration;

/// Faults that hold an invocation past its 1 s deadline, on each path where faultline or the
/// runtime answers late.
const LATE: &str = r#"
experiments:
  - name: late-ingress-error
    flag: ingress
    selector: {event-source: sqs}
    effect: {latency: 1500, exception: {message: "too late", errorType: TooLate}}
  - name: late-forged-answer
    flag: http-ingress
    selector: {path: /late-forged}
    effect: {latency: 1500, httpResponse: {code: 503}}
  - name: late-response
    flag: response
    selector: {path: /late}
    effect: {latency: 1500}
  - name: late-response-error
    flag: response
    selector: {path: /late-error}
    effect: {latency: 1500, exception: {message: "lost", errorType: Lost}}
  - name: late-replacement
    flag: response
    selector: {path: /late-teapot}
    effect: {latency: 1500, httpResponse: {code: 418}}
"#;

fn rest_event(path: &str, touch: &str) -> String {
    json!({
        "touch": touch,
        "resource": path, "path": path, "httpMethod": "GET",
        "headers": {}, "requestContext": {"apiId": "api1", "stage": "prod", "httpMethod": "GET"},
        "body": null, "isBase64Encoded": false
    })
    .to_string()
}

async fn invoke(emulator: &Emulator, payload: String, runtime: &Proc, extension: &Proc) -> Outcome {
    emulator
        .try_invoke(payload, Duration::from_secs(30))
        .await
        .unwrap_or_else(|| {
            panic!(
                "no outcome:\n{}\n{}",
                runtime.log_text(),
                extension.log_text()
            )
        })
}

#[tokio::test]
async fn a_410_for_a_timed_out_invocation_reaches_the_runtime_and_the_next_one_runs() {
    let emulator = Emulator::start().await;
    emulator.set_invocation_timeout(Duration::from_secs(1));
    let mut env = LambdaEnv::new(&emulator.runtime_api());
    env.config_file(LATE);
    let extension = start_extension(&env, &emulator).await;
    let mut runtime = env.python(true);
    let marker = env.temp_path("handler-ran");
    let touch = marker.to_string_lossy().to_string();
    let sqs = json!({"touch": touch, "Records": [{"eventSource": "aws:sqs", "body": "b"}]});

    let cases = [
        (sqs.to_string(), false),
        (rest_event("/late-forged", &touch), false),
        (rest_event("/late", &touch), true),
        (rest_event("/late-error", &touch), true),
        (rest_event("/late-teapot", &touch), true),
    ];
    for (number, (event, handler_runs)) in cases.into_iter().enumerate() {
        let outcome = invoke(&emulator, event.clone(), &runtime, &extension).await;
        assert!(
            matches!(&outcome, Outcome::Error { error_type: Some(t), .. } if t == TIMED_OUT),
            "case {number}: the caller sees Lambda's timeout: {outcome:?}"
        );
        // The late answer is refused with 410, once; none is refused for a missing or wrong id.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while emulator.refused().len() <= number && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let refused = emulator.refused();
        assert_eq!(refused.len(), number + 1, "case {number}: {refused:?}");
        assert!(
            refused.iter().all(|(status, _, _)| *status == 410),
            "case {number}: {refused:?}\n{}",
            extension.log_text()
        );
        assert_eq!(
            marker.exists(),
            handler_runs,
            "case {number}: the handler {} run",
            if handler_runs { "should" } else { "should not" }
        );
        let _ = std::fs::remove_file(&marker);
        if handler_runs {
            // The runtime's own answer was late: it got Lambda's 410 as Lambda sent it.
            assert!(
                runtime
                    .wait_log("ErrorRuntimeInvokeTimeout", Duration::from_secs(5))
                    .await,
                "case {number}: the runtime did not get the 410:\n{}",
                runtime.log_text()
            );
            runtime.kill().await;
            runtime = env.python(true);
        }

        // The runtime goes on to the next invocation, which is answered as usual.
        let next = invoke(
            &emulator,
            json!({"op": "echo", "n": number}).to_string(),
            &runtime,
            &extension,
        )
        .await;
        assert_eq!(
            next.json()["n"],
            number,
            "case {number}: {next:?}\n{}\n{}",
            runtime.log_text(),
            extension.log_text()
        );
    }
    // faultline's own late answers (ingress, http-ingress, response exception and replacement)
    // are logged, one line each.
    let logs = extension.log_text();
    assert_eq!(logs.matches("410 Gone").count(), 4, "{logs}");
}
