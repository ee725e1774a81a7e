//! The relay against a Runtime API scripted byte by byte: what the runtime sends reaches the
//! Runtime API exactly as sent, and what the Runtime API answers reaches the runtime exactly as
//! answered, with framings and connection states a library would normalise.

use super::RuntimeProxy;
use crate::config::state::ConfigState;
use crate::lambda::endpoint::ApiEndpoint;
use faultline_schema::config::Config;
use faultline_schema::labels::FunctionFacts;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const WAIT: Duration = Duration::from_secs(10);

/// A Runtime API proxy with no experiment, in front of `upstream`; its address.
async fn proxy(upstream: &str) -> std::net::SocketAddr {
    limited_proxy(upstream, 256, usize::MAX).await
}

/// A Runtime API proxy with no experiment serving at most `max_connections` runtime
/// connections, reading at most `max_read` bytes at a time from the runtime; its address.
async fn limited_proxy(
    upstream: &str,
    max_connections: usize,
    max_read: usize,
) -> std::net::SocketAddr {
    let proxy = RuntimeProxy::limited(
        ApiEndpoint::parse(upstream).unwrap(),
        no_experiment(),
        max_connections,
        max_read,
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(proxy.serve(listener));
    addr
}

/// A config in force with no experiment.
fn no_experiment() -> ConfigState {
    let config = ConfigState::for_function(FunctionFacts::default());
    config.set(Config::default());
    config
}

/// A listener for a Runtime API the test scripts itself, and its port.
async fn scripted_upstream() -> (TcpListener, u16) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    (listener, port)
}

async fn read_exactly(stream: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    tokio::time::timeout(WAIT, stream.read_exact(&mut buf))
        .await
        .expect("bytes within the wait")
        .expect("read");
    buf
}

async fn read_to_end(stream: &mut TcpStream) -> Vec<u8> {
    let mut buf = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut buf))
        .await
        .expect("end within the wait")
        .expect("read");
    buf
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn messages_cross_byte_for_byte_on_one_upstream_connection() {
    // Chunked with an extension and a trailer, duplicate and oddly cased fields, an odd reason
    // phrase, odd spacing: all of it is for the other side to read, none of it for faultline.
    let request = b"POST /2018-06-01/runtime/invocation/abc/response HTTP/1.1\r\n\
        host: somewhere\r\nX-Dup: 1\r\nx-dup: 2\r\n\
        Lambda-Runtime-Function-Response-Mode: streaming\r\nTransfer-Encoding: chunked\r\n\
        Trailer: Lambda-Runtime-Function-Error-Type\r\n\r\n\
        5;ext=1\r\nhello\r\n0\r\nLambda-Runtime-Function-Error-Type: Runtime.X\r\n\r\n";
    let answer = b"HTTP/1.1 202 Accepted Indeed\r\ncontent-type: application/json\r\n\
        X-Odd:   spaced  \r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{}\n\r\n0\r\n\r\n";
    let next = b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n";
    let event = b"HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: def\r\n\
        Lambda-Runtime-Deadline-Ms: 1\r\nContent-Length: 7\r\n\r\n{\"a\":1}";

    let (upstream, port) = scripted_upstream().await;
    let lambda = tokio::spawn(async move {
        let (mut conn, _) = upstream.accept().await.unwrap();
        let first = read_exactly(&mut conn, request.len()).await;
        conn.write_all(answer).await.unwrap();
        let second = read_exactly(&mut conn, next.len()).await;
        conn.write_all(event).await.unwrap();
        // No second connection was needed.
        let another = tokio::time::timeout(Duration::from_millis(200), upstream.accept()).await;
        (first, second, another.is_err())
    });

    let mut runtime = TcpStream::connect(proxy(&format!("127.0.0.1:{port}")).await)
        .await
        .unwrap();
    runtime.write_all(request).await.unwrap();
    assert_eq!(
        text(&read_exactly(&mut runtime, answer.len()).await),
        text(answer)
    );
    runtime.write_all(next).await.unwrap();
    assert_eq!(
        text(&read_exactly(&mut runtime, event.len()).await),
        text(event)
    );
    let (first, second, one_connection) = lambda.await.unwrap();
    assert_eq!(text(&first), text(request));
    assert_eq!(text(&second), text(next));
    assert!(one_connection, "the upstream connection is reused");
}

const ACCEPTED: &[u8] = b"HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\nok";

