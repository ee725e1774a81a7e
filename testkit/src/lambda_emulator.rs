//! A Lambda Runtime API + Extensions API emulator for the tests and the demo, written from the AWS
//! documentation ("Using the Lambda runtime API", "Lambda Extensions API"). Unlike cargo-lambda's
//! emulator it sets Content-Type on /next (awslambdaric needs it), records streamed responses
//! with their trailers, and can send SHUTDOWN to extensions.

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

#[derive(Default)]
struct Shared {
    queue: Mutex<VecDeque<Pending>>,
    queued: Notify,
    waiting: Mutex<HashMap<String, oneshot::Sender<Outcome>>>,
    registrations: Mutex<Vec<Registration>>,
    ready_probe: Mutex<Option<PathBuf>>,
    counter: AtomicU64,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
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

async fn event_next(State(mut state): State<AppState>) -> Response {
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
    let pending = loop {
        let notified = state.shared.queued.notified();
        if let Some(p) = state.shared.queue.lock().expect("lock").pop_front() {
            break p;
        }
        notified.await;
    };
    let now = state.shared.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    state.shared.max_in_flight.fetch_max(now, Ordering::SeqCst);
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/json")
        .header("lambda-runtime-aws-request-id", &pending.id)
        .header(
            "lambda-runtime-deadline-ms",
            chrono_like_deadline(60_000).to_string(),
        )
        .header(
            "lambda-runtime-invoked-function-arn",
            "arn:aws:lambda:us-east-1:123456789012:function:test-fn",
        )
        .header(
            "lambda-runtime-trace-id",
            "Root=1-5759e988-bd862e3fe1be46a994272793",
        )
        .body(Body::from(pending.payload))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

fn complete(state: &AppState, id: &str, outcome: Outcome) -> Response {
    match state.shared.waiting.lock().expect("lock").remove(id) {
        Some(tx) => {
            state.shared.in_flight.fetch_sub(1, Ordering::SeqCst);
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
    complete(&state, &id, outcome)
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
    complete(&state, &id, Outcome::Error { error_type, body })
}

/// Accepts an init error as Lambda does; no test needs to read it back.
async fn init_error() -> Response {
    (StatusCode::ACCEPTED, r#"{"status":"OK"}"#).into_response()
}
