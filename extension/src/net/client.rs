//! The extension's HTTP client for the Extensions API (the Runtime API relay speaks HTTP/1 at the
//! byte level, see `runtime_proxy`), and the body types the dependency proxy and SDK endpoint use.
//!
//! It never uses HTTP(S)_PROXY: the function's environment points those at our own dependency
//! proxy, and following them would loop. Connections are pooled and use TCP_NODELAY; there is no
//! request timeout because `/next` legitimately waits for as long as the environment is frozen.

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName};
use http_body_util::BodyExt;
use http_body_util::combinators::UnsyncBoxBody;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// Body type used for everything the extension sends or relays.
pub type ProxyBody = UnsyncBoxBody<Bytes, BoxError>;
pub type HttpClient = Client<HttpConnector, ProxyBody>;

/// A pooled HTTP/1.1 client that connects directly (no proxy).
pub fn new_client() -> HttpClient {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    connector.enforce_http(true);
    Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(64)
        .build(connector)
}

/// A body holding `bytes` in full.
pub fn full_body(bytes: impl Into<Bytes>) -> ProxyBody {
    http_body_util::Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// Wraps any body with a boxable error as a [`ProxyBody`].
pub fn boxed<B>(body: B) -> ProxyBody
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    body.map_err(Into::into).boxed_unsync()
}

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

/// The end-to-end headers of a message: hop-by-hop headers, and those named by `Connection`, are
/// dropped (each leg of a proxied exchange frames its own connection).
pub fn end_to_end(mut headers: HeaderMap) -> HeaderMap {
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
