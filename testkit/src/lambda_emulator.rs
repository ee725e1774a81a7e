//! A Lambda Runtime API + Extensions API emulator for the tests and the demo, written from the AWS
//! documentation ("Using the Lambda runtime API", "Lambda Extensions API"). Unlike cargo-lambda's
//! emulator it sets Content-Type on /next (awslambdaric needs it), records streamed responses
//! with their trailers, and can send SHUTDOWN to extensions.
//!
//! Like Lambda since mid-2026, `/next` sends `Lambda-Runtime-Invocation-Id`, unique per
//! invocation, and an answer that carries another invocation's id, or that comes after the
//! invocation timed out, gets `410 Gone` (`ErrorRuntimeInvokeTimeout`). The emulator is stricter
//! than Lambda in one respect, so that faultline never relies on leniency: an answer without the
//! id is refused with 400 once the id was sent (Lambda accepts it from older runtime clients).
//! [`Emulator::accept_answers_without_invocation_id`] turns that off for runtimes that predate
//! the header. Each invocation times out after [`Emulator::set_invocation_timeout`] (60 s by
//! default): the caller gets the `Sandbox.Timedout` error Lambda reports.
//!
//! INIT ends as Lambda's does: when the runtime and every registered extension have asked for
//! their next event. No invocation is handed to the runtime before. An extension that reports
//! `/extension/init/error` fails the INIT: every invocation then fails with its error type and
//! message, and none reaches the runtime ([`Emulator::init_error`]).

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http_body_util::BodyExt;
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, oneshot, watch};

/// How an invocation ended, as Lambda would report it to the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Response {
        body: Bytes,
        streaming: bool,
        trailers: Option<Vec<(String, String)>>,
    },
    Error {
        error_type: Option<String>,
        body: Bytes,
    },
}

impl Outcome {
    pub fn body(&self) -> &Bytes {
        match self {
            Outcome::Response { body, .. } | Outcome::Error { body, .. } => body,
        }
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(self.body()).unwrap_or(serde_json::Value::Null)
    }
}

#[derive(Debug, Clone)]
pub struct Registration {
    pub name: String,
    pub events: serde_json::Value,
    pub at: Instant,
    /// Ready file contents at the moment of registration, and whether its address accepted a
    /// TCP connection then.
    pub ready_file: Option<String>,
    pub proxy_listening: bool,
}

struct Pending {
    id: String,
    payload: Bytes,
}

/// The header naming one invocation, sent on `/next` and echoed on its answer.
pub const INVOCATION_ID: &str = "lambda-runtime-invocation-id";

/// The error type Lambda reports to the caller of an invocation that timed out.
pub const TIMED_OUT: &str = "Sandbox.Timedout";

