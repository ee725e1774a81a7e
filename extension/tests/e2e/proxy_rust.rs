//! The Rust runtime (lambda_runtime) through faultline-wrapper and the proxy: against
//! cargo-lambda's emulator, and against the tests' emulator for response streaming and
//! concurrent invocations.

use crate::emulator::{Emulator, INVOCATION_ID, Outcome};
use crate::start_extension;
use crate::support::{CargoLambda, LambdaEnv};
use std::time::Duration;

async fn cargo_lambda_results(with_faultline: bool) -> Vec<(u16, Option<String>, Vec<u8>)> {
    let emulator = CargoLambda::start().await;
    let env = LambdaEnv::new(&emulator.runtime_api());
    let extension = with_faultline.then(|| env.extension());
    if with_faultline {
        env.wait_ready().await;
    }
    let runtime = env.rust(with_faultline);
    let mut results = Vec::new();
    for payload in [
        r#"{"op":"echo","hello":"world"}"#,
        r#"{"op":"fail"}"#,
        r#"{"op":"big","bytes":5242880}"#,
    ] {
        results.push(emulator.invoke(payload).await);
    }
    if let Some(extension) = extension {
        assert!(
            !extension.log_text().contains("ERROR"),
            "extension logged an error: {}",
            extension.log_text()
        );
    }
    drop(runtime);
    results
}

#[tokio::test]
async fn rust_results_on_cargo_lambda_are_identical_with_and_without_faultline() {
    let direct = cargo_lambda_results(false).await;
    let proxied = cargo_lambda_results(true).await;
    assert_eq!(direct.len(), 3);
    let echo: serde_json::Value = serde_json::from_slice(&direct[0].2).expect("json");
    assert_eq!(echo["hello"], "world");
    let fail = String::from_utf8_lossy(&direct[1].2).to_string();
    assert!(fail.contains("OrdersUnavailable"), "{fail}");
    assert!(direct[2].2.len() > 5 * 1024 * 1024);
    for (index, (d, p)) in direct.iter().zip(&proxied).enumerate() {
        assert_eq!(d.0, p.0, "status of call {index}");
        assert_eq!(d.1, p.1, "function error of call {index}");
        assert_eq!(d.2, p.2, "body of call {index}");
    }
}

