//! A stand-in for the AppConfig data plane (`appconfigdata`), which moto 5.2.5 does not serve,
//! written from the AppConfig Data API reference (the control plane the deployer uses is served
//! beside it, [`control_plane`]):
//!
//! - `StartConfigurationSession` (`POST /configurationsessions`, JSON with the application,
//!   environment and profile identifiers and `RequiredMinimumPollIntervalInSeconds`, 15 to
//!   86400) answers 201 with `InitialConfigurationToken`; an unknown configuration is 404
//!   `ResourceNotFoundException`.
//! - `GetLatestConfiguration` (`GET /configuration?configuration_token=T`) answers 200 with the
//!   configuration as the body, or an empty body when this session already received the
//!   deployed version, and the headers `Next-Poll-Configuration-Token`,
//!   `Next-Poll-Interval-In-Seconds`, `Content-Type` and `Version-Label`. Each token is good for
//!   one call (a used or unknown one is 400 `BadRequestException`), and a call before the poll
//!   interval has passed is 400 `BadRequestException` too.
//!
//! For tests: a 1 s poll interval (`lenient`), tokens expired at once, an outage.
//!
//! Every request must carry a SigV4 `Authorization` header (its presence is checked, not the
//! signature). Each request is logged for the tests.

mod control_plane;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One configuration's deployed content.
#[derive(Debug, Clone)]
pub(crate) struct Deployed {
    pub(crate) content: String,
    pub(crate) version: u64,
}

#[derive(Debug)]
struct Token {
    /// application/environment/profile
    configuration: String,
    /// The version this session received last (0: none).
    received: u64,
    poll_after: Instant,
    interval: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Data {
    /// Served by the data plane, by `application/environment/profile`.
    pub(crate) deployed: HashMap<String, Deployed>,
    tokens: HashMap<String, Token>,
    next_token: u64,
    /// `OPERATION status` per request, in order.
    pub(crate) log: Vec<String>,
    /// The control plane's resources (crate::appconfig_control).
    pub(crate) control: control_plane::Control,
    /// Tests that refresh every second: the poll interval answered is 1 s, not the one asked.
    lenient: bool,
    /// Every request is answered 500 InternalServerException (an outage).
    failing: bool,
}

/// The stand-in server; stops when dropped.
pub struct AppConfigData {
    pub endpoint: String,
    data: Arc<Mutex<Data>>,
    _server: tokio::task::JoinHandle<()>,
}

pub(crate) fn error(status: StatusCode, code: &str, message: &str) -> Response {
    let mut response =
        (status, serde_json::json!({"Message": message}).to_string()).into_response();
    if let Ok(value) = code.parse() {
        response.headers_mut().insert("x-amzn-errortype", value);
    }
    response
}

fn signed(headers: &HeaderMap) -> bool {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("AWS4-HMAC-SHA256 Credential="))
}

/// The answer to any request during an outage, or to an unsigned one.
pub(crate) fn refused(data: &Data, headers: &HeaderMap) -> Option<Response> {
    if data.failing {
        return Some(error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerException",
            "outage",
        ));
    }
    (!signed(headers)).then(|| {
        error(
            StatusCode::FORBIDDEN,
            "AccessDeniedException",
            "unsigned request",
        )
    })
}

impl Data {
    fn token(&mut self, token: Token) -> String {
        self.next_token += 1;
        let id = format!(
            "token-{:06}-{:016x}",
            self.next_token,
            self.next_token * 7919
        );
        self.tokens.insert(id.clone(), token);
        id
    }
}

async fn start_session(
    State(data): State<Arc<Mutex<Data>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut data = data.lock().unwrap_or_else(|p| p.into_inner());
    let answer = (|| {
        if let Some(refused) = refused(&data, &headers) {
            return refused;
        }
        let Ok(request) = serde_json::from_slice::<serde_json::Value>(&body) else {
            return error(
                StatusCode::BAD_REQUEST,
                "BadRequestException",
                "body is not JSON",
            );
        };
        let field = |name: &str| {
            request
                .get(name)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
        };
        let configuration = format!(
            "{}/{}/{}",
            field("ApplicationIdentifier"),
            field("EnvironmentIdentifier"),
            field("ConfigurationProfileIdentifier")
        );
        let interval = request
            .get("RequiredMinimumPollIntervalInSeconds")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(60);
        if !(15..=86400).contains(&interval) {
            return error(
                StatusCode::BAD_REQUEST,
                "BadRequestException",
                "RequiredMinimumPollIntervalInSeconds must be 15 to 86400",
            );
        }
        if !data.deployed.contains_key(&configuration) {
            return error(
                StatusCode::NOT_FOUND,
                "ResourceNotFoundException",
                &format!("no deployed configuration {configuration}"),
            );
        }
        let interval = if data.lenient { 1 } else { interval };
        let token = data.token(Token {
            configuration,
            received: 0,
            poll_after: Instant::now(),
            interval,
        });
        (
            StatusCode::CREATED,
            serde_json::json!({"InitialConfigurationToken": token}).to_string(),
        )
            .into_response()
    })();
    data.log.push(format!(
        "StartConfigurationSession {}",
        answer.status().as_u16()
    ));
    answer
}

