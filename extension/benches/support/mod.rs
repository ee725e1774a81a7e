//! Helpers shared by the benchmarks: a minimal Runtime/Extensions API, the extension started as
//! its own process, percentiles.

#![allow(dead_code)]

pub mod floor;

use faultline_extension::net::client::full_body;
#[allow(unused_imports)] // each bench uses some
pub use faultline_testkit::{repo_root, rss_kib};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A minimal Runtime + Extensions API: answers at once, payload size set by the bench. Each
/// event carries what Lambda sends: a request id, an invocation id and a trace id unique to it,
/// the deadline and the function ARN.
#[derive(Default)]
pub struct Upstream {
    pub payload: AtomicUsize,
    pub connections: AtomicUsize,
    pub registered: Mutex<Option<Instant>>,
    /// Events handed out so far: each gets the next number in its ids.
    pub events: AtomicUsize,
    /// The event to hand out instead of `payload` bytes of `x`, when set.
    pub event: Mutex<Option<bytes::Bytes>>,
}

impl Upstream {
    pub fn with_payload(size: usize) -> Upstream {
        Upstream {
            payload: AtomicUsize::new(size),
            ..Upstream::default()
        }
    }
}

/// A config whose one experiment is on dependency traffic: it never acts on the Runtime API.
pub const EGRESS_ONLY: &str =
    "experiments:\n  - {name: bench-elsewhere, flag: egress, effect: {latency: 0}}\n";
/// The same experiment under a guard: every invocation is watched and every answer judged, and
/// no fault applies on the Runtime API.
pub const GUARDED: &str = "guard: {max_error_rate: 50%}\nexperiments:\n  - {name: bench-guarded, flag: egress, effect: {latency: 0}}\n";

/// The header that carries the request id, and the invocation id runtime clients echo.
pub const REQUEST_ID: &str = "lambda-runtime-aws-request-id";
pub const INVOCATION_ID: &str = "lambda-runtime-invocation-id";

async fn upstream_handle(
    upstream: Arc<Upstream>,
    request: http::Request<Incoming>,
) -> Result<http::Response<faultline_extension::net::client::ProxyBody>, Infallible> {
    let path = request.uri().path().to_string();
    let _ = request.into_body().collect().await;
    let response = if path.ends_with("/extension/register") {
        *upstream.registered.lock().expect("lock") = Some(Instant::now());
        http::Response::builder()
            .header("lambda-extension-identifier", "bench")
            .body(full_body("{}"))
    } else if path.ends_with("/extension/event/next") {
        // Never returns: the bench kills the extension when done.
        std::future::pending::<()>().await;
        http::Response::builder().body(full_body(""))
    } else if path.ends_with("/invocation/next") {
        let size = upstream.payload.load(Ordering::Relaxed);
        let n = upstream.events.fetch_add(1, Ordering::Relaxed);
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        http::Response::builder()
            .header("content-type", "application/json")
            .header(REQUEST_ID, format!("8476a536-e9f4-11e8-9739-{n:012x}"))
            .header("lambda-runtime-deadline-ms", (now_ms + 900_000).to_string())
            .header(
                "lambda-runtime-invoked-function-arn",
                "arn:aws:lambda:us-east-1:123456789012:function:bench",
            )
            .header(
                "lambda-runtime-trace-id",
                format!("Root=1-5bef4de7-{n:024x};Parent=9a9197af755a6419;Sampled=1"),
            )
            .header(INVOCATION_ID, format!("{n:032x}"))
            .body(full_body(
                upstream
                    .event
                    .lock()
                    .expect("lock")
                    .clone()
                    .unwrap_or_else(|| bytes::Bytes::from(vec![b'x'; size])),
            ))
    } else {
        http::Response::builder().status(202).body(full_body(""))
    };
    Ok(response.unwrap_or_default())
}

/// One invocation as a current runtime client does it: fetch the event, then post `payload` as
/// the answer for its request id, echoing its invocation id. Returns when the event's head
/// arrived.
pub async fn run_invocation(
    client: &faultline_extension::net::client::HttpClient,
    api: &str,
    payload: &bytes::Bytes,
) -> Instant {
    let next = client
        .request(
            http::Request::get(format!("http://{api}/2018-06-01/runtime/invocation/next"))
                .body(full_body(bytes::Bytes::new()))
                .expect("request"),
        )
        .await
        .expect("next");
    let arrived = Instant::now();
    let header = |name: &str| {
        next.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let (request_id, invocation_id) = (header(REQUEST_ID), header(INVOCATION_ID));
    let _event = next.into_body().collect().await.expect("event").to_bytes();
    let response = client
        .request(
            http::Request::post(format!(
                "http://{api}/2018-06-01/runtime/invocation/{request_id}/response"
            ))
            .header(INVOCATION_ID, invocation_id)
            .body(full_body(payload.clone()))
            .expect("request"),
        )
        .await
        .expect("response");
    let _ = response.into_body().collect().await;
    arrived
}

/// Serves every connection accepted on a fresh loopback listener with `serve`, on a thread of
/// its own (with its own runtime, so servers and the measuring client do not share a scheduler).
pub fn serve_on_thread<F, Fut>(serve: F) -> std::net::SocketAddr
where
    F: Fn(tokio::net::TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    listener.set_nonblocking(true).expect("nonblocking");
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("server runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            while let Ok((stream, _)) = listener.accept().await {
                let _ = stream.set_nodelay(true);
                tokio::spawn(serve(stream));
            }
        });
    });
    addr
}

