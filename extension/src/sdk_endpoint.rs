//! The Failure Flags SDK lookup endpoint: `POST /experiment {name, labels}` on localhost:5032.
//!
//! The answer is the JSON list of active experiments whose flag and selector match (the SDK
//! applies the rate itself), `[]` when none, always with `Content-Type: application/json` and a
//! Content-Length, as the SDKs check both. The SDKs give up after 1 ms, so this path does no I/O
//! besides the socket: the experiments are already compiled in memory.

use crate::config::state::ConfigState;
use crate::invocation::CurrentInvocation;
use crate::net::client::{ProxyBody, full_body};
use crate::net::listener::accept_loop;
use faultline_schema::labels::{FunctionFacts, Labels, TENANT_LABEL};
use faultline_schema::sdk_view::sdk_view;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;
use tokio::net::TcpListener;

/// Largest lookup body accepted: a flag name and a few labels.
const MAX_BODY: usize = 64 * 1024;

/// A lookup as the SDKs send it.
#[derive(Debug, Deserialize)]
pub struct Lookup {
    pub name: String,
    #[serde(default)]
    pub labels: BTreeMap<String, Value>,
}

pub struct SdkEndpoint {
    config: ConfigState,
    facts: FunctionFacts,
    /// The invocation in flight, whose tenant (tenant isolation) labels a lookup.
    current: CurrentInvocation,
}

impl SdkEndpoint {
    pub fn new(config: ConfigState, facts: FunctionFacts, current: CurrentInvocation) -> Arc<Self> {
        Arc::new(SdkEndpoint {
            config,
            facts,
            current,
        })
    }

    /// Serves connections from `listener` until the task is dropped.
    pub async fn serve(self: Arc<Self>, listener: TcpListener) {
        accept_loop(listener, "SDK endpoint", |stream| {
            let endpoint = Arc::clone(&self);
            async move {
                let service = service_fn(move |request| {
                    let endpoint = Arc::clone(&endpoint);
                    async move { Ok::<_, Infallible>(endpoint.handle(request).await) }
                });
                if let Err(err) = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await
                {
                    tracing::debug!("SDK endpoint connection ended: {err}");
                }
            }
        })
        .await;
    }

    async fn handle(&self, request: Request<Incoming>) -> Response<ProxyBody> {
        if request.uri().path() != "/experiment" {
            return json_response(
                StatusCode::NOT_FOUND,
                &json!({"error": "not found: the SDK endpoint answers POST /experiment"}),
            );
        }
        if request.method() != Method::POST {
            let mut response = json_response(
                StatusCode::METHOD_NOT_ALLOWED,
                &json!({"error": "use POST /experiment with {\"name\", \"labels\"}"}),
            );
            response
                .headers_mut()
                .insert(header::ALLOW, http::HeaderValue::from_static("POST"));
            return response;
        }
        let body = match Limited::new(request.into_body(), MAX_BODY).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(err) => {
                return json_response(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    &json!({"error": format!("cannot read the lookup: {err}")}),
                );
            }
        };
        match self.answer(&body) {
            Ok(list) => json_response(StatusCode::OK, &list),
            Err(reason) => json_response(StatusCode::BAD_REQUEST, &json!({ "error": reason })),
        }
    }

    /// The JSON list answering one lookup body.
    pub fn answer(&self, body: &[u8]) -> Result<Value, String> {
        let lookup: Lookup = serde_json::from_slice(body)
            .map_err(|err| format!("the body is not {{\"name\", \"labels\"}} JSON: {err}"))?;
        let Some(active) = self.config.in_force() else {
            return Ok(Value::Array(Vec::new()));
        };
        if !active.config.sdk_endpoint_enabled {
            return Ok(Value::Array(Vec::new()));
        }
        let mut labels = self.facts.base_labels(&active.config);
        if let Some(tenant) = self.current.tenant() {
            labels.insert(TENANT_LABEL.into(), tenant.to_string());
        }
        // The SDK's own labels win, a `tenant-id` of its own among them.
        labels.extend(sdk_labels(lookup.labels));
        let list = active
            .experiments
            .active(&lookup.name, &labels, chrono::Utc::now())
            .map(|experiment| sdk_view(experiment))
            .collect();
        Ok(Value::Array(list))
    }
}

