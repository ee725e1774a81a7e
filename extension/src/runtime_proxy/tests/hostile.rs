//! Defects found in the relay with bytes a library would refuse or normalise: each test failed
//! on the relay before its fix.

use super::{
    ACCEPTED, WAIT, limited_proxy, proxy, read_exactly, read_to_end, scripted_upstream, text,
};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const RESPONSE_LINE: &str = "POST /2018-06-01/runtime/invocation/abc/response HTTP/1.1\r\n";

/// A Runtime API that reads what comes on one connection for `linger` and answers 202 once it
/// has `expect` bytes (or the connection ends); what it saw.
async fn accepting_upstream(expect: usize) -> (u16, tokio::task::JoinHandle<Vec<u8>>) {
    let (upstream, port) = scripted_upstream().await;
    let seen = tokio::spawn(async move {
        let (mut conn, _) = upstream.accept().await.unwrap();
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        while seen.len() < expect {
            match tokio::time::timeout(WAIT, conn.read(&mut buf)).await {
                Ok(Ok(n)) if n > 0 => seen.extend_from_slice(&buf[..n]),
                _ => break,
            }
        }
        let _ = conn.write_all(ACCEPTED).await;
        // Hold the connection until the relay drops it.
        let _ = tokio::time::timeout(WAIT, conn.read(&mut buf)).await;
        seen
    });
    (port, seen)
}

/// Sends `request` and returns everything the relay answers until it closes.
async fn answer_to(port: u16, request: &[u8]) -> String {
    let mut runtime = TcpStream::connect(proxy(&format!("127.0.0.1:{port}")).await)
        .await
        .unwrap();
    runtime.write_all(request).await.unwrap();
    text(&read_to_end(&mut runtime).await)
}

#[tokio::test]
async fn a_chunk_size_that_overflows_is_answered_400_not_a_silent_close() {
    let request = format!(
        "{RESPONSE_LINE}Transfer-Encoding: chunked\r\n\r\nfffffffffffffffffffff\r\nx\r\n0\r\n\r\n"
    );
    let (port, _seen) = accepting_upstream(usize::MAX).await;
    let answer = answer_to(port, request.as_bytes()).await;
    assert!(
        answer.starts_with("HTTP/1.1 400 Bad Request\r\n"),
        "{answer:?}"
    );
    assert!(
        answer.contains("x-faultline: proxy-error\r\n"),
        "{answer:?}"
    );
}

#[tokio::test]
async fn chunk_data_not_followed_by_crlf_is_answered_400() {
    let request = format!("{RESPONSE_LINE}Transfer-Encoding: chunked\r\n\r\n5\r\nhelloXY0\r\n\r\n");
    let (port, _seen) = accepting_upstream(usize::MAX).await;
    let answer = answer_to(port, request.as_bytes()).await;
    assert!(
        answer.starts_with("HTTP/1.1 400 Bad Request\r\n"),
        "{answer:?}"
    );
}

#[tokio::test]
async fn content_length_beside_transfer_encoding_is_dropped_on_the_way() {
    let body = "5\r\nhello\r\n0\r\n\r\n";
    let request = format!(
        "{RESPONSE_LINE}Host: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n{body}"
    );
    let forwarded = format!("{RESPONSE_LINE}Host: x\r\nTransfer-Encoding: chunked\r\n\r\n{body}");
    let (port, seen) = accepting_upstream(forwarded.len()).await;
    let answer = answer_to(port, request.as_bytes()).await;
    assert_eq!(
        answer,
        text(ACCEPTED),
        "answered, then closed: the framing was suspect"
    );
    assert_eq!(text(&seen.await.unwrap()), forwarded);
}

#[tokio::test]
async fn an_absolute_form_target_is_routed_and_sent_in_origin_form() {
    let next = "GET http://127.0.0.1:9001/2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: 127.0.0.1:9001\r\n\r\n";
    let forwarded =
        "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: 127.0.0.1:9001\r\n\r\n";
    let (upstream, port) = scripted_upstream().await;
    let lambda = tokio::spawn(async move {
        let (mut conn, _) = upstream.accept().await.unwrap();
        let seen = read_exactly(&mut conn, forwarded.len()).await;
        conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
            .await
            .unwrap();
        seen
    });
    let mut runtime = TcpStream::connect(proxy(&format!("127.0.0.1:{port}")).await)
        .await
        .unwrap();
    runtime.write_all(next.as_bytes()).await.unwrap();
    let answer = read_exactly(&mut runtime, 40).await;
    assert!(text(&answer).ends_with("\r\n\r\n{}"), "{}", text(&answer));
    assert_eq!(text(&lambda.await.unwrap()), forwarded);
}

