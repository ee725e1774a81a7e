//! The Runtime API proxy: the runtime talks to it instead of Lambda's Runtime API.
//!
//! Every request is forwarded as it came (method, path, query, headers, body streamed, trailers)
//! and every answer is returned as it came. Nothing here times out: `/next` waits for as long as
//! Lambda takes to deliver an event, and environments are frozen in between. Only hop-by-hop
//! framing headers are re-created by hyper on each leg.

use crate::api_endpoint::ApiEndpoint;
use crate::config_state::ConfigState;
use crate::http_client::{HttpClient, ProxyBody, boxed, full_body};
use http::header::{self, HeaderMap, HeaderName};
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::sync::Arc;
use tokio::net::TcpListener;

/// Path suffix of the call that fetches the next invocation.
const NEXT_SUFFIX: &str = "/runtime/invocation/next";

/// Headers that describe one connection, not the message (RFC 9110 §7.6.1). `Trailer` is kept:
/// it announces the trailer fields of a streamed response and hyper needs it to send them.
const HOP_BY_HOP: [HeaderName; 6] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::TRANSFER_ENCODING,
    header::TE,
    header::UPGRADE,
];

pub struct RuntimeProxy {
    client: HttpClient,
    upstream: ApiEndpoint,
    config: ConfigState,
}

impl RuntimeProxy {
    pub fn new(client: HttpClient, upstream: ApiEndpoint, config: ConfigState) -> Arc<Self> {
        Arc::new(RuntimeProxy {
            client,
            upstream,
            config,
        })
    }

    /// Serves connections from `listener` until the task is dropped.
    pub async fn serve(self: Arc<Self>, listener: TcpListener) {
        loop {
            let (stream, _) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(err) => {
                    // EMFILE and friends: back off briefly rather than spin.
                    tracing::warn!("runtime proxy accept failed: {err}");
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            let proxy = Arc::clone(&self);
            tokio::spawn(async move {
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
            });
        }
    }

    /// Forwards one request upstream and relays the answer.
    pub async fn forward(&self, request: Request<Incoming>) -> Response<ProxyBody> {
        let is_next = request.uri().path().ends_with(NEXT_SUFFIX);
        if is_next && !self.config.attempted() {
            // The first /next may wait for the config, never longer than the request timeout.
            let timeout = self.config.request_timeout();
            if !self.config.wait_first_attempt(timeout).await {
                tracing::warn!(
                    "config not loaded within {timeout:?}; passing this invocation through untouched"
                );
            }
        }
        let (parts, body) = request.into_parts();
        let mut upstream_request = Request::new(boxed(body));
        *upstream_request.method_mut() = parts.method.clone();
        *upstream_request.uri_mut() = self.upstream.uri(parts.uri.path_and_query());
        *upstream_request.headers_mut() = end_to_end(parts.headers);
        upstream_request
            .headers_mut()
            .insert(header::HOST, self.upstream.host_header().clone());

        match self.client.request(upstream_request).await {
            Ok(response) => {
                let (mut parts, body) = response.into_parts();
                parts.headers = end_to_end(parts.headers);
                Response::from_parts(parts, boxed(body))
            }
            Err(err) => {
                tracing::error!(
                    "Runtime API upstream {} unreachable for {} {}: {err}",
                    self.upstream,
                    parts.method,
                    parts.uri.path()
                );
                bad_gateway(&err.to_string())
            }
        }
    }
}

fn end_to_end(mut headers: HeaderMap) -> HeaderMap {
    // Headers named by `Connection` are hop-by-hop too.
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in HOP_BY_HOP.iter().chain(named.iter()) {
        headers.remove(name);
    }
    headers
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_headers_are_dropped_and_the_rest_kept() {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONNECTION, "keep-alive, x-private".parse().unwrap());
        headers.insert("x-private", "1".parse().unwrap());
        headers.insert(header::TRANSFER_ENCODING, "chunked".parse().unwrap());
        headers.insert(header::CONTENT_TYPE, "application/json".parse().unwrap());
        headers.insert(
            "lambda-runtime-function-response-mode",
            "streaming".parse().unwrap(),
        );
        headers.insert(
            header::TRAILER,
            "Lambda-Runtime-Function-Error-Type".parse().unwrap(),
        );
        let kept = end_to_end(headers);
        assert!(kept.get("x-private").is_none());
        assert!(kept.get(header::CONNECTION).is_none());
        assert!(kept.get(header::TRANSFER_ENCODING).is_none());
        assert_eq!(kept.len(), 3);
    }
}