struct Shared {
    queue: Mutex<VecDeque<Pending>>,
    queued: Notify,
    waiting: Mutex<HashMap<String, oneshot::Sender<Outcome>>>,
    /// Invocation ids of the invocations handed to the runtime and not yet answered, by request
    /// id.
    delivered: Mutex<HashMap<String, String>>,
    /// Request ids of invocations that timed out: a late answer gets 410.
    timed_out: Mutex<std::collections::HashSet<String>>,
    /// Answers without `Lambda-Runtime-Invocation-Id` are accepted (as Lambda does).
    lenient: std::sync::atomic::AtomicBool,
    /// Tenant isolation: the tenant the next events are for (`Lambda-Runtime-Aws-Tenant-Id`).
    tenant: Mutex<Option<String>>,
    /// Whether invocations are sampled for tracing (`Sampled=1`).
    sampled: std::sync::atomic::AtomicBool,
    /// The trace header of each invocation handed to the runtime, in order.
    traces: Mutex<Vec<String>>,
    /// When each invocation in flight was handed to the runtime, by request id.
    started: Mutex<HashMap<String, (std::time::SystemTime, Instant)>>,
    /// Every invocation that ended, in order: what Lambda's metrics count.
    finished: Mutex<Vec<Finished>>,
    timeout: Mutex<Duration>,
    /// Answers refused (status, request id, why), in order.
    refused: Mutex<Vec<(u16, String, String)>>,
    /// SnapStart: `restore/next` is answered once restored.
    restored: Notify,
    restored_flag: std::sync::atomic::AtomicBool,
    restore_waiting: AtomicUsize,
    registrations: Mutex<Vec<Registration>>,
    /// Identifiers of the extensions that asked for their next event, with when they first did.
    extensions_asked: Mutex<HashMap<String, Instant>>,
    /// The runtime asked for its first invocation.
    runtime_asked: std::sync::atomic::AtomicBool,
    /// When INIT ended (the runtime and every extension asked for their next event).
    init_ended: watch::Sender<Option<Instant>>,
    /// An extension's `/extension/init/error`: its error type and message.
    init_error: Mutex<Option<(String, String)>>,
    ready_probe: Mutex<Option<PathBuf>>,
    counter: AtomicU64,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

impl Default for Shared {
    fn default() -> Shared {
        Shared {
            queue: Mutex::default(),
            queued: Notify::new(),
            waiting: Mutex::default(),
            delivered: Mutex::default(),
            timed_out: Mutex::default(),
            lenient: std::sync::atomic::AtomicBool::new(false),
            tenant: Mutex::default(),
            sampled: std::sync::atomic::AtomicBool::new(true),
            traces: Mutex::default(),
            started: Mutex::default(),
            finished: Mutex::default(),
            timeout: Mutex::new(Duration::from_secs(60)),
            refused: Mutex::default(),
            restored: Notify::new(),
            restored_flag: std::sync::atomic::AtomicBool::new(false),
            restore_waiting: AtomicUsize::new(0),
            registrations: Mutex::default(),
            extensions_asked: Mutex::default(),
            runtime_asked: std::sync::atomic::AtomicBool::new(false),
            init_ended: watch::channel(None).0,
            init_error: Mutex::default(),
            ready_probe: Mutex::default(),
            counter: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
        }
    }
}

pub struct Emulator {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: watch::Sender<bool>,
    server: tokio::task::JoinHandle<()>,
}

#[derive(Clone)]
struct AppState {
    shared: Arc<Shared>,
    shutdown: watch::Receiver<bool>,
}

impl Emulator {
    pub async fn start() -> Emulator {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind emulator");
        let addr = listener.local_addr().expect("emulator address");
        let shared = Arc::new(Shared::default());
        let (shutdown, shutdown_rx) = watch::channel(false);
        let state = AppState {
            shared: Arc::clone(&shared),
            shutdown: shutdown_rx,
        };
        let app = Router::new()
            .route("/2020-01-01/extension/register", post(register))
            .route("/2020-01-01/extension/event/next", get(event_next))
            .route(
                "/2020-01-01/extension/init/error",
                post(extension_init_error),
            )
            .route("/2018-06-01/runtime/invocation/next", get(invocation_next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(invocation_response),
            )
            .route(
                "/2018-06-01/runtime/invocation/{id}/error",
                post(invocation_error),
            )
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .route("/2018-06-01/runtime/restore/next", get(restore_next))
            .route("/2018-06-01/runtime/restore/error", post(init_error))
            .with_state(state);
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Emulator {
            addr,
            shared,
            shutdown,
            server,
        }
    }

    /// AWS_LAMBDA_RUNTIME_API as Lambda sets it: `127.0.0.1:PORT`.
    pub fn runtime_api(&self) -> String {
        self.addr.to_string()
    }

    /// At each registration, read this ready file and probe the address it names.
    pub fn probe_ready_file(&self, path: PathBuf) {
        *self.shared.ready_probe.lock().expect("lock") = Some(path);
    }

    /// Queues one invocation and waits for its outcome.
    pub async fn invoke(&self, payload: impl Into<Bytes>) -> Outcome {
        self.try_invoke(payload, Duration::from_secs(60))
            .await
            .expect("invocation finished in time")
    }

    pub async fn try_invoke(
        &self,
        payload: impl Into<Bytes>,
        timeout: Duration,
    ) -> Option<Outcome> {
        let id = format!(
            "req-{}-{}",
            std::process::id(),
            self.shared.counter.fetch_add(1, Ordering::SeqCst)
        );
        if let Some(outcome) = init_failed(&self.shared) {
            return Some(outcome);
        }
        let (tx, rx) = oneshot::channel();
        self.shared
            .waiting
            .lock()
            .expect("lock")
            .insert(id.clone(), tx);
        self.shared.queue.lock().expect("lock").push_back(Pending {
            id,
            payload: payload.into(),
        });
        self.shared.queued.notify_one();
        tokio::time::timeout(timeout, rx).await.ok()?.ok()
    }

    /// SnapStart: answers the runtime's `restore/next`, which it calls before the snapshot, as
    /// Lambda does once the environment was restored.
    pub fn restore(&self) {
        self.shared.restored_flag.store(true, Ordering::SeqCst);
        self.shared.restored.notify_waiters();
    }

    /// Whether a runtime is waiting on `restore/next` (the snapshot point).
    pub fn restore_pending(&self) -> bool {
        self.shared.restore_waiting.load(Ordering::SeqCst) > 0
    }

    /// How long each invocation handed to the runtime from now on may run before it times out.
    pub fn set_invocation_timeout(&self, timeout: Duration) {
        *self.shared.timeout.lock().expect("lock") = timeout;
    }

    /// Whether the next invocations' traces are sampled (`Sampled=1`, the default) or not.
    pub fn set_sampled(&self, sampled: bool) {
        self.shared.sampled.store(sampled, Ordering::SeqCst);
    }

    /// Every invocation that ended so far, in order (what Lambda's `Invocations`, `Errors` and
    /// `Duration` metrics count).
    pub fn finished(&self) -> Vec<Finished> {
        self.shared.finished.lock().expect("lock").clone()
    }

    /// The trace header (`Lambda-Runtime-Trace-Id`) of each invocation handed to the runtime.
    pub fn trace_headers(&self) -> Vec<String> {
        self.shared.traces.lock().expect("lock").clone()
    }

    /// Sends the next events for `tenant` (`Lambda-Runtime-Aws-Tenant-Id` on `/next`), as Lambda
    /// does for a function with tenant isolation; None: no such header.
    pub fn set_tenant(&self, tenant: Option<&str>) {
        *self.shared.tenant.lock().expect("lock") = tenant.map(str::to_string);
    }

    /// Accepts answers without `Lambda-Runtime-Invocation-Id`, as Lambda does for runtime clients
    /// that predate it.
    pub fn accept_answers_without_invocation_id(&self) {
        self.shared.lenient.store(true, Ordering::SeqCst);
    }

    /// The answers refused so far: status, request id and why.
    pub fn refused(&self) -> Vec<(u16, String, String)> {
        self.shared.refused.lock().expect("lock").clone()
    }

    /// The most invocations handed to the runtime and not yet answered at one time.
    pub fn max_in_flight(&self) -> usize {
        self.shared.max_in_flight.load(Ordering::SeqCst)
    }

    pub fn registrations(&self) -> Vec<Registration> {
        self.shared.registrations.lock().expect("lock").clone()
    }

    pub async fn wait_registered(&self, count: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.registrations().len() >= count {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        false
    }

    /// When INIT ended: the runtime and every registered extension had asked for their next
    /// event.
    pub fn init_ended(&self) -> Option<Instant> {
        *self.shared.init_ended.borrow()
    }

    /// Waits for the end of INIT, `timeout` at most.
    pub async fn wait_init_ended(&self, timeout: Duration) -> Option<Instant> {
        let mut rx = self.shared.init_ended.subscribe();
        let ended = tokio::time::timeout(timeout, rx.wait_for(Option::is_some)).await;
        ended.ok().and_then(|r| r.ok()).and_then(|at| *at)
    }

    /// Waits until `count` extensions have asked for their next event, `timeout` at most.
    pub async fn wait_extensions_asked(&self, count: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.shared.extensions_asked.lock().expect("lock").len() >= count {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        false
    }

    /// How long after registering the extension `name` first asked for its next event.
    pub fn extension_init_time(&self, name: &str) -> Option<Duration> {
        let registered = self
            .registrations()
            .into_iter()
            .find(|r| r.name == name)?
            .at;
        let asked = *self
            .shared
            .extensions_asked
            .lock()
            .expect("lock")
            .get(&format!("ext-{name}"))?;
        Some(asked.saturating_duration_since(registered))
    }

    /// The error type and message an extension reported on `/extension/init/error`, if one did.
    pub fn init_error(&self) -> Option<(String, String)> {
        self.shared.init_error.lock().expect("lock").clone()
    }

    /// Sends SHUTDOWN to every extension waiting on /event/next.
    pub fn shutdown_extensions(&self) {
        let _ = self.shutdown.send(true);
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn register(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let name = headers
        .get("lambda-extension-name")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    if name.is_empty() {
        return (StatusCode::BAD_REQUEST, "missing Lambda-Extension-Name").into_response();
    }
    let events = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    let probe = state.shared.ready_probe.lock().expect("lock").clone();
    let ready_file = probe.and_then(|path| std::fs::read_to_string(path).ok());
    let proxy_listening = match ready_file
        .as_deref()
        .and_then(|text| text.split_whitespace().next())
        .and_then(|addr| addr.parse::<SocketAddr>().ok())
    {
        Some(addr) => tokio::net::TcpStream::connect(addr).await.is_ok(),
        None => false,
    };
    state
        .shared
        .registrations
        .lock()
        .expect("lock")
        .push(Registration {
            name: name.clone(),
            events,
            at: Instant::now(),
            ready_file,
            proxy_listening,
        });
    (
        [
            ("lambda-extension-identifier", format!("ext-{name}")),
            ("content-type", "application/json".to_string()),
        ],
        r#"{"functionName":"test-fn","functionVersion":"$LATEST","handler":"handler.dispatch"}"#,
    )
        .into_response()
}

/// Ends INIT if the runtime and every registered extension have asked for their next event.
fn check_init_ended(shared: &Shared) {
    if shared.init_ended.borrow().is_some() || !shared.runtime_asked.load(Ordering::SeqCst) {
        return;
    }
    let asked = shared.extensions_asked.lock().expect("lock");
    let all = shared
        .registrations
        .lock()
        .expect("lock")
        .iter()
        .all(|r| asked.contains_key(&format!("ext-{}", r.name)));
    if all {
        shared.init_ended.send_replace(Some(Instant::now()));
    }
}

/// The outcome every invocation gets once an extension failed the INIT, if one did.
fn init_failed(shared: &Shared) -> Option<Outcome> {
    let (error_type, message) = shared.init_error.lock().expect("lock").clone()?;
    let body = serde_json::json!({"errorType": error_type, "errorMessage": message});
    Some(Outcome::Error {
        error_type: Some(error_type),
        body: Bytes::from(body.to_string()),
    })
}

/// An extension fails the INIT: every invocation waiting, and every later one, fails with its
/// error.
async fn extension_init_error(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let error_type = headers
        .get("lambda-extension-function-error-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    if error_type.is_empty() {
        return (
            StatusCode::BAD_REQUEST,
            "missing Lambda-Extension-Function-Error-Type",
        )
            .into_response();
    }
    let message = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.get("errorMessage")?.as_str().map(str::to_string))
        .unwrap_or_default();
    *state.shared.init_error.lock().expect("lock") = Some((error_type, message));
    let waiting: Vec<_> = state.shared.waiting.lock().expect("lock").drain().collect();
    state.shared.queue.lock().expect("lock").clear();
    for (_, tx) in waiting {
        if let Some(outcome) = init_failed(&state.shared) {
            let _ = tx.send(outcome);
        }
    }
    (StatusCode::ACCEPTED, r#"{"status":"OK"}"#).into_response()
}

async fn event_next(State(mut state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(id) = headers
        .get("lambda-extension-identifier")
        .and_then(|v| v.to_str().ok())
    {
        state
            .shared
            .extensions_asked
            .lock()
            .expect("lock")
            .entry(id.to_string())
            .or_insert_with(Instant::now);
        check_init_ended(&state.shared);
    }
    let _ = state.shutdown.wait_for(|down| *down).await;
    let deadline = chrono_like_deadline(2000);
    (
        [("content-type", "application/json")],
        format!(
            r#"{{"eventType":"SHUTDOWN","shutdownReason":"spindown","deadlineMs":{deadline}}}"#
        ),
    )
        .into_response()
}

fn chrono_like_deadline(ms: u64) -> u64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    now + ms
}

async fn invocation_next(State(state): State<AppState>) -> Response {
    state.shared.runtime_asked.store(true, Ordering::SeqCst);
    check_init_ended(&state.shared);
    let mut init = state.shared.init_ended.subscribe();
    let _ = init.wait_for(Option::is_some).await;
    let pending = loop {
        let notified = state.shared.queued.notified();
        if let Some(p) = state.shared.queue.lock().expect("lock").pop_front() {
            break p;
        }
        notified.await;
    };
    let now = state.shared.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    state.shared.max_in_flight.fetch_max(now, Ordering::SeqCst);
    let invocation_id = format!(
        "inv-{}-{}",
        std::process::id(),
        state.shared.counter.fetch_add(1, Ordering::SeqCst)
    );
    state
        .shared
        .delivered
        .lock()
        .expect("lock")
        .insert(pending.id.clone(), invocation_id.clone());
    let timeout = *state.shared.timeout.lock().expect("lock");
    let deadline = chrono_like_deadline(timeout.as_millis() as u64);
    let shared = Arc::clone(&state.shared);
    let id = pending.id.clone();
    tokio::spawn(async move {
        tokio::time::sleep(timeout).await;
        time_out(&shared, &id, timeout);
    });
    // As Lambda with active tracing: a trace per invocation (`1-` epoch seconds in hex, 96 random
    // bits), the function's segment as its parent, and the sampling decision.
    let trace = format!(
        "Root=1-{:08x}-{:024x};Parent={:016x};Sampled={}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        random_u128() >> 32,
        random_u128() as u64,
        u8::from(state.shared.sampled.load(Ordering::SeqCst))
    );
    state
        .shared
        .traces
        .lock()
        .expect("lock")
        .push(trace.clone());
    state.shared.started.lock().expect("lock").insert(
        pending.id.clone(),
        (std::time::SystemTime::now(), Instant::now()),
    );
    let mut answer = Response::builder();
    if let Some(tenant) = state.shared.tenant.lock().expect("lock").as_deref() {
        answer = answer.header("lambda-runtime-aws-tenant-id", tenant);
    }
    answer
        .status(StatusCode::OK)
        .header("content-type", "application/json")
        .header("lambda-runtime-aws-request-id", &pending.id)
        .header(INVOCATION_ID, &invocation_id)
        .header("lambda-runtime-deadline-ms", deadline.to_string())
        .header(
            "lambda-runtime-invoked-function-arn",
            "arn:aws:lambda:us-east-1:123456789012:function:test-fn",
        )
        .header("lambda-runtime-trace-id", &trace)
        .body(Body::from(pending.payload))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// Ends an invocation still running at its deadline as Lambda does: the caller gets the
/// timeout error, and a late answer from the runtime gets 410.
/// One invocation that ended, as Lambda's metrics count it: when it started, how long it ran,
/// and whether it failed (a function error or a timeout).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Finished {
    pub started: std::time::SystemTime,
    pub duration: Duration,
    pub error: bool,
}

fn finish(shared: &Shared, id: &str, error: bool) {
    if let Some((started, at)) = shared.started.lock().expect("lock").remove(id) {
        shared.finished.lock().expect("lock").push(Finished {
            started,
            duration: at.elapsed(),
            error,
        });
    }
}

fn time_out(shared: &Shared, id: &str, timeout: Duration) {
    let Some(tx) = shared.waiting.lock().expect("lock").remove(id) else {
        return;
    };
    shared.delivered.lock().expect("lock").remove(id);
    shared
        .timed_out
        .lock()
        .expect("lock")
        .insert(id.to_string());
    shared.in_flight.fetch_sub(1, Ordering::SeqCst);
    finish(shared, id, true);
    let body = serde_json::json!({
        "errorType": TIMED_OUT,
        "errorMessage": format!("{id} Task timed out after {:.2} seconds", timeout.as_secs_f64()),
    });
    let _ = tx.send(Outcome::Error {
        error_type: Some(TIMED_OUT.to_string()),
        body: Bytes::from(body.to_string()),
    });
}

/// The refusal of an answer, recorded for the tests.
fn refuse(
    state: &AppState,
    status: StatusCode,
    id: &str,
    error_type: &str,
    why: String,
) -> Response {
    state
        .shared
        .refused
        .lock()
        .expect("lock")
        .push((status.as_u16(), id.to_string(), why.clone()));
    (
        status,
        [("content-type", "application/json")],
        serde_json::json!({"errorType": error_type, "errorMessage": why}).to_string(),
    )
        .into_response()
}

/// The refusal of the answer for `id`, if it may not complete it: the invocation id it echoes must be the one
/// `/next` sent (else 410, as Lambda answers a stale answer), and it must echo one at all unless
/// the emulator was told to accept answers without.
fn check_answer(state: &AppState, id: &str, headers: &HeaderMap) -> Option<Response> {
    if state.shared.timed_out.lock().expect("lock").contains(id) {
        return Some(refuse(
            state,
            StatusCode::GONE,
            id,
            "ErrorRuntimeInvokeTimeout",
            format!("invocation {id} timed out"),
        ));
    }
    let sent = state
        .shared
        .delivered
        .lock()
        .expect("lock")
        .get(id)
        .cloned();
    let echoed = headers.get(INVOCATION_ID).map(|v| v.as_bytes().to_vec());
    match (sent, echoed) {
        (Some(sent), Some(echoed)) if echoed != sent.as_bytes() => Some(refuse(
            state,
            StatusCode::GONE,
            id,
            "ErrorRuntimeInvokeTimeout",
            format!(
                "invocation id {:?} is not that of invocation {id} ({sent})",
                String::from_utf8_lossy(&echoed)
            ),
        )),
        (Some(sent), None) if !state.shared.lenient.load(Ordering::SeqCst) => Some(refuse(
            state,
            StatusCode::BAD_REQUEST,
            id,
            "InvalidInvocationId",
            format!("answer for {id} without Lambda-Runtime-Invocation-Id (sent {sent})"),
        )),
        _ => None,
    }
}

fn complete(state: &AppState, id: &str, headers: &HeaderMap, outcome: Outcome) -> Response {
    if let Some(refusal) = check_answer(state, id, headers) {
        return refusal;
    }
    match state.shared.waiting.lock().expect("lock").remove(id) {
        Some(tx) => {
            state.shared.delivered.lock().expect("lock").remove(id);
            state.shared.in_flight.fetch_sub(1, Ordering::SeqCst);
            finish(&state.shared, id, matches!(outcome, Outcome::Error { .. }));
            let _ = tx.send(outcome);
            (
                StatusCode::ACCEPTED,
                [("content-type", "application/json")],
                r#"{"status":"OK"}"#,
            )
                .into_response()
        }
        None => (StatusCode::BAD_REQUEST, "unknown or finished request id").into_response(),
    }
}

async fn invocation_response(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let streaming = headers
        .get("lambda-runtime-function-response-mode")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"streaming"));
    let collected = match body.collect().await {
        Ok(c) => c,
        Err(err) => return (StatusCode::BAD_REQUEST, err.to_string()).into_response(),
    };
    let trailers = collected.trailers().map(|t| {
        t.iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_string()))
            .collect()
    });
    let outcome = Outcome::Response {
        body: collected.to_bytes(),
        streaming,
        trailers,
    };
    complete(&state, &id, &headers, outcome)
}

async fn invocation_error(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let error_type = headers
        .get("lambda-runtime-function-error-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| {
            serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| {
                    v.get("errorType")
                        .and_then(|t| t.as_str())
                        .map(str::to_string)
                })
        });
    complete(&state, &id, &headers, Outcome::Error { error_type, body })
}

/// Holds the runtime's `restore/next` until [`Emulator::restore`].
async fn restore_next(State(state): State<AppState>) -> Response {
    state.shared.restore_waiting.fetch_add(1, Ordering::SeqCst);
    loop {
        let restored = state.shared.restored.notified();
        if state.shared.restored_flag.load(Ordering::SeqCst) {
            break;
        }
        restored.await;
    }
    state.shared.restore_waiting.fetch_sub(1, Ordering::SeqCst);
    StatusCode::OK.into_response()
}

/// Accepts an init error as Lambda does; no test needs to read it back.
async fn init_error() -> Response {
    (StatusCode::ACCEPTED, r#"{"status":"OK"}"#).into_response()
}

/// 128 random bits, from the standard library's randomly seeded hasher (no RNG crate needed).
fn random_u128() -> u128 {
    use std::hash::{BuildHasher, RandomState};
    let state = RandomState::new();
    (u128::from(state.hash_one(1u8)) << 64) | u128::from(state.hash_one(2u8))
}