#[tokio::test]
async fn a_runtime_expecting_100_continue_is_told_to_continue_by_the_runtime_api() {
    let head = b"POST /2018-06-01/runtime/invocation/abc/response HTTP/1.1\r\n\
        Host: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n";
    let (upstream, port) = scripted_upstream().await;
    let lambda = tokio::spawn(async move {
        let (mut conn, _) = upstream.accept().await.unwrap();
        let seen = read_exactly(&mut conn, head.len()).await;
        conn.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
            .await
            .unwrap();
        let body = read_exactly(&mut conn, 4).await;
        conn.write_all(ACCEPTED).await.unwrap();
        (seen, body)
    });
    let mut runtime = TcpStream::connect(proxy(&format!("127.0.0.1:{port}")).await)
        .await
        .unwrap();
    runtime.write_all(head).await.unwrap();
    // The runtime sends its body only once told to (curl would wait a second, then send).
    let interim = read_exactly(&mut runtime, 25).await;
    assert_eq!(text(&interim), "HTTP/1.1 100 Continue\r\n\r\n");
    runtime.write_all(b"body").await.unwrap();
    let answer = read_exactly(&mut runtime, ACCEPTED.len()).await;
    assert_eq!(text(&answer), text(ACCEPTED));
    let (seen, body) = lambda.await.unwrap();
    assert_eq!(text(&seen), text(head));
    assert_eq!(body, b"body");
}

#[tokio::test]
async fn an_endpoint_prefix_changes_the_request_line_and_nothing_else() {
    let next = b"GET /2018-06-01/runtime/invocation/next?x=1 HTTP/1.1\r\nHost: x\r\nX-A: b\r\n\r\n";
    let (upstream, port) = scripted_upstream().await;
    let expected =
        b"GET /.rt/2018-06-01/runtime/invocation/next?x=1 HTTP/1.1\r\nHost: x\r\nX-A: b\r\n\r\n";
    let lambda = tokio::spawn(async move {
        let (mut conn, _) = upstream.accept().await.unwrap();
        let seen = read_exactly(&mut conn, expected.len()).await;
        conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
            .await
            .unwrap();
        seen
    });
    let mut runtime = TcpStream::connect(proxy(&format!("http://127.0.0.1:{port}/.rt/")).await)
        .await
        .unwrap();
    runtime.write_all(next).await.unwrap();
    let answer = read_exactly(&mut runtime, 40).await;
    assert!(text(&answer).ends_with("\r\n\r\n{}"), "{}", text(&answer));
    assert_eq!(text(&lambda.await.unwrap()), text(expected));
}

