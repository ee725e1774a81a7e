//! The Runtime API proxy: the runtime talks to it instead of Lambda's Runtime API.
//!
//! Every request is forwarded as it came (method, path, query, headers, body streamed, trailers)
//! and every answer is returned as it came. Nothing here times out: `/next` waits for as long as
//! Lambda takes to deliver an event, and environments are frozen in between. Only hop-by-hop
//! framing headers are re-created by hyper on each leg.
//!
//! When experiments target `ingress`, `http-ingress` or `response`, the event or the response is
//! read in full so the effect can act on it ([`ingress_faults`], [`response_faults`]); otherwise
//! bodies stream straight through.

mod http_shape;
mod ingress_faults;
mod invocations;
mod response_faults;

use crate::api_endpoint::ApiEndpoint;
use crate::config_refresh::ConfigRefresher;
use crate::config_state::ConfigState;
use crate::http_client::{HttpClient, ProxyBody, boxed, end_to_end, full_body};
use crate::invocation_labels::{CurrentInvocation, FunctionFacts};
use crate::listener::accept_loop;
use http::header::{self, HeaderName};
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use invocations::Invocations;
use std::convert::Infallible;
use std::sync::Arc;
use tokio::net::TcpListener;

/// Path suffix of the call that fetches the next invocation.
const NEXT_SUFFIX: &str = "/runtime/invocation/next";
/// Header carrying the invocation's request id on `/next` answers.
const REQUEST_ID: &str = "lambda-runtime-aws-request-id";
/// Header naming the error type on `/error` calls.
const ERROR_TYPE: &str = "lambda-runtime-function-error-type";

/// Flags the Runtime API proxy acts on.
pub const INGRESS: &str = "ingress";
pub const HTTP_INGRESS: &str = "http-ingress";
pub const RESPONSE: &str = "response";

pub struct RuntimeProxy {
    client: HttpClient,
    upstream: ApiEndpoint,
    config: ConfigState,
    refresher: Option<Arc<ConfigRefresher>>,
    facts: FunctionFacts,
    /// Labels of invocations in flight, for the `response` flag.
    invocations: Invocations,
    current: CurrentInvocation,
}

impl RuntimeProxy {
    pub fn new(
        client: HttpClient,
        upstream: ApiEndpoint,
        config: ConfigState,
        refresher: Option<Arc<ConfigRefresher>>,
        facts: FunctionFacts,
        current: CurrentInvocation,
    ) -> Arc<Self> {
        Arc::new(RuntimeProxy {
            client,
            upstream,
            config,
            refresher,
            facts,
            invocations: Invocations::default(),
            current,
        })
    }

    /// Serves connections from `listener` until the task is dropped.
    pub async fn serve(self: Arc<Self>, listener: TcpListener) {
        accept_loop(listener, "runtime proxy", |stream| {
            let proxy = Arc::clone(&self);
            async move {
                let service = service_fn(move |request| {
                    let proxy = Arc::clone(&proxy);
                    async move { Ok::<_, Infallible>(proxy.forward(request).await) }
                });
                if let Err(err) = http1::Builder::new()
                    .keep_alive(true)
                    .serve_connection(TokioIo::new(stream), service)
                    .await
                {
                    tracing::debug!("runtime proxy connection ended: {err}");
                }
            }
        })
        .await;
    }

    /// Handles one request from the runtime: forwarded as is, unless an experiment targets it.
    pub async fn forward(&self, request: Request<Incoming>) -> Response<ProxyBody> {
        let path = request.uri().path();
        if path.ends_with(NEXT_SUFFIX) {
            if !self.config.attempted() {
                // The first /next may wait for the config, never longer than the request timeout.
                let timeout = self.config.request_timeout();
                if !self.config.wait_first_attempt(timeout).await {
                    tracing::warn!(
                        "config not loaded within {timeout:?}; passing this invocation through untouched"
                    );
                }
            }
            self.poke_refresh();
            return self.next_invocation(request).await;
        } else if let Some(request_id) = response_faults::invocation_of_response(path) {
            let request_id = request_id.to_string();
            let labels = self.invocations.take(&request_id);
            if let Some(active) = self.config.current()
                && active.targets_response
            {
                return self
                    .response_with_faults(request, active, request_id, labels)
                    .await;
            }
        } else if let Some(request_id) = response_faults::invocation_of_error(path) {
            self.invocations.take(request_id);
        }
        self.pass_through(request.map(boxed)).await
    }

