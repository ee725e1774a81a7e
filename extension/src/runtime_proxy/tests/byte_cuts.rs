//! The relay with every read cut short, in the manner of hyper's h1 decode tests: each case runs
//! with reads of 1, 2, 3, 5, 7 and 64 bytes from both the runtime and the Runtime API, and
//! unbounded. Each is judged "the same bytes as direct" (what each side sends reaches the other
//! as sent, or as an intermediary must rewrite it) or "a clear 4xx/5xx from faultline", and in
//! every case the next invocation works, on the same connection where it stays open and on a
//! new one.

use super::{WAIT, limited_proxy, scripted_upstream, text};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const CUTS: [usize; 7] = [1, 2, 3, 5, 7, 64, usize::MAX];

const NEXT: &str = "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n";
const EVENT: &str = "HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: r2\r\n\
    Lambda-Runtime-Invocation-Id: i2\r\nContent-Length: 2\r\n\r\n{}";
const RESPONSE: &str = "POST /2018-06-01/runtime/invocation/r1/response HTTP/1.1\r\n";
const ACCEPTED: &str = "HTTP/1.1 202 Accepted\r\nContent-Length: 16\r\n\r\n{\"status\":\"OK\"}\n";

/// What the runtime must get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// The Runtime API's answer as it came; the connection then stays open.
    Same,
    /// The Runtime API's answer as it came, then the connection closes.
    SameThenClose,
    /// faultline's own answer with this status, then the connection closes.
    Refused(u16),
    /// Nothing: the runtime went away mid-request, and the Runtime API sees its connection
    /// close.
    Nothing,
}

#[derive(Clone)]
struct Case {
    name: &'static str,
    /// What the runtime sends.
    sends: String,
    /// The runtime closes its side for writing after sending.
    half_close: bool,
    /// What the Runtime API must see (None: exactly what was sent; ignored when refused).
    sees: Option<String>,
    /// What the Runtime API answers once it has seen it all.
    answers: String,
    /// What the runtime gets after that answer (a pipelined request's), by the Runtime API
    /// serving further requests on the connection.
    then: &'static str,
    /// The Runtime API closes its connection after answering.
    upstream_closes: bool,
    expect: Expect,
}

fn case(name: &'static str, sends: impl Into<String>, answers: &str, expect: Expect) -> Case {
    Case {
        name,
        sends: sends.into(),
        half_close: false,
        sees: None,
        answers: answers.to_string(),
        then: "",
        upstream_closes: false,
        expect,
    }
}