pub fn start_upstream(upstream: Arc<Upstream>) -> std::net::SocketAddr {
    serve_on_thread(move |stream| {
        upstream.connections.fetch_add(1, Ordering::Relaxed);
        let upstream = Arc::clone(&upstream);
        async move {
            let service = service_fn(move |req| upstream_handle(Arc::clone(&upstream), req));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        }
    })
}

/// A process a bench started (faultline, the floor relay), killed when dropped.
pub struct Spawned {
    pub child: Child,
    /// The address it listens on: the first word of the line it wrote to its ready file.
    pub addr: String,
    _dir: tempfile::TempDir,
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Spawns `command`, which writes a line starting with its listening address to `ready` (a file
/// in `dir`), and waits for that line.
pub fn spawn_ready(
    mut command: Command,
    dir: tempfile::TempDir,
    ready: &std::path::Path,
    what: &str,
) -> Spawned {
    let mut child = command
        .spawn()
        .unwrap_or_else(|err| panic!("spawn {what}: {err}"));
    let deadline = Instant::now() + Duration::from_secs(10);
    let addr = loop {
        if let Ok(text) = std::fs::read_to_string(ready)
            && text.ends_with('\n')
            && let Some(addr) = text.split_whitespace().next()
        {
            break addr.to_string();
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            panic!("{what} did not become ready");
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    Spawned {
        child,
        addr,
        _dir: dir,
    }
}

/// Starts the faultline binary against `upstream`, with `env` added, and waits for its ready file.
pub fn start_extension(
    upstream: std::net::SocketAddr,
    env: &[(&str, String)],
) -> (Spawned, Instant) {
    start_binary(Path::new(env!("CARGO_BIN_EXE_faultline")), upstream, env)
}

/// [`start_extension`] with another faultline binary (an earlier build, for an A/B run).
pub fn start_binary(
    binary: &Path,
    upstream: std::net::SocketAddr,
    env: &[(&str, String)],
) -> (Spawned, Instant) {
    start_wrapped(&[], binary, upstream, env)
}

/// [`start_binary`] run by `wrapper` (a program and its arguments, valgrind's say), which
/// runs the binary in its own process.
pub fn start_wrapped(
    wrapper: &[String],
    binary: &Path,
    upstream: std::net::SocketAddr,
    env: &[(&str, String)],
) -> (Spawned, Instant) {
    let dir = tempfile::tempdir().expect("tempdir");
    let ready = dir.path().join("ready");
    let started = Instant::now();
    let mut command = match wrapper.split_first() {
        Some((program, args)) => {
            let mut command = Command::new(program);
            command.args(args).arg(binary);
            command
        }
        None => Command::new(binary),
    };
    command
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", upstream.to_string())
        .env("GREMLIN_LAMBDA_ENABLED", "true")
        .env("GREMLIN_LAMBDA_API_PROXY_PORT", "127.0.0.1:0")
        .env("FAULTLINE_READY_FILE", &ready)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    (spawn_ready(command, dir, &ready, "faultline"), started)
}

pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

pub fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// User + system CPU time of a process, from /proc (clock ticks are 10 ms on Linux).
pub fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 10))
}

/// CPU time of every thread of a process, in nanoseconds, from /proc/PID/task/*/schedstat (its
/// first field: time spent on a CPU), far finer than the 10 ms ticks of /proc/PID/stat.
pub fn cpu_time_ns(pid: u32) -> Option<Duration> {
    let mut total = 0u64;
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
        let path = task.ok()?.path().join("schedstat");
        let text = std::fs::read_to_string(path).ok()?;
        total += text.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(Duration::from_nanos(total))
}

/// A process's CPU migrations and context switches (voluntary + involuntary) so far, summed over
/// its threads, from /proc/PID/task/*/sched (CONFIG_SCHED_DEBUG kernels).
pub fn sched_counts(pid: u32) -> Option<(u64, u64)> {
    let (mut migrations, mut switches) = (0u64, 0u64);
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
        let text = std::fs::read_to_string(task.ok()?.path().join("sched")).ok()?;
        for line in text.lines() {
            let mut parts = line.split(':');
            let (Some(name), Some(value)) = (parts.next(), parts.next()) else {
                continue;
            };
            let value: u64 = value.trim().parse().unwrap_or(0);
            match name.trim() {
                "se.nr_migrations" => migrations += value,
                "nr_switches" => switches += value,
                _ => {}
            }
        }
    }
    Some((migrations, switches))
}

/// An HTTP-shaped answer of `size` bytes, `{"statusCode":200,"body":"yyy..."}`, as an API
/// function gives (what a guard reads).
pub fn json_answer(size: usize) -> bytes::Bytes {
    let head = r#"{"statusCode":200,"body":""#;
    let tail = r#""}"#;
    let fill = size.saturating_sub(head.len() + tail.len());
    let mut answer = Vec::with_capacity(size);
    answer.extend_from_slice(head.as_bytes());
    answer.resize(head.len() + fill, b'y');
    answer.extend_from_slice(tail.as_bytes());
    bytes::Bytes::from(answer)
}
