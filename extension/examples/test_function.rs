//! A Lambda function on the real `lambda_runtime` crate, used by the end-to-end tests and the
//! benchmark. What it does depends on the event's `op`:
//! `echo` (default) returns the event; `fail` returns an error of type `OrdersUnavailable`;
//! `big` returns `{"data": "xxx…"}` of `bytes` bytes; `sleep` waits `ms` then echoes;
//! `env` returns AWS_LAMBDA_RUNTIME_API as the runtime saw it; an event with a `touch` path first
//! creates that file (proof that the handler ran); `stream` streams `chunks` chunks
//! in response-streaming mode (`stream_fail` then fails, which sends error trailers). With AWS_LAMBDA_MAX_CONCURRENCY > 1 it polls concurrently.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure is the report

use lambda_runtime::streaming::{Body, Response as StreamResponse, channel};
use lambda_runtime::{Diagnostic, FunctionResponse, LambdaEvent, service_fn};
use serde_json::{Value, json};
use std::time::Duration;

type Answer = FunctionResponse<Value, Body>;

async fn handle(event: LambdaEvent<Value>) -> Result<Answer, Diagnostic> {
    let payload = event.payload;
    if let Some(path) = payload.get("touch").and_then(Value::as_str) {
        std::fs::write(path, b"ran").map_err(|err| Diagnostic {
            error_type: "TouchFailed".into(),
            error_message: err.to_string(),
        })?;
    }
    let op = payload.get("op").and_then(Value::as_str).unwrap_or("echo");
    let number =
        |key: &str, default: u64| payload.get(key).and_then(Value::as_u64).unwrap_or(default);
    match op {
        "fail" => Err(Diagnostic {
            error_type: "OrdersUnavailable".into(),
            error_message: "orders are down".into(),
        }),
        "big" => {
            let size = usize::try_from(number("bytes", 1024)).unwrap_or(1024);
            Ok(FunctionResponse::BufferedResponse(
                json!({ "data": "x".repeat(size) }),
            ))
        }
        "sleep" => {
            tokio::time::sleep(Duration::from_millis(number("ms", 100))).await;
            Ok(FunctionResponse::BufferedResponse(
                json!({ "request_id": event.context.request_id, "payload": payload }),
            ))
        }
        "env" => Ok(FunctionResponse::BufferedResponse(json!({
            "runtime_api": std::env::var("AWS_LAMBDA_RUNTIME_API").unwrap_or_default()
        }))),
        "stream" | "stream_fail" => {
            let chunks = number("chunks", 5);
            let fail = op == "stream_fail";
            let (mut tx, rx) = channel();
            tokio::spawn(async move {
                for index in 0..chunks {
                    if tx
                        .send_data(format!("chunk {index}\n").into())
                        .await
                        .is_err()
                    {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                if fail {
                    // Sent as the Lambda-Runtime-Function-Error-* trailers.
                    tx.send_error(lambda_runtime_api_client::Error::new("stream broke"));
                }
            });
            Ok(FunctionResponse::StreamingResponse(StreamResponse::from(
                rx,
            )))
        }
        _ => Ok(FunctionResponse::BufferedResponse(payload)),
    }
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let concurrent = std::env::var("AWS_LAMBDA_MAX_CONCURRENCY")
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
        .is_some_and(|n| n > 1);
    if concurrent {
        lambda_runtime::run_concurrent(service_fn(handle)).await
    } else {
        lambda_runtime::run(service_fn(handle)).await
    }
}
