//! Arbitrary bytes on both sides of the relay (`make fuzz` runs 20,000 cases; `make test` the
//! default 256): whatever the runtime and the Runtime API send, the relay never panics and
//! never hangs once both have had their say, and the runtime gets what the Runtime API sent
//! (each connection's answer whole or as far as it goes), possibly followed by one well-formed
//! answer of faultline's own, and nothing else.

use super::RuntimeProxy;
use super::{no_experiment, text};
use crate::invocation::CurrentInvocation;
use crate::lambda::endpoint::ApiEndpoint;
use proptest::prelude::*;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A change to a message: none, some arbitrary bytes put in somewhere, or the end cut off.
#[derive(Debug, Clone)]
enum Mutation {
    None,
    Insert(usize, Vec<u8>),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        6 => Just(Mutation::None),
        2 => (any::<usize>(), proptest::collection::vec(any::<u8>(), 1..4))
            .prop_map(|(at, bytes)| Mutation::Insert(at, bytes)),
        2 => any::<usize>().prop_map(Mutation::Truncate),
    ]
}

/// One message: a start line, some fields, the empty line, a body; then possibly mutated.
fn message(
    line: impl Strategy<Value = &'static str>,
    field: impl Strategy<Value = &'static str>,
    body: impl Strategy<Value = &'static str>,
) -> impl Strategy<Value = Vec<u8>> {
    (
        line,
        proptest::collection::vec(field, 0..4),
        body,
        mutation(),
    )
        .prop_map(|(line, fields, body, mutation)| {
            let mut bytes = format!("{line}{}\r\n{body}", fields.concat()).into_bytes();
            match mutation {
                Mutation::None => {}
                Mutation::Insert(at, extra) => {
                    let at = at % (bytes.len() + 1);
                    bytes.splice(at..at, extra);
                }
                Mutation::Truncate(at) => bytes.truncate(at % (bytes.len() + 1)),
            }
            bytes
        })
}

/// What a runtime sends: one to three requests, mostly near-valid so that the cases reach past
/// the request line, or arbitrary bytes.
fn runtime_bytes() -> impl Strategy<Value = Vec<u8>> {
    let request = message(
        prop_oneof![
            Just("GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\n"),
            Just("POST /2018-06-01/runtime/invocation/r/response HTTP/1.1\r\n"),
            Just("POST /2018-06-01/runtime/invocation/r/error HTTP/1.0\r\n"),
            Just("HEAD http://h/2018-06-01/runtime/invocation/next HTTP/1.1\r\n"),
        ],
        prop_oneof![
            Just("Content-Length: 4\r\n"),
            Just("Content-Length: 99999999999999999999\r\n"),
            Just("Transfer-Encoding: chunked\r\n"),
            Just("Expect: 100-continue\r\n"),
            Just("Connection: close\r\n"),
            Just("Connection: keep-alive\r\n"),
            Just("Lambda-Runtime-Function-Response-Mode: streaming\r\n"),
        ],
        prop_oneof![
            Just(""),
            Just("body"),
            Just("4\r\nbody\r\n0\r\n\r\n"),
            Just("4\r\nbody\r\n0\r\nT: v\r\n\r\n"),
            Just("ffffffffffffffffff\r\n"),
        ],
    );
    prop_oneof![
        8 => proptest::collection::vec(request, 1..4).prop_map(|messages| messages.concat()),
        1 => proptest::collection::vec(any::<u8>(), 0..256),
    ]
}

/// What the Runtime API answers on each connection.
fn answer_bytes() -> impl Strategy<Value = Vec<u8>> {
    let answer = message(
        prop_oneof![
            Just("HTTP/1.1 200 OK\r\n"),
            Just("HTTP/1.1 202 Accepted\r\n"),
            Just("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 202 Accepted\r\n"),
            Just("HTTP/1.1 101 Switching Protocols\r\n"),
            Just("HTTP/1.0 204 No Content\r\n"),
            Just("HTTP/1.1 410 Gone\r\n"),
        ],
        prop_oneof![
            Just("Lambda-Runtime-Aws-Request-Id: r\r\n"),
            Just("Lambda-Runtime-Invocation-Id: i\r\n"),
            Just("Content-Length: 2\r\n"),
            Just("Transfer-Encoding: chunked\r\n"),
            Just("Connection: close\r\n"),
        ],
        prop_oneof![Just(""), Just("{}"), Just("2\r\n{}\r\n0\r\n\r\n")],
    );
    prop_oneof![
        8 => answer,
        1 => proptest::collection::vec(any::<u8>(), 0..256),
    ]
}