fn cases() -> Vec<Case> {
    let chunked_body = "5;ext=\"q\"\r\nhello\r\n0\r\nX-Trailer: t\r\n\r\n";
    let many_fields: String = (0..101).map(|i| format!("X-F{i}: v\r\n")).collect();
    vec![
        case(
            "Content-Length and Transfer-Encoding",
            format!(
                "{RESPONSE}Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n{chunked_body}"
            ),
            ACCEPTED,
            Expect::SameThenClose,
        )
        .seeing(format!(
            "{RESPONSE}Transfer-Encoding: chunked\r\n\r\n{chunked_body}"
        )),
        case(
            "two equal Content-Length fields",
            format!("{RESPONSE}Content-Length: 2\r\nContent-Length: 2\r\n\r\n{{}}"),
            ACCEPTED,
            Expect::Same,
        ),
        case(
            "two different Content-Length fields",
            format!("{RESPONSE}Content-Length: 2\r\nContent-Length: 3\r\n\r\n{{}}x"),
            ACCEPTED,
            Expect::Refused(400),
        ),
        case(
            "a chunk size that overflows",
            format!(
                "{RESPONSE}Transfer-Encoding: chunked\r\n\r\n1ffffffffffffffff\r\nx\r\n0\r\n\r\n"
            ),
            ACCEPTED,
            Expect::Refused(400),
        ),
        case(
            "chunk extensions and trailers",
            format!("{RESPONSE}Transfer-Encoding: chunked\r\n\r\n{chunked_body}"),
            "HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n2;a=b\r\n{}\r\n0\r\nT: 1\r\n\r\n",
            Expect::Same,
        ),
        case(
            "obs-fold",
            format!("{RESPONSE}X-Folded: a\r\n  b\r\nContent-Length: 0\r\n\r\n"),
            ACCEPTED,
            Expect::Refused(400),
        ),
        case(
            "bare LF line ends",
            "POST /2018-06-01/runtime/invocation/r1/response HTTP/1.1\nContent-Length: 2\n\n{}",
            ACCEPTED,
            Expect::Same,
        ),
        case(
            "a head over a mebibyte",
            format!(
                "{RESPONSE}X-Big: {}\r\nContent-Length: 0\r\n\r\n",
                "b".repeat(1024 * 1024)
            ),
            ACCEPTED,
            Expect::Refused(431),
        ),
        case(
            "more header fields than the parser holds",
            format!("{RESPONSE}{many_fields}Content-Length: 0\r\n\r\n"),
            ACCEPTED,
            Expect::Refused(431),
        ),
        case(
            "pipelined requests",
            format!("{RESPONSE}Content-Length: 2\r\n\r\n{{}}{NEXT}"),
            ACCEPTED,
            Expect::Same,
        )
        .seeing(format!("{RESPONSE}Content-Length: 2\r\n\r\n{{}}"))
        .followed_by(EVENT),
        case(
            "an interim 102 before the answer",
            format!("{RESPONSE}Content-Length: 2\r\n\r\n{{}}"),
            &format!("HTTP/1.1 102 Processing\r\n\r\n{ACCEPTED}"),
            Expect::Same,
        ),
        case(
            "HEAD: a length but no body",
            "HEAD /2018-06-01/runtime/invocation/next HTTP/1.1\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
            Expect::Same,
        ),
        case(
            "204 No Content",
            format!("{RESPONSE}Content-Length: 2\r\n\r\n{{}}"),
            "HTTP/1.1 204 No Content\r\n\r\n",
            Expect::Same,
        ),
        case(
            "304 Not Modified with a length",
            "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\n\r\n",
            "HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n",
            Expect::Same,
        ),
        case(
            "HTTP/1.0 without keep-alive",
            "POST /2018-06-01/runtime/invocation/r1/response HTTP/1.0\r\nContent-Length: 2\r\n\r\n{}",
            ACCEPTED,
            Expect::SameThenClose,
        ),
        case(
            "HTTP/1.0 with keep-alive",
            "POST /2018-06-01/runtime/invocation/r1/response HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\n{}",
            "HTTP/1.0 202 Accepted\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\n{}",
            Expect::Same,
        ),
        case(
            "Connection: close from the runtime",
            format!("{RESPONSE}Connection: close\r\nContent-Length: 2\r\n\r\n{{}}"),
            ACCEPTED,
            Expect::SameThenClose,
        ),
        case(
            "Connection: close from the Runtime API",
            format!("{RESPONSE}Content-Length: 2\r\n\r\n{{}}"),
            "HTTP/1.1 202 Accepted\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}",
            // Each runtime connection has its own Runtime API connection: it closes as it would
            // without faultline.
            Expect::SameThenClose,
        )
        .upstream_closing(),
        case(
            "the runtime closes mid-body",
            format!("{RESPONSE}Content-Length: 100\r\n\r\n{{\"partial"),
            ACCEPTED,
            Expect::Nothing,
        )
        .half_closing(),
        case(
            "the Runtime API closes mid-answer",
            format!("{RESPONSE}Content-Length: 2\r\n\r\n{{}}"),
            "HTTP/1.1 202 Accepted\r\nContent-Length: 100\r\n\r\n{\"partial",
            Expect::SameThenClose,
        )
        .upstream_closing(),
        case(
            "a request half-closed after its body",
            format!("{RESPONSE}Content-Length: 2\r\n\r\n{{}}"),
            ACCEPTED,
            Expect::SameThenClose,
        )
        .half_closing(),
    ]
}

impl Case {
    fn seeing(mut self, sees: String) -> Case {
        self.sees = Some(sees);
        self
    }

    fn followed_by(mut self, then: &'static str) -> Case {
        self.then = then;
        self
    }

    fn upstream_closing(mut self) -> Case {
        self.upstream_closes = true;
        self
    }

    fn half_closing(mut self) -> Case {
        self.half_close = true;
        self
    }
}

