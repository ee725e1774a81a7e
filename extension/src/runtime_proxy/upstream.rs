//! The Runtime API upstream: one pooled connection to Lambda's Runtime API, and the names of
//! the calls and headers faultline reads there.

use super::answers::bad_gateway;
use crate::lambda::endpoint::ApiEndpoint;
use crate::net::client::{HttpClient, ProxyBody, boxed, end_to_end, full_body};
use http::header::{self, HeaderName};
use http::{Request, Response};

/// Path suffix of the call that fetches the next invocation.
pub(super) const NEXT_SUFFIX: &str = "/runtime/invocation/next";
/// Header carrying the invocation's request id on `/next` answers.
pub(super) const REQUEST_ID: &str = "lambda-runtime-aws-request-id";
/// Header naming the error type on `/error` calls.
const ERROR_TYPE: &str = "lambda-runtime-function-error-type";

/// How often a failed GET is sent again, and the pause before each new attempt.
const GET_RETRIES: usize = 2;
const GET_RETRY_PAUSE: std::time::Duration = std::time::Duration::from_millis(20);

/// Lambda's Runtime API, as the proxy reaches it.
pub(super) struct Upstream {
    client: HttpClient,
    endpoint: ApiEndpoint,
}

impl Upstream {
    pub(super) fn new(client: HttpClient, endpoint: ApiEndpoint) -> Upstream {
        Upstream { client, endpoint }
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
            *upstream_request.uri_mut() = self.endpoint.uri(parts.uri.path_and_query());
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
                    return Err(err.to_string());
                }
            }
        }
    }
}