async fn latest(
    State(data): State<Arc<Mutex<Data>>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let mut data = data.lock().unwrap_or_else(|p| p.into_inner());
    let mut length = None;
    let answer = (|| {
        if let Some(refused) = refused(&data, &headers) {
            return refused;
        }
        let token = query
            .unwrap_or_default()
            .split('&')
            .find_map(|pair| pair.strip_prefix("configuration_token="))
            .map(|t| {
                t.replace("%2F", "/")
                    .replace("%3D", "=")
                    .replace("%2B", "+")
            })
            .unwrap_or_default();
        let Some(used) = data.tokens.remove(&token) else {
            return error(
                StatusCode::BAD_REQUEST,
                "BadRequestException",
                "The configuration token is not valid or was used already",
            );
        };
        if Instant::now() < used.poll_after {
            return error(
                StatusCode::BAD_REQUEST,
                "BadRequestException",
                "Request too early: the poll interval has not passed",
            );
        }
        let Some(deployed) = data.deployed.get(&used.configuration).cloned() else {
            return error(
                StatusCode::NOT_FOUND,
                "ResourceNotFoundException",
                "the configuration was deleted",
            );
        };
        let body = if used.received == deployed.version {
            String::new()
        } else {
            deployed.content.clone()
        };
        length = Some(body.len());
        let interval = used.interval;
        let next = data.token(Token {
            configuration: used.configuration,
            received: deployed.version,
            poll_after: Instant::now() + Duration::from_secs(interval),
            interval,
        });
        let mut response = (StatusCode::OK, body).into_response();
        let headers = response.headers_mut();
        for (name, value) in [
            ("next-poll-configuration-token", next),
            ("next-poll-interval-in-seconds", interval.to_string()),
            ("content-type", "application/x-yaml".to_string()),
            ("version-label", format!("v{}", deployed.version)),
        ] {
            if let Ok(value) = value.parse() {
                headers.insert(name, value);
            }
        }
        response
    })();
    let length = length.map_or(String::new(), |l| format!(" length={l}"));
    data.log.push(format!(
        "GetLatestConfiguration {}{length}",
        answer.status().as_u16()
    ));
    answer
}

impl AppConfigData {
    /// Starts the stand-in on a free port of 127.0.0.1.
    pub async fn start() -> AppConfigData {
        let data = Arc::new(Mutex::new(Data::default()));
        let app = Router::new()
            .route("/configurationsessions", post(start_session))
            .route("/configuration", get(latest))
            .merge(control_plane::routes())
            .with_state(Arc::clone(&data));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the AppConfig stand-in");
        let addr = listener.local_addr().expect("its address");
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        AppConfigData {
            endpoint: format!("http://{addr}"),
            data,
            _server: server,
        }
    }

    fn data(&self) -> std::sync::MutexGuard<'_, Data> {
        self.data.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Deploys `content` as the next version of `application/environment/profile`.
    pub fn deploy(&self, configuration: &str, content: &str) {
        let mut data = self.data();
        let version = data
            .deployed
            .get(configuration)
            .map_or(1, |d| d.version + 1);
        data.deployed.insert(
            configuration.to_string(),
            Deployed {
                content: content.to_string(),
                version,
            },
        );
    }

    /// What the data plane serves for `application/environment/profile` (ids or names).
    pub fn deployed(&self, configuration: &str) -> Option<String> {
        self.data()
            .deployed
            .get(configuration)
            .map(|d| d.content.clone())
    }

    /// Answers a poll interval of 1 s to sessions started from now (tests that refresh every
    /// second; AppConfig's shortest is 15 s).
    pub fn lenient(&self) {
        self.data().lenient = true;
    }

    /// Forgets every token, as AppConfig does a day after a token's last use.
    pub fn expire_tokens(&self) {
        self.data().tokens.clear();
    }

    /// Starts (or ends) an outage: every request answered 500 InternalServerException.
    pub fn fail(&self, failing: bool) {
        self.data().failing = failing;
    }

    /// Each request as `OPERATION status[ length=N]`, in order.
    pub fn log(&self) -> Vec<String> {
        self.data().log.clone()
    }
}

impl Drop for AppConfigData {
    fn drop(&mut self) {
        self._server.abort();
    }
}