    fn poke_refresh(&self) {
        if let Some(refresher) = &self.refresher {
            refresher.poke();
        }
    }

    /// Sends `request` upstream as it is (its URI is a path; the upstream is added here) and
    /// relays the answer.
    async fn pass_through(&self, request: Request<ProxyBody>) -> Response<ProxyBody> {
        match self.send(request).await {
            Ok(response) => response,
            Err(reason) => bad_gateway(&reason),
        }
    }

    /// POSTs `body` to `path` upstream (an invocation's `/response` or `/error`), on behalf of
    /// the runtime. `error_type` sets the `Lambda-Runtime-Function-Error-Type` header.
    async fn post_for_runtime(
        &self,
        path: &str,
        body: Vec<u8>,
        error_type: Option<&str>,
    ) -> Result<Response<ProxyBody>, String> {
        let mut request = Request::post(path)
            .header(header::CONTENT_TYPE, "application/json")
            .body(full_body(body))
            .map_err(|err| format!("cannot build a request for {path}: {err}"))?;
        if let Some(value) = error_type.and_then(|t| http::HeaderValue::from_str(t).ok()) {
            request
                .headers_mut()
                .insert(HeaderName::from_static(ERROR_TYPE), value);
        }
        self.send(request).await
    }

    /// Sends one request upstream; the answer's hop-by-hop headers are dropped. A GET (`/next`)
    /// that fails on the upstream connection (reset, closed while pooled) is sent again on a new
    /// one: that hop is faultline's, and without faultline the runtime would not have seen it.
    async fn send(&self, request: Request<ProxyBody>) -> Result<Response<ProxyBody>, String> {
        let (parts, body) = request.into_parts();
        let retries = if parts.method == http::Method::GET {
            GET_RETRIES
        } else {
            0
        };
        let mut headers = end_to_end(parts.headers);
        headers.insert(header::HOST, self.upstream.host_header().clone());
        let mut body = Some(body);
        let mut attempt = 0;
        loop {
            let mut upstream_request =
                Request::new(body.take().unwrap_or_else(|| full_body(Vec::new())));
            *upstream_request.method_mut() = parts.method.clone();
            *upstream_request.uri_mut() = self.upstream.uri(parts.uri.path_and_query());
            // The head is kept only while another attempt may need it.
            *upstream_request.headers_mut() = if attempt < retries {
                headers.clone()
            } else {
                std::mem::take(&mut headers)
            };
            match self.client.request(upstream_request).await {
                Ok(response) => {
                    let (mut parts, body) = response.into_parts();
                    parts.headers = end_to_end(parts.headers);
                    return Ok(Response::from_parts(parts, boxed(body)));
                }
                Err(err) if attempt < retries => {
                    attempt += 1;
                    tracing::warn!(
                        "Runtime API upstream {} failed {} {}: {err}; retrying on a new connection",
                        self.upstream,
                        parts.method,
                        parts.uri.path()
                    );
                    tokio::time::sleep(GET_RETRY_PAUSE).await;
                }
                Err(err) => {
                    tracing::error!(
                        "Runtime API upstream {} unreachable for {} {}: {err}",
                        self.upstream,
                        parts.method,
                        parts.uri.path()
                    );
                    return Err(err.to_string());
                }
            }
        }
    }
}

/// How often a failed GET is sent again, and the pause before each new attempt.
const GET_RETRIES: usize = 2;
const GET_RETRY_PAUSE: std::time::Duration = std::time::Duration::from_millis(20);

fn bad_gateway(reason: &str) -> Response<ProxyBody> {
    let body = serde_json::json!({
        "errorMessage": format!("faultline: Runtime API upstream unreachable: {reason}"),
        "errorType": "Faultline.UpstreamUnavailable",
    })
    .to_string();
    let mut response = Response::new(full_body(body));
    *response.status_mut() = StatusCode::BAD_GATEWAY;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}