/// A Runtime API that answers every connection with `answer` once it has read something (or
/// nothing came within a moment), then closes it.
async fn runtime_api(listener: TcpListener, answer: Vec<u8>) {
    while let Ok((mut conn, _)) = listener.accept().await {
        let answer = answer.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 64 * 1024];
            let _ = tokio::time::timeout(Duration::from_millis(50), conn.read(&mut buf)).await;
            let _ = conn.write_all(&answer).await;
            let _ = conn.shutdown().await;
            let _ = tokio::time::timeout(Duration::from_millis(200), async {
                while matches!(conn.read(&mut buf).await, Ok(n) if n > 0) {}
            })
            .await;
        });
    }
}

/// Whether `got` is a run of starts of `answer` (each Runtime API connection's answer, whole or
/// as far as it goes: a HEAD or a 204 takes only the head, a broken connection cuts it short),
/// then at most one complete answer of faultline's own.
fn well_formed(got: &[u8], answer: &[u8]) -> Result<(), String> {
    // Every place a run of starts of the answer can reach.
    let mut reachable = vec![false; got.len() + 1];
    reachable[0] = true;
    for at in 0..got.len() {
        if !reachable[at] {
            continue;
        }
        let common = got[at..]
            .iter()
            .zip(answer)
            .take_while(|(a, b)| a == b)
            .count();
        reachable[at + 1..=at + common].fill(true);
    }
    let fits =
        reachable[got.len()] || (0..got.len()).any(|at| reachable[at] && is_own_answer(&got[at..]));
    if fits {
        Ok(())
    } else {
        Err(format!(
            "not the Runtime API's bytes nor one answer of faultline's: {:?}",
            text(got)
        ))
    }
}

/// Whether `bytes` are exactly one complete answer marked as faultline's.
fn is_own_answer(bytes: &[u8]) -> bool {
    let mut fields = [httparse::EMPTY_HEADER; 16];
    let mut head = httparse::Response::new(&mut fields);
    let Ok(httparse::Status::Complete(len)) = head.parse(bytes) else {
        return false;
    };
    let marked = head
        .headers
        .iter()
        .any(|h| h.name == "x-faultline" && h.value == b"proxy-error");
    let length = head
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("content-length"))
        .and_then(|h| std::str::from_utf8(h.value).ok()?.parse::<usize>().ok());
    marked && length == Some(bytes.len() - len)
}

async fn case(runtime_bytes: Vec<u8>, answer: Vec<u8>) -> Result<(), String> {
    let upstream = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let port = upstream.local_addr().map_err(|e| e.to_string())?.port();
    let api = tokio::spawn(runtime_api(upstream, answer.clone()));
    let proxy = RuntimeProxy::new(
        ApiEndpoint::parse(&format!("127.0.0.1:{port}")).map_err(|e| e.to_string())?,
        no_experiment(),
        None,
        CurrentInvocation::default(),
    );
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let mut runtime = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let (stream, _) = listener.accept().await.map_err(|e| e.to_string())?;
    let served = tokio::spawn(async move { proxy.serve_connection(stream).await });
    let (mut from, mut to) = runtime.split();
    let writing = async {
        let _ = to.write_all(&runtime_bytes).await;
        let _ = to.shutdown().await;
    };
    let reading = async {
        let mut got = Vec::new();
        let _ = from.read_to_end(&mut got).await;
        got
    };
    let outcome = tokio::time::timeout(Duration::from_secs(10), async {
        let ((), got) = tokio::join!(writing, reading);
        (got, served.await)
    })
    .await;
    api.abort();
    let (got, served) = outcome.map_err(|_| "the relay hung".to_string())?;
    if let Err(err) = served {
        return Err(format!("the relay's task failed: {err}"));
    }
    well_formed(&got, &answer)
}

proptest! {
    #[test]
    fn arbitrary_bytes_from_both_sides(
        runtime_bytes in runtime_bytes(),
        answer in answer_bytes(),
    ) {
        let tokio = tokio::runtime::Builder::new_current_thread().enable_all().build();
        let tokio = tokio.map_err(|e| TestCaseError::fail(e.to_string()))?;
        let checked = tokio.block_on(case(runtime_bytes.clone(), answer.clone()));
        prop_assert!(
            checked.is_ok(),
            "{:?}\nruntime sent {:?}\nRuntime API answered {:?}",
            checked,
            text(&runtime_bytes),
            text(&answer)
        );
    }
}
