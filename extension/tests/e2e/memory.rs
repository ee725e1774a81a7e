//! Nothing buffered that no effect needs: a 5 MB event passes without being read when the only
//! ingress experiments select another function or have ended, and a 200 MiB streamed response
//! is relayed or drained, never collected, under response experiments. Memory is the extension's
//! peak resident set (VmHWM), read from /proc.

use crate::emulator::{Emulator, INVOCATION_ID, Outcome};
use crate::start_extension;
use crate::support::LambdaEnv;
use bytes::Bytes;
use faultline_extension::net::client::{HttpClient, boxed, full_body, new_client};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use std::time::Duration;

/// The peak resident set of `pid`, in KiB.
fn peak_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kib| kib.parse().ok())
        .unwrap_or(0)
}

/// The Runtime API proxy's address, from the ready file.
fn proxy_of(env: &LambdaEnv) -> String {
    let ready = std::fs::read_to_string(env.ready_file()).expect("ready file");
    ready
        .split_whitespace()
        .next()
        .expect("address")
        .to_string()
}

/// Acts as the runtime for one invocation: `/next` through the proxy (the event read to the
/// end, as a runtime does), then `body` posted as the response.
async fn run_once(
    client: &HttpClient,
    proxy: &str,
    body: faultline_extension::net::client::ProxyBody,
    streaming: bool,
) -> usize {
    let next = client
        .request(
            http::Request::get(format!("http://{proxy}/2018-06-01/runtime/invocation/next"))
                .body(full_body(Bytes::new()))
                .expect("request"),
        )
        .await
        .expect("next through the proxy");
    let id = next.headers()["lambda-runtime-aws-request-id"]
        .to_str()
        .expect("id")
        .to_string();
    // Echoed on the answer, as current runtime clients do.
    let invocation_id = next.headers().get(INVOCATION_ID).cloned();
    let event = next.into_body().collect().await.expect("event").to_bytes();
    let mut request = http::Request::post(format!(
        "http://{proxy}/2018-06-01/runtime/invocation/{id}/response"
    ));
    if let Some(invocation_id) = invocation_id {
        request = request.header(INVOCATION_ID, invocation_id);
    }
    if streaming {
        request = request
            .header("lambda-runtime-function-response-mode", "streaming")
            .header(
                "trailer",
                "Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body",
            );
    }
    let answer = client
        .request(request.body(body).expect("request"))
        .await
        .expect("response through the proxy");
    let _ = answer.into_body().collect().await;
    event.len()
}

#[tokio::test]
async fn a_big_event_is_not_read_when_no_experiment_can_apply() {
    let emulator = Emulator::start().await;
    let mut env = LambdaEnv::new(&emulator.runtime_api());
    env.config_file(
        "experiments:
  - {name: billing-only, flag: ingress, selector: {function-name: billing}, effect: {latency: 500}}
  - {name: last-year, flag: ingress, start: '2020-01-01T00:00:00Z', end: '2020-01-02T00:00:00Z', effect: {latency: 500}}
",
    );
    let extension = start_extension(&env, &emulator).await;
    let proxy = proxy_of(&env);
    let client = new_client();
    // An SQS-style event of 5 MB.
    let record = format!(
        r#"{{"eventSource":"aws:sqs","body":"{}"}}"#,
        "x".repeat(50 * 1024)
    );
    let event = format!(
        r#"{{"Records":[{}]}}"#,
        std::iter::repeat_n(record.as_str(), 100)
            .collect::<Vec<_>>()
            .join(",")
    );
    // One small invocation first, so the baseline includes a warm proxy.
    let warm = emulator.try_invoke("{}", Duration::from_secs(20));
    let (outcome, _) = tokio::join!(warm, run_once(&client, &proxy, full_body("{}"), false));
    assert!(matches!(outcome, Some(Outcome::Response { .. })));
    let before = peak_kib(extension.pid());
    for _ in 0..3 {
        let invocation = emulator.try_invoke(event.clone(), Duration::from_secs(20));
        let (outcome, delivered) = tokio::join!(
            invocation,
            run_once(&client, &proxy, full_body("{}"), false)
        );
        assert!(matches!(outcome, Some(Outcome::Response { .. })));
        assert_eq!(delivered, event.len(), "the event arrives whole");
    }
    let after = peak_kib(extension.pid());
    eprintln!(
        "{} byte events: extension peak RSS {before} KiB before, {after} KiB after",
        event.len()
    );
    assert!(
        after < before + 10 * 1024,
        "peak RSS grew from {before} to {after} KiB: the event was buffered"
    );
}