#[tokio::test]
async fn streaming_responses_pass_through_with_their_mode() {
    let mut outcomes = Vec::new();
    for with_faultline in [false, true] {
        let emulator = Emulator::start().await;
        let env = LambdaEnv::new(&emulator.runtime_api());
        let _extension = if with_faultline {
            Some(start_extension(&env, &emulator).await)
        } else {
            None
        };
        let _runtime = env.rust(with_faultline);
        outcomes.push(emulator.invoke(r#"{"op":"stream","chunks":20}"#).await);
        outcomes.push(emulator.invoke(r#"{"op":"stream_fail","chunks":3}"#).await);
    }
    let expected: String = (0..20).map(|i| format!("chunk {i}\n")).collect();
    match &outcomes[2] {
        Outcome::Response {
            body, streaming, ..
        } => {
            assert!(streaming, "streaming mode header forwarded");
            // lambda_runtime sends the metadata prelude (JSON, then 8 NUL bytes) first.
            let separator = body
                .windows(8)
                .position(|w| w == [0u8; 8])
                .expect("prelude separator");
            assert!(body.starts_with(b"{\"statusCode\":200"));
            assert_eq!(&body[separator + 8..], expected.as_bytes());
        }
        other => panic!("expected a response, got {other:?}"),
    }
    assert_eq!(
        outcomes[0], outcomes[2],
        "same stream with and without faultline"
    );

    // A stream that fails midway: lambda_runtime writes its error report into the chunked body
    // (it does not use HTTP trailer frames); the bytes arrive unchanged through the proxy.
    let failed = String::from_utf8_lossy(outcomes[3].body()).to_string();
    assert!(
        failed.contains("Lambda-Runtime-Function-Error-Type: Runtime.StreamError"),
        "{failed}"
    );
    assert_eq!(
        outcomes[1], outcomes[3],
        "same failed stream with and without faultline"
    );
}

#[tokio::test]
async fn twenty_concurrent_invocations_through_one_proxy() {
    let emulator = Emulator::start().await;
    let mut env = LambdaEnv::new(&emulator.runtime_api());
    env.set("AWS_LAMBDA_MAX_CONCURRENCY", "20");
    let _extension = start_extension(&env, &emulator).await;
    let runtime = env.rust(true);

    let calls = (0..20).map(|i| {
        let payload = format!(r#"{{"op":"sleep","ms":500,"index":{i}}}"#);
        emulator.try_invoke(payload, Duration::from_secs(30))
    });
    let outcomes = futures::future::join_all(calls).await;
    for (i, outcome) in outcomes.iter().enumerate() {
        let outcome = outcome
            .as_ref()
            .unwrap_or_else(|| panic!("call {i} unanswered: {}", runtime.log_text()));
        let json = outcome.json();
        assert_eq!(
            json["payload"]["index"], i,
            "each caller gets its own answer"
        );
    }
    assert_eq!(
        emulator.max_in_flight(),
        20,
        "all 20 invocations were handed out before any finished"
    );
}

/// A runtime that sends real HTTP/1.1 trailers (chunked body, `Trailer` header, trailer fields),
/// as the Runtime API documents for mid-stream errors: the trailers reach the Runtime API.
#[tokio::test]
async fn http_trailers_of_a_streamed_response_reach_the_runtime_api() {
    use bytes::Bytes;
    use faultline_extension::net::client::{boxed, full_body, new_client};
    use http_body_util::{BodyExt, StreamBody};
    use hyper::body::Frame;

    let emulator = Emulator::start().await;
    let env = LambdaEnv::new(&emulator.runtime_api());
    let _extension = start_extension(&env, &emulator).await;
    let ready = std::fs::read_to_string(env.ready_file()).expect("ready file");
    let proxy = ready
        .split_whitespace()
        .next()
        .expect("address")
        .to_string();

    let invocation = emulator.try_invoke("{}", Duration::from_secs(20));
    let runtime = async {
        let client = new_client();
        let next = client
            .request(
                http::Request::get(format!("http://{proxy}/2018-06-01/runtime/invocation/next"))
                    .body(full_body(Bytes::new()))
                    .expect("request"),
            )
            .await
            .expect("next through the proxy");
        assert_eq!(
            next.headers().get("content-type").map(|v| v.as_bytes()),
            Some(&b"application/json"[..]),
            "Content-Type of /next is kept"
        );
        let id = next.headers()["lambda-runtime-aws-request-id"]
            .to_str()
            .expect("id")
            .to_string();
        let invocation_id = next.headers()[INVOCATION_ID].clone();
        let _ = next.into_body().collect().await;
        let mut trailers = http::HeaderMap::new();
        trailers.insert(
            "lambda-runtime-function-error-type",
            http::HeaderValue::from_static("Runtime.StreamError"),
        );
        trailers.insert(
            "lambda-runtime-function-error-body",
            http::HeaderValue::from_static("c3RyZWFtIGJyb2tl"),
        );
        let frames: Vec<Result<Frame<Bytes>, std::convert::Infallible>> = vec![
            Ok(Frame::data(Bytes::from_static(b"part one,"))),
            Ok(Frame::data(Bytes::from_static(b"part two"))),
            Ok(Frame::trailers(trailers)),
        ];
        let body = StreamBody::new(futures::stream::iter(frames));
        let response = client
            .request(
                http::Request::post(format!(
                    "http://{proxy}/2018-06-01/runtime/invocation/{id}/response"
                ))
                .header("lambda-runtime-function-response-mode", "streaming")
                .header(INVOCATION_ID, invocation_id)
                .header(
                    "trailer",
                    "Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body",
                )
                .body(boxed(body))
                .expect("request"),
            )
            .await
            .expect("response through the proxy");
        assert_eq!(response.status(), 202);
        let _ = response.into_body().collect().await;
    };
    let (outcome, ()) = tokio::join!(invocation, runtime);
    match outcome.expect("invocation answered") {
        Outcome::Response {
            body,
            streaming,
            trailers,
        } => {
            assert!(streaming);
            assert_eq!(body.as_ref(), b"part one,part two");
            let trailers = trailers.expect("trailers arrived");
            assert!(
                trailers.contains(&(
                    "lambda-runtime-function-error-type".to_string(),
                    "Runtime.StreamError".to_string()
                )),
                "{trailers:?}"
            );
            assert_eq!(trailers.len(), 2, "{trailers:?}");
        }
        other => panic!("expected a streamed response, got {other:?}"),
    }
}