#[tokio::test]
async fn an_answer_delimited_by_the_close_is_relayed_whole_then_closed() {
    let (upstream, port) = scripted_upstream().await;
    tokio::spawn(async move {
        let (mut conn, _) = upstream.accept().await.unwrap();
        let mut head = [0u8; 512];
        let _ = conn.read(&mut head).await.unwrap();
        conn.write_all(b"HTTP/1.1 200 OK\r\n\r\nuntil the end")
            .await
            .unwrap();
    });
    let mut runtime = TcpStream::connect(proxy(&format!("127.0.0.1:{port}")).await)
        .await
        .unwrap();
    runtime
        .write_all(b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(
        text(&read_to_end(&mut runtime).await),
        "HTTP/1.1 200 OK\r\n\r\nuntil the end"
    );
}

#[tokio::test]
async fn an_unreachable_runtime_api_is_a_502_with_a_json_error() {
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let mut runtime = TcpStream::connect(proxy(&format!("127.0.0.1:{port}")).await)
        .await
        .unwrap();
    runtime
        .write_all(b"POST /2018-06-01/runtime/invocation/a/response HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}")
        .await
        .unwrap();
    let answer = text(&read_to_end(&mut runtime).await);
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 502 Bad Gateway\r\n"), "{head}");
    assert!(head.contains("Content-Type: application/json"), "{head}");
    assert!(head.contains("\r\nx-faultline: proxy-error\r\n"), "{head}");
    let error: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(error["errorType"], "Faultline.UpstreamUnavailable");
    assert!(
        error["errorMessage"]
            .as_str()
            .unwrap()
            .contains(&port.to_string()),
        "{error}"
    );
}

#[tokio::test]
async fn a_request_that_is_not_http_is_refused_with_400() {
    let mut runtime = TcpStream::connect(proxy("127.0.0.1:9").await)
        .await
        .unwrap();
    runtime.write_all(b"HELLO THERE\r\n\r\n").await.unwrap();
    let answer = text(&read_to_end(&mut runtime).await);
    assert!(
        answer.starts_with("HTTP/1.1 400 Bad Request\r\n"),
        "{answer}"
    );
}

#[tokio::test]
async fn an_answer_given_before_the_body_was_read_reaches_the_runtime() {
    // A Runtime API refusing a response over its limit answers and closes without reading it
    // all, as Lambda's does (Go's server reads at most 256 KiB more).
    // Longer than loopback's socket buffers, so the relay is still writing when the connection closes.
    let body = vec![b'x'; 48 * 1024 * 1024];
    let head = format!(
        "POST /2018-06-01/runtime/invocation/abc/response HTTP/1.1\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let refusal = b"HTTP/1.1 413 Request Entity Too Large\r\nContent-Length: 2\r\n\r\n{}";
    let (upstream, port) = scripted_upstream().await;
    tokio::spawn(async move {
        let (mut conn, _) = upstream.accept().await.unwrap();
        read_exactly(&mut conn, 256 * 1024).await;
        conn.write_all(refusal).await.unwrap();
        drop(conn);
    });
    let runtime = TcpStream::connect(proxy(&format!("127.0.0.1:{port}")).await)
        .await
        .unwrap();
    let (mut from_proxy, mut to_proxy) = runtime.into_split();
    let sender = tokio::spawn(async move {
        let _ = to_proxy.write_all(head.as_bytes()).await;
        let _ = to_proxy.write_all(&body).await;
        to_proxy
    });
    let mut answer = vec![0u8; refusal.len()];
    tokio::time::timeout(WAIT, from_proxy.read_exact(&mut answer))
        .await
        .expect("an answer within the wait")
        .expect("read");
    assert_eq!(text(&answer), text(refusal));
    sender.abort();
}

/// awslambdaric and the Java client put the handler's error cause in
/// `Lambda-Runtime-Function-XRay-Error-Cause` on `/error`, up to 1 MiB (a Python RecursionError
/// gives 76 KiB). The head reaches the Runtime API whole however it arrives: here in 16 KiB
/// pieces, which a 64 KiB bound refused with 431 while the same bytes written at once passed.
#[tokio::test]
async fn an_error_head_of_hundreds_of_kib_reaches_the_runtime_api_whole() {
    let cause = "c".repeat(600 * 1024);
    let body =
        br#"{"errorMessage":"maximum recursion depth exceeded","errorType":"RecursionError"}"#;
    let request = format!(
        "POST /2018-06-01/runtime/invocation/abc/error HTTP/1.1\r\nHost: 127.0.0.1\r\nLambda-Runtime-Function-Error-Type: RecursionError\r\nLambda-Runtime-Function-XRay-Error-Cause: {cause}\r\nContent-Length: {}\r\n\r\n{}",
        body.len(),
        text(body)
    );
    let accepted = b"HTTP/1.1 202 Accepted\r\nContent-Length: 16\r\n\r\n{\"status\":\"OK\"}\n";
    let (upstream, port) = scripted_upstream().await;
    let expected = request.clone().into_bytes();
    let upstream_saw = tokio::spawn(async move {
        let (mut conn, _) = upstream.accept().await.unwrap();
        let seen = read_exactly(&mut conn, expected.len()).await;
        conn.write_all(accepted).await.unwrap();
        seen == expected
    });
    let mut runtime = TcpStream::connect(proxy(&format!("127.0.0.1:{port}")).await)
        .await
        .unwrap();
    for piece in request.as_bytes().chunks(16 * 1024) {
        runtime.write_all(piece).await.unwrap();
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let answer = read_exactly(&mut runtime, accepted.len()).await;
    assert_eq!(text(&answer), text(accepted));
    assert!(upstream_saw.await.unwrap(), "the head changed on the way");
}

/// A head over Lambda's own limit (1 MiB) is refused with 431, judged on the head alone.
#[tokio::test]
async fn a_head_over_a_mebibyte_is_refused_with_431() {
    let mut runtime = TcpStream::connect(proxy("127.0.0.1:9").await)
        .await
        .unwrap();
    let request = format!(
        "POST /2018-06-01/runtime/invocation/abc/error HTTP/1.1\r\nX-Big: {}\r\nContent-Length: 0\r\n\r\n",
        "b".repeat(1024 * 1024 + 1)
    );
    let _ = runtime.write_all(request.as_bytes()).await;
    let answer = text(&read_to_end(&mut runtime).await);
    assert!(answer.starts_with("HTTP/1.1 431 "), "{answer}");
}

mod byte_cuts;
mod fuzz;
mod hostile;
