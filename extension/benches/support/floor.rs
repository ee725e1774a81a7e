//! The floor: the least a relay in faultline's place can do, measured in the same run as
//! faultline. It runs as its own process (the bench binary started again with
//! [`FLOOR_ENV`] set), on a tokio current-thread runtime with no HTTP library:
//!
//! * a request for the Runtime API is relayed verbatim on one upstream connection per runtime
//!   connection: the head is read until its blank line and located with httparse (method and
//!   Content-Length), written on as it came, and the body copied by its Content-Length; the
//!   answer the same way back;
//! * a CONNECT opens a TCP connection to its target, answers 200 and copies bytes both ways.
//!
//! It handles only what the bench sends (Content-Length framing, no chunked bodies): it is a
//! yardstick, not a proxy.

use super::{Spawned, spawn_ready};
use std::process::{Command, Stdio};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Set to the upstream `host:port` (the Runtime API): the bench binary then runs as the floor.
pub const FLOOR_ENV: &str = "FAULTLINE_BENCH_FLOOR_UPSTREAM";
/// The file the floor writes its listening address to.
const READY_ENV: &str = "FAULTLINE_BENCH_FLOOR_READY";
const BUFFER: usize = 64 * 1024;

/// Starts the floor relay (this bench binary in floor mode) in front of `upstream`.
pub fn start_floor(upstream: std::net::SocketAddr) -> Spawned {
    let dir = tempfile::tempdir().expect("tempdir");
    let ready = dir.path().join("ready");
    let mut command = Command::new(std::env::current_exe().expect("bench binary"));
    command
        .env(FLOOR_ENV, upstream.to_string())
        .env(READY_ENV, &ready)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    spawn_ready(command, dir, &ready, "the floor relay")
}

/// In floor mode (see [`FLOOR_ENV`]) runs the floor relay and never returns; otherwise returns.
pub fn run_if_floor() {
    let Ok(upstream) = std::env::var(FLOOR_ENV) else {
        return;
    };
    let ready = std::env::var(READY_ENV).expect("ready file");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("floor runtime");
    runtime.block_on(async move {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        std::fs::write(&ready, format!("{addr}\n")).expect("ready file");
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            let upstream = upstream.clone();
            tokio::spawn(async move {
                let _ = connection(stream, upstream).await;
            });
        }
    });
    std::process::exit(0);
}

/// A message head read from `stream` into `buf` (which may hold more: the start of the body).
/// Returns the head's length, or None at a clean end of stream.
async fn read_head(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Option<usize> {
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            return Some(end + 4);
        }
        let mut chunk = [0u8; 8192];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn content_length(headers: &[httparse::Header<'_>]) -> usize {
    headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("content-length"))
        .and_then(|h| std::str::from_utf8(h.value).ok())
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// The body length of a request head (None: not a request head).
fn request_length(head: &[u8]) -> Option<usize> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut request = httparse::Request::new(&mut headers);
    request.parse(head).ok()?;
    Some(content_length(request.headers))
}

/// The body length of a response head (None: not a response head).
fn response_length(head: &[u8]) -> Option<usize> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut response = httparse::Response::new(&mut headers);
    response.parse(head).ok()?;
    Some(content_length(response.headers))
}

/// Reads one message head from `from` (or finds it already in `buf`), and writes it and its
/// body on to `to`.
async fn relay_one(
    from: &mut TcpStream,
    to: &mut TcpStream,
    buf: &mut Vec<u8>,
    length_of: fn(&[u8]) -> Option<usize>,
) -> Option<()> {
    let head = read_head(from, buf).await?;
    let length = length_of(&buf[..head])?;
    relay_message(from, to, buf, head, length).await
}

/// Writes the head and `length` body bytes (some already in `buf` after the head) to `to`.
async fn relay_message(
    from: &mut TcpStream,
    to: &mut TcpStream,
    buf: &mut Vec<u8>,
    head: usize,
    length: usize,
) -> Option<()> {
    let have = (buf.len() - head).min(length);
    to.write_all(&buf[..head + have]).await.ok()?;
    let rest = buf.split_off(head + have);
    *buf = rest;
    let mut left = length - have;
    let mut chunk = vec![0u8; BUFFER.min(left.max(1))];
    while left > 0 {
        let want = left.min(chunk.len());
        let n = from.read(&mut chunk[..want]).await.ok()?;
        if n == 0 {
            return None;
        }
        to.write_all(&chunk[..n]).await.ok()?;
        left -= n;
    }
    Some(())
}

/// One runtime connection: a CONNECT becomes a tunnel; anything else is relayed message by
/// message on one upstream connection, a request then its answer.
async fn connection(mut client: TcpStream, upstream: String) -> Option<()> {
    let mut buf = Vec::with_capacity(8192);
    let head = read_head(&mut client, &mut buf).await?;
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut request = httparse::Request::new(&mut headers);
    let httparse::Status::Complete(_) = request.parse(&buf[..head]).ok()? else {
        return None;
    };
    if request.method == Some("CONNECT") {
        let target = request.path?.to_string();
        tunnel(client, &target, buf.split_off(head)).await;
        return Some(());
    }
    let mut server = TcpStream::connect(&upstream).await.ok()?;
    let _ = server.set_nodelay(true);
    let mut answer = Vec::with_capacity(8192);
    loop {
        relay_one(&mut client, &mut server, &mut buf, request_length).await?;
        relay_one(&mut server, &mut client, &mut answer, response_length).await?;
    }
}

async fn tunnel(mut client: TcpStream, target: &str, early: Vec<u8>) {
    let Ok(mut server) = TcpStream::connect(target).await else {
        let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n").await;
        return;
    };
    let _ = server.set_nodelay(true);
    if client
        .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        .await
        .is_err()
        || server.write_all(&early).await.is_err()
    {
        return;
    }
    let _ =
        tokio::io::copy_bidirectional_with_sizes(&mut client, &mut server, BUFFER, BUFFER).await;
}