/// Reads one request head (and no body) from `conn`; false at its end.
async fn read_next_head(conn: &mut TcpStream) -> bool {
    let mut seen = Vec::new();
    let mut byte = [0u8; 1];
    while !seen.ends_with(b"\r\n\r\n") {
        match tokio::time::timeout(WAIT, conn.read(&mut byte)).await {
            Ok(Ok(1)) => seen.push(byte[0]),
            _ => return false,
        }
    }
    true
}

/// Answers every `/next` on `conn` with [`EVENT`] until it closes.
async fn serve_events(mut conn: TcpStream) {
    while read_next_head(&mut conn).await {
        if conn.write_all(EVENT.as_bytes()).await.is_err() {
            return;
        }
    }
}

/// Every request on every connection gets an event.
fn serve_every_event(listener: TcpListener) {
    tokio::spawn(async move {
        while let Ok((conn, _)) = listener.accept().await {
            tokio::spawn(serve_events(conn));
        }
    });
}

/// The Runtime API of one case: its first connection sees the case's bytes (returned) and gets
/// its answer; every later request, on it or on another connection, gets an event. For a case
/// faultline refuses, every connection gets events (none should carry the refused request).
async fn runtime_api(listener: TcpListener, case: &Case) -> Vec<u8> {
    if let Expect::Refused(_) = case.expect {
        serve_every_event(listener);
        return Vec::new();
    }
    let sees = case
        .sees
        .clone()
        .unwrap_or_else(|| case.sends.clone())
        .into_bytes();
    let Ok(Ok((mut conn, _))) = tokio::time::timeout(WAIT, listener.accept()).await else {
        return Vec::new();
    };
    let mut seen = Vec::new();
    let mut buf = [0u8; 8192];
    while seen.len() < sees.len() {
        match tokio::time::timeout(WAIT, conn.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => seen.extend_from_slice(&buf[..n]),
            _ => break,
        }
    }
    if seen != sees {
        // A request cut short: the relay must close this connection (read to its end).
        let _ = tokio::time::timeout(WAIT, conn.read_to_end(&mut Vec::new())).await;
    } else {
        let _ = conn.write_all(case.answers.as_bytes()).await;
        if !case.upstream_closes {
            tokio::spawn(serve_events(conn));
        }
    }
    serve_every_event(listener);
    seen
}