/// The trailers a runtime client sends when a stream fails after it began.
const TRAILERS: [(&str, &str); 2] = [
    ("lambda-runtime-function-error-type", "Runtime.StreamError"),
    ("lambda-runtime-function-error-body", "c3RyZWFtIGJyb2tl"),
];

/// 200 chunks of 1 MiB, made as they are sent, then [`TRAILERS`].
fn two_hundred_mib() -> faultline_extension::net::client::ProxyBody {
    let frames = (0..200).map(|_| Frame::data(Bytes::from(vec![b'x'; 1024 * 1024])));
    let mut trailers = http::HeaderMap::new();
    for (name, value) in TRAILERS {
        trailers.insert(name, http::HeaderValue::from_static(value));
    }
    let frames = frames
        .chain(std::iter::once(Frame::trailers(trailers)))
        .map(Ok::<_, std::convert::Infallible>);
    boxed(StreamBody::new(futures::stream::iter(frames)))
}

async fn streamed_response_under(experiment: Option<&str>) -> (Option<Outcome>, u64) {
    let emulator = Emulator::start().await;
    let mut env = LambdaEnv::new(&emulator.runtime_api());
    env.config_file(&match experiment {
        Some(experiment) => format!("experiments:\n  - {experiment}\n"),
        None => "experiments: []\n".to_string(),
    });
    let extension = start_extension(&env, &emulator).await;
    let proxy = proxy_of(&env);
    let client = new_client();
    let invocation = emulator.try_invoke("{}", Duration::from_secs(60));
    let (outcome, _) = tokio::join!(
        invocation,
        run_once(&client, &proxy, two_hundred_mib(), true)
    );
    (outcome, peak_kib(extension.pid()))
}

/// The 200 MiB stream and its trailers, as the Runtime API received them.
fn assert_whole_stream(outcome: Option<Outcome>) {
    match outcome {
        Some(Outcome::Response { body, trailers, .. }) => {
            assert_eq!(body.len(), 200 * 1024 * 1024);
            let trailers = trailers.expect("the trailers arrive");
            for (name, value) in TRAILERS {
                assert!(
                    trailers
                        .iter()
                        .any(|(n, v)| n.eq_ignore_ascii_case(name) && v == value),
                    "{name} in {trailers:?}"
                );
            }
        }
        other => panic!("expected the streamed response, got {other:?}"),
    }
}

#[tokio::test]
async fn a_streamed_response_is_never_collected() {
    let (outcome, peak) = streamed_response_under(None).await;
    eprintln!("200 MiB streamed with trailers, no experiment: extension peak RSS {peak} KiB");
    assert_whole_stream(outcome);
    assert!(peak < 40 * 1024, "peak RSS {peak} KiB");

    let (outcome, peak) =
        streamed_response_under(Some("{name: slow, flag: response, effect: {latency: 10}}")).await;
    eprintln!(
        "200 MiB streamed with trailers under a latency experiment: extension peak RSS {peak} KiB"
    );
    assert_whole_stream(outcome);
    assert!(peak < 40 * 1024, "peak RSS {peak} KiB");

    let (outcome, peak) = streamed_response_under(Some(
        "{name: broken, flag: response, effect: {exception: down}}",
    ))
    .await;
    eprintln!("200 MiB streamed under an exception experiment: extension peak RSS {peak} KiB");
    assert!(
        matches!(outcome, Some(Outcome::Error { .. })),
        "the injected error: {outcome:?}"
    );
    assert!(peak < 40 * 1024, "peak RSS {peak} KiB");
}