/// Labels as the SDK sent them; scalar values are taken as text, anything else is ignored.
fn sdk_labels(raw: BTreeMap<String, Value>) -> Labels {
    raw.into_iter()
        .filter_map(|(key, value)| match value {
            Value::String(text) => Some((key, text)),
            Value::Number(n) => Some((key, n.to_string())),
            Value::Bool(b) => Some((key, b.to_string())),
            _ => None,
        })
        .collect()
}

fn json_response(status: StatusCode, value: &Value) -> Response<ProxyBody> {
    let body = value.to_string();
    let length = body.len();
    let mut response = Response::new(full_body(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CONTENT_LENGTH, http::HeaderValue::from(length));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_schema::config::Config;

    fn endpoint(yaml: &str) -> Arc<SdkEndpoint> {
        let state = ConfigState::new();
        state.set(Config::parse_strict(yaml).expect("valid"));
        SdkEndpoint::new(
            state,
            FunctionFacts {
                function_name: Some("checkout".into()),
                ..FunctionFacts::default()
            },
            CurrentInvocation::default(),
        )
    }

    #[test]
    fn the_invocations_tenant_labels_a_lookup_unless_the_sdk_names_one() {
        let state = ConfigState::new();
        state.set(
            Config::parse_strict(
                "experiments:\n- {name: gold-only, flag: db, selector: {tenant-id: gold}, effect: {latency: 5}}\n",
            )
            .expect("valid"),
        );
        let current = CurrentInvocation::new(false);
        let endpoint = SdkEndpoint::new(state, FunctionFacts::default(), current.clone());
        let count = |body: &[u8]| {
            endpoint
                .answer(body)
                .expect("answer")
                .as_array()
                .map_or(0, Vec::len)
        };
        let lookup = br#"{"name": "db"}"#;
        assert_eq!(count(lookup), 0, "no invocation, no tenant");
        current.set(Some("r1"), Some("gold"), None);
        assert_eq!(count(lookup), 1);
        assert_eq!(
            count(br#"{"name": "db", "labels": {"tenant-id": "free"}}"#),
            0
        );
        current.set(Some("r2"), None, None);
        assert_eq!(count(lookup), 0);
    }

    const CONFIG: &str = r#"
experiments:
  - name: slow-db
    flag: db-*
    selector: {function-name: checkout, tier: gold}
    rate: 0.5
    effect: {latency: {ms: 20, jitter: 5}, exception: {message: down, errorType: TimeoutError}}
"#;

    #[test]
    fn lookups_return_matching_experiments_with_their_rate() {
        let endpoint = endpoint(CONFIG);
        let list = endpoint
            .answer(br#"{"name": "db-query", "labels": {"tier": "gold", "n": 1}}"#)
            .expect("valid lookup");
        assert_eq!(list.as_array().map(Vec::len), Some(1));
        assert_eq!(list[0]["rate"], 0.5);
        assert_eq!(list[0]["effect"]["latency"]["ms"], 20);
        assert_eq!(list[0]["effect"]["exception"]["name"], "TimeoutError");
        let none = endpoint
            .answer(br#"{"name": "db-query", "labels": {"tier": "silver"}}"#)
            .expect("valid lookup");
        assert_eq!(none, json!([]));
        let other = endpoint.answer(br#"{"name": "cache"}"#).expect("valid");
        assert_eq!(other, json!([]));
    }

    proptest::proptest! {
        #[test]
        fn any_body_is_answered_without_panic(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512),
            name in ".{0,40}",
            key in ".{0,12}",
            value in ".{0,20}",
        ) {
            let endpoint = endpoint(CONFIG);
            let _ = endpoint.answer(&bytes);
            let body = json!({"name": name, "labels": {key: value, "n": 1, "list": [1]}});
            let answer = endpoint.answer(body.to_string().as_bytes());
            proptest::prop_assert!(answer.is_ok_and(|list| list.is_array()));
        }
    }

    #[test]
    fn bad_bodies_are_named() {
        let endpoint = endpoint(CONFIG);
        let err = endpoint.answer(b"{").expect_err("not json");
        assert!(err.contains("name"), "{err}");
        assert!(endpoint.answer(br#"{"labels": {}}"#).is_err());
    }
}