#[tokio::test]
async fn more_header_fields_than_the_parser_holds_is_431() {
    let fields: String = (0..101).map(|i| format!("X-F{i}: v\r\n")).collect();
    let request = format!("{RESPONSE_LINE}{fields}Content-Length: 0\r\n\r\n");
    let answer = answer_to(9, request.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 431 "), "{answer:?}");
}

#[tokio::test]
async fn http_1_0_with_transfer_encoding_closes_after_the_exchange() {
    let body = "2\r\n{}\r\n0\r\n\r\n";
    let request = format!(
        "POST /2018-06-01/runtime/invocation/abc/response HTTP/1.0\r\nConnection: keep-alive\r\n\
         Transfer-Encoding: chunked\r\n\r\n{body}"
    );
    let (port, _seen) = accepting_upstream(request.len()).await;
    // read_to_end: the relay must close after the answer, as RFC 9112 §6.1 asks.
    let answer = answer_to(port, request.as_bytes()).await;
    assert_eq!(answer, text(ACCEPTED));
}

/// The Runtime API's `100 Continue` comes after faultline's own wait: it reaches the runtime,
/// which is still waiting for it.
#[tokio::test]
async fn a_late_100_continue_reaches_a_runtime_still_waiting_for_it() {
    let head = format!("{RESPONSE_LINE}Expect: 100-continue\r\nContent-Length: 4\r\n\r\n");
    let head_len = head.len();
    let (upstream, port) = scripted_upstream().await;
    let lambda = tokio::spawn(async move {
        let (mut conn, _) = upstream.accept().await.unwrap();
        read_exactly(&mut conn, head_len).await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        conn.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
            .await
            .unwrap();
        let body = read_exactly(&mut conn, 4).await;
        conn.write_all(ACCEPTED).await.unwrap();
        body
    });
    let mut runtime = TcpStream::connect(proxy(&format!("127.0.0.1:{port}")).await)
        .await
        .unwrap();
    runtime.write_all(head.as_bytes()).await.unwrap();
    // This runtime waits for the interim answer however long it takes.
    let interim = read_exactly(&mut runtime, 25).await;
    assert_eq!(text(&interim), "HTTP/1.1 100 Continue\r\n\r\n");
    runtime.write_all(b"body").await.unwrap();
    let answer = read_exactly(&mut runtime, ACCEPTED.len()).await;
    assert_eq!(text(&answer), text(ACCEPTED));
    assert_eq!(lambda.await.unwrap(), b"body");
}

/// A runtime that gives up on its `/next` closes its connection: the Runtime API sees that
/// connection close too, as it would without faultline, instead of handing an event to a relay
/// whose runtime is gone.
#[tokio::test]
async fn a_next_whose_runtime_went_away_is_closed_upstream() {
    let next = b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n";
    let (upstream, port) = scripted_upstream().await;
    let lambda = tokio::spawn(async move {
        let (mut conn, _) = upstream.accept().await.unwrap();
        read_exactly(&mut conn, next.len()).await;
        let mut rest = [0u8; 16];
        // The event is held back: the Runtime API waits for one, then sees the close.
        tokio::time::timeout(Duration::from_secs(3), conn.read(&mut rest)).await
    });
    let mut runtime = TcpStream::connect(proxy(&format!("127.0.0.1:{port}")).await)
        .await
        .unwrap();
    runtime.write_all(next).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    drop(runtime);
    let closed = lambda.await.unwrap();
    assert!(
        matches!(closed, Ok(Ok(0)) | Ok(Err(_))),
        "the Runtime API connection stayed open: {closed:?}"
    );
}

/// Runtime connections are bounded: one over the limit is answered 503 by faultline at once,
/// and the connections within it go on.
#[tokio::test]
async fn a_runtime_connection_over_the_limit_is_answered_503() {
    let next = b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n";
    let (upstream, port) = scripted_upstream().await;
    let lambda = tokio::spawn(async move {
        let mut held = Vec::new();
        for _ in 0..2 {
            let (mut conn, _) = upstream.accept().await.unwrap();
            read_exactly(&mut conn, next.len()).await;
            held.push(conn);
        }
        for conn in &mut held {
            conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
                .await
                .unwrap();
        }
        held
    });
    let addr = limited_proxy(&format!("127.0.0.1:{port}"), 2, usize::MAX).await;
    let mut within = Vec::new();
    for _ in 0..2 {
        let mut runtime = TcpStream::connect(addr).await.unwrap();
        runtime.write_all(next).await.unwrap();
        within.push(runtime);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut over = TcpStream::connect(addr).await.unwrap();
    over.write_all(next).await.unwrap();
    let refused = text(&read_to_end(&mut over).await);
    assert!(refused.starts_with("HTTP/1.1 503 "), "{refused:?}");
    assert!(
        refused.contains("x-faultline: proxy-error\r\n"),
        "{refused:?}"
    );
    assert!(
        refused.contains("Faultline.TooManyConnections"),
        "{refused:?}"
    );
    let _held = lambda.await.unwrap();
    for runtime in &mut within {
        let answer = read_exactly(runtime, 40).await;
        assert!(text(&answer).ends_with("\r\n\r\n{}"), "{}", text(&answer));
    }
}
