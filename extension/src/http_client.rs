//! The extension's one HTTP client for loopback APIs (Runtime API upstream, Extensions API).
//!
//! It never uses HTTP(S)_PROXY: the function's environment points those at our own dependency
//! proxy, and following them would loop. Connections are pooled and use TCP_NODELAY; there is no
//! request timeout because `/next` legitimately waits for as long as the environment is frozen.

use bytes::Bytes;
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
