//! Where an HTTP API lives: `127.0.0.1:9001`, `http://127.0.0.1:9001/.rt`, `localhost:5033`.
//!
//! Lambda gives runtimes and extensions a plain `host:port` in AWS_LAMBDA_RUNTIME_API; emulators
//! often add a scheme and a path prefix. Both forms are accepted for upstreams.

use http::uri::{Authority, PathAndQuery};
use http::{HeaderValue, Uri};
use std::fmt;
use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
#[error(
    "`{text}` is not an API address like 127.0.0.1:9001 or http://127.0.0.1:9001/prefix: {reason}"
)]
pub struct EndpointError {
    text: String,
    reason: &'static str,
}

/// An HTTP endpoint reached over plain HTTP, with an optional path prefix.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiEndpoint {
    authority: Authority,
    /// The Host header for this endpoint, built once: it is sent with every proxied request.
    host: HeaderValue,
    prefix: String,
}

impl ApiEndpoint {
    pub fn parse(text: &str) -> Result<ApiEndpoint, EndpointError> {
        let error = |reason| EndpointError {
            text: text.to_string(),
            reason,
        };
        let trimmed = text.trim();
        let rest = match trimmed.split_once("://") {
            Some(("http", rest)) => rest,
            Some(_) => return Err(error("only http:// is supported")),
            None => trimmed,
        };
        let (authority, prefix) = match rest.find('/') {
            Some(index) => (&rest[..index], &rest[index..]),
            None => (rest, ""),
        };
        if authority.is_empty() {
            return Err(error("no host"));
        }
        let authority: Authority = authority.parse().map_err(|_| error("bad host:port"))?;
        if authority.host().is_empty() {
            return Err(error("no host"));
        }
        if authority.port_u16().is_none() {
            return Err(error("no port"));
        }
        let prefix = prefix.trim_end_matches('/').to_string();
        if prefix.contains(['?', '#']) {
            return Err(error("the prefix must be a plain path"));
        }
        let host = HeaderValue::from_str(authority.as_str()).map_err(|_| error("bad host:port"))?;
        Ok(ApiEndpoint {
            authority,
            host,
            prefix,
        })
    }

    /// `host:port`, as a Host header value.
    pub fn authority(&self) -> &Authority {
        &self.authority
    }

    /// The Host header value (`host:port`).
    pub fn host_header(&self) -> &HeaderValue {
        &self.host
    }

    /// The path prefix requests get on this endpoint (`/.rt`), empty for none.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The URI of `path_and_query` on this endpoint, prefix included.
    pub fn uri(&self, path_and_query: Option<&PathAndQuery>) -> Uri {
        let path = path_and_query.map_or("/", PathAndQuery::as_str);
        let full = format!("{}{}", self.prefix, path);
        Uri::builder()
            .scheme("http")
            .authority(self.authority.clone())
            .path_and_query(full)
            .build()
            .unwrap_or_else(|_| {
                // Only reachable with a path hyper itself accepted; fall back to the root.
                Uri::builder()
                    .scheme("http")
                    .authority(self.authority.clone())
                    .path_and_query("/")
                    .build()
                    .unwrap_or_default()
            })
    }

    /// The URI of a fixed API path (`/2020-01-01/extension/register`).
    pub fn path_uri(&self, path: &'static str) -> Uri {
        self.uri(Some(&PathAndQuery::from_static(path)))
    }
}

impl fmt::Debug for ApiEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "http://{}{}", self.authority, self.prefix)
    }
}

impl fmt::Display for ApiEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_forms_lambda_and_emulators_use() {
        let plain = ApiEndpoint::parse("127.0.0.1:9001").expect("plain");
        assert_eq!(
            plain
                .path_uri("/2018-06-01/runtime/invocation/next")
                .to_string(),
            "http://127.0.0.1:9001/2018-06-01/runtime/invocation/next"
        );
        let prefixed = ApiEndpoint::parse("http://127.0.0.1:9000/.rt/").expect("prefixed");
        let pq = PathAndQuery::from_static("/2018-06-01/runtime/invocation/abc/response?x=1");
        assert_eq!(
            prefixed.uri(Some(&pq)).to_string(),
            "http://127.0.0.1:9000/.rt/2018-06-01/runtime/invocation/abc/response?x=1"
        );
        assert_eq!(prefixed.authority().as_str(), "127.0.0.1:9000");
        assert_eq!(prefixed.host_header(), "127.0.0.1:9000");
    }

    #[test]
    fn refuses_what_cannot_be_reached() {
        assert!(ApiEndpoint::parse("").is_err());
        assert!(ApiEndpoint::parse("https://127.0.0.1:9001").is_err());
        assert!(ApiEndpoint::parse("127.0.0.1").is_err());
        assert!(ApiEndpoint::parse("http://:80").is_err());
    }
}