async fn next_works(runtime: &mut TcpStream) -> Result<(), String> {
    runtime
        .write_all(NEXT.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut event = vec![0u8; EVENT.len()];
    tokio::time::timeout(WAIT, runtime.read_exact(&mut event))
        .await
        .map_err(|_| "no event within the wait".to_string())?
        .map_err(|e| e.to_string())?;
    if event != EVENT.as_bytes() {
        return Err(format!("event {:?}", text(&event)));
    }
    Ok(())
}

async fn run(case: &Case, cut: usize) -> Result<(), String> {
    let (listener, port) = scripted_upstream().await;
    let sees = case.sees.clone().unwrap_or_else(|| case.sends.clone());
    let api = {
        let case = case.clone();
        tokio::spawn(async move { runtime_api(listener, &case).await })
    };
    let expected = format!("{}{}", case.answers, case.then);
    let addr = limited_proxy(&format!("127.0.0.1:{port}"), 256, cut).await;
    let mut runtime = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let (mut from, mut to) = runtime.split();
    let writing = async {
        let _ = to.write_all(case.sends.as_bytes()).await;
        if case.half_close {
            let _ = to.shutdown().await;
        }
    };
    let answer_len = expected.len();
    let reading = async {
        let mut got = Vec::new();
        match case.expect {
            Expect::Same => {
                got.resize(answer_len, 0);
                tokio::time::timeout(WAIT, from.read_exact(&mut got))
                    .await
                    .map_err(|_| format!("no answer within the wait: {:?}", text(&got)))?
                    .map_err(|e| e.to_string())?;
            }
            _ => {
                tokio::time::timeout(WAIT, from.read_to_end(&mut got))
                    .await
                    .map_err(|_| "the relay did not close".to_string())?
                    .map_err(|e| e.to_string())?;
            }
        }
        Ok::<Vec<u8>, String>(got)
    };
    let ((), got) = tokio::join!(writing, reading);
    let got = text(&got?);
    match case.expect {
        Expect::Same | Expect::SameThenClose => {
            if got != expected {
                return Err(format!("the runtime got {got:?}"));
            }
        }
        Expect::Refused(status) => {
            if !got.starts_with(&format!("HTTP/1.1 {status} "))
                || !got.contains("x-faultline: proxy-error\r\n")
            {
                return Err(format!("the runtime got {got:?}"));
            }
        }
        Expect::Nothing => {
            if !got.is_empty() {
                return Err(format!("the runtime got {got:?}"));
            }
        }
    }
    let seen = text(&api.await.map_err(|e| e.to_string())?);
    if matches!(case.expect, Expect::Same | Expect::SameThenClose) && seen != sees {
        return Err(format!("the Runtime API saw {seen:?}"));
    }
    if case.expect == Expect::Same && !case.half_close {
        next_works(&mut runtime)
            .await
            .map_err(|e| format!("the next invocation on the same connection: {e}"))?;
    }
    let mut another = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    next_works(&mut another)
        .await
        .map_err(|e| format!("the next invocation on a new connection: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_case_holds_with_reads_cut_at_every_size() {
    let mut failures = Vec::new();
    for case in cases() {
        for cut in CUTS {
            if cut < 64 && case.sends.len() > 64 * 1024 {
                continue; // a mebibyte head a byte at a time proves nothing more than at 64
            }
            if let Err(err) = run(&case, cut).await {
                failures.push(format!("{} (reads of {cut}): {err}", case.name));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A `/next` that Lambda holds for over a minute (no event for that long): nothing on the
/// relay's path times out.
#[tokio::test]
async fn a_next_held_for_over_a_minute_is_answered() {
    let (listener, port) = scripted_upstream().await;
    tokio::spawn(async move {
        let (mut conn, _) = listener.accept().await.unwrap();
        assert!(read_next_head(&mut conn).await);
        tokio::time::sleep(Duration::from_secs(65)).await;
        conn.write_all(EVENT.as_bytes()).await.unwrap();
        let _ = conn.read(&mut [0u8; 1]).await;
    });
    let mut runtime =
        TcpStream::connect(limited_proxy(&format!("127.0.0.1:{port}"), 256, usize::MAX).await)
            .await
            .unwrap();
    runtime.write_all(NEXT.as_bytes()).await.unwrap();
    let mut event = vec![0u8; EVENT.len()];
    tokio::time::timeout(Duration::from_secs(90), runtime.read_exact(&mut event))
        .await
        .expect("the event after 65 s")
        .unwrap();
    assert_eq!(text(&event), EVENT);
}

/// Several runtime connections at once (a Managed Instance's concurrent invocations), answered
/// in the reverse order of their requests: each gets its own event.
#[tokio::test]
async fn several_runtime_connections_at_once_each_get_their_own_answer() {
    const CONNECTIONS: usize = 8;
    let (listener, port) = scripted_upstream().await;
    tokio::spawn(async move {
        let mut held = Vec::new();
        for _ in 0..CONNECTIONS {
            let (mut conn, _) = listener.accept().await.unwrap();
            assert!(read_next_head(&mut conn).await);
            held.push(conn);
        }
        for (i, conn) in held.iter_mut().enumerate().rev() {
            let event = format!(
                "HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: r{i}\r\nContent-Length: 1\r\n\r\n{}",
                i % 10
            );
            conn.write_all(event.as_bytes()).await.unwrap();
        }
        tokio::time::sleep(WAIT).await;
    });
    let addr = limited_proxy(&format!("127.0.0.1:{port}"), 256, usize::MAX).await;
    let mut runtimes = Vec::new();
    for _ in 0..CONNECTIONS {
        let mut runtime = TcpStream::connect(addr).await.unwrap();
        runtime.write_all(NEXT.as_bytes()).await.unwrap();
        runtimes.push(runtime);
        // In order, so the Runtime API accepts them in the order they were sent.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for (i, runtime) in runtimes.iter_mut().enumerate() {
        let event = format!(
            "HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: r{i}\r\nContent-Length: 1\r\n\r\n{}",
            i % 10
        );
        let mut got = vec![0u8; event.len()];
        tokio::time::timeout(WAIT, runtime.read_exact(&mut got))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(text(&got), event);
    }
}
