//! The Runtime API upstream: HTTP/1 connections to Lambda's Runtime API driven directly with
//! hyper's client connection (no pool machinery on the path of every message), and the names of
//! the calls and headers faultline reads there.
//!
//! A request takes an idle connection that is ready for it, or opens one; the connection goes
//! back to the idle list as soon as the answer's head arrives (hyper holds the next request on it
//! until the answer's body has been read). The runtime keeps one connection alive, so in steady
//! state every message reuses the same upstream connection.

use super::answers::bad_gateway;
use crate::lambda::endpoint::ApiEndpoint;
use crate::net::client::{ProxyBody, boxed, end_to_end, full_body};
use http::header::{self, HeaderName};
use http::{Request, Response};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use std::sync::Mutex;

/// Path suffix of the call that fetches the next invocation.
pub(super) const NEXT_SUFFIX: &str = "/runtime/invocation/next";
/// Header carrying the invocation's request id on `/next` answers.
pub(super) const REQUEST_ID: &str = "lambda-runtime-aws-request-id";
/// Header naming the error type on `/error` calls.
const ERROR_TYPE: &str = "lambda-runtime-function-error-type";

/// How often a failed GET is sent again, and the pause before each new attempt.
const GET_RETRIES: usize = 2;
const GET_RETRY_PAUSE: std::time::Duration = std::time::Duration::from_millis(20);
/// Idle upstream connections kept at most (one per concurrent runtime connection is the need).
const MAX_IDLE: usize = 64;

/// Lambda's Runtime API, as the proxy reaches it.
pub(super) struct Upstream {
    endpoint: ApiEndpoint,
    idle: Mutex<Vec<SendRequest<ProxyBody>>>,
}

impl Upstream {
    pub(super) fn new(endpoint: ApiEndpoint) -> Upstream {
        Upstream {
            endpoint,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// An idle connection ready for a request, or a new one (always a new one when `fresh`).
    async fn connection(&self, fresh: bool) -> Result<SendRequest<ProxyBody>, String> {
        if !fresh {
            let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
            idle.retain(|sender| !sender.is_closed());
            if let Some(at) = idle.iter().position(SendRequest::is_ready) {
                return Ok(idle.swap_remove(at));
            }
        }
        let authority = self.endpoint.authority().as_str();
        let stream = tokio::net::TcpStream::connect(authority)
            .await
            .map_err(|err| format!("cannot connect to {authority}: {err}"))?;
        let _ = stream.set_nodelay(true);
        let (sender, connection) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|err| format!("HTTP handshake with {authority}: {err}"))?;
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!("Runtime API upstream connection ended: {err}");
            }
        });
        Ok(sender)
    }

    /// Puts a connection back for the next request (hyper sends that one once this answer's
    /// body has been read).
    fn release(&self, sender: SendRequest<ProxyBody>) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < MAX_IDLE && !sender.is_closed() {
            idle.push(sender);
        }
    }

    /// Sends one request on an idle connection, or on a new one when `fresh` (a retry: the
    /// idle ones may have gone stale together, after a freeze).
    async fn round_trip(
        &self,
        request: Request<ProxyBody>,
        fresh: bool,
    ) -> Result<Response<hyper::body::Incoming>, String> {
        let mut sender = self.connection(fresh).await?;
        sender
            .ready()
            .await
            .map_err(|err| format!("connection not ready: {err}"))?;
        let answer = sender.send_request(request).await;
        if answer.is_ok() {
            self.release(sender);
        }
        answer.map_err(|err| err.to_string())
    }

    /// Sends `request` upstream as it is (its URI is a path; the upstream is added here) and
    /// relays the answer.
    pub(super) async fn pass_through(&self, request: Request<ProxyBody>) -> Response<ProxyBody> {
        match self.send(request).await {
            Ok(response) => response,
            Err(reason) => bad_gateway(&reason),
        }
    }

    /// POSTs `body` to `path` upstream (an invocation's `/response` or `/error`), on behalf of
    /// the runtime. `error_type` sets the `Lambda-Runtime-Function-Error-Type` header.
    pub(super) async fn post_for_runtime(
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
    pub(super) async fn send(
        &self,
        request: Request<ProxyBody>,
    ) -> Result<Response<ProxyBody>, String> {
        let (parts, body) = request.into_parts();
        let retries = if parts.method == http::Method::GET {
            GET_RETRIES
        } else {
            0
        };
        let mut headers = end_to_end(parts.headers);
        headers.insert(header::HOST, self.endpoint.host_header().clone());
        let mut body = Some(body);
        let mut attempt = 0;
        loop {
            let mut upstream_request =
                Request::new(body.take().unwrap_or_else(|| full_body(Vec::new())));
            *upstream_request.method_mut() = parts.method.clone();
            *upstream_request.uri_mut() = self.endpoint.origin_form(parts.uri.path_and_query());
            // The head is kept only while another attempt may need it.
            *upstream_request.headers_mut() = if attempt < retries {
                headers.clone()
            } else {
                std::mem::take(&mut headers)
            };
            match self.round_trip(upstream_request, attempt > 0).await {
                Ok(response) => {
                    let (mut parts, body) = response.into_parts();
                    parts.headers = end_to_end(parts.headers);
                    return Ok(Response::from_parts(parts, boxed(body)));
                }
                Err(err) if attempt < retries => {
                    attempt += 1;
                    tracing::warn!(
                        "Runtime API upstream {} failed {} {}: {err}; retrying on a new connection",
                        self.endpoint,
                        parts.method,
                        parts.uri.path()
                    );
                    tokio::time::sleep(GET_RETRY_PAUSE).await;
                }
                Err(err) => {
                    tracing::error!(
                        "Runtime API upstream {} unreachable for {} {}: {err}",
                        self.endpoint,
                        parts.method,
                        parts.uri.path()
                    );
                    return Err(err);
                }
            }
        }
    }
}
