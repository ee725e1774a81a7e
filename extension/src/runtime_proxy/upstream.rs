//! Lambda's Runtime API as the relay reaches it: one connection per runtime connection, opened
//! when first needed, the request line rewritten only when the endpoint has a path prefix, and
//! the requests faultline sends itself (an injected `/error` or `/response`).

use super::wire::Wire;
use super::wire::head::RequestHead;
use crate::lambda::endpoint::ApiEndpoint;
use http::HeaderValue;
use std::io::Write as _;

/// Path suffix of the call that fetches the next invocation.
pub(super) const NEXT_SUFFIX: &str = "/runtime/invocation/next";
/// Header naming the error type on `/error` calls.
const ERROR_TYPE: &str = "Lambda-Runtime-Function-Error-Type";

/// Header fields of the runtime's request that describe a body faultline replaced.
const REPLACED_BODY_FIELDS: [&str; 4] =
    ["content-length", "transfer-encoding", "expect", "trailer"];

pub(super) struct Upstream {
    endpoint: ApiEndpoint,
}

impl Upstream {
    pub(super) fn new(endpoint: ApiEndpoint) -> Upstream {
        Upstream { endpoint }
    }

    pub(super) fn endpoint(&self) -> &ApiEndpoint {
        &self.endpoint
    }

    /// A new connection to the Runtime API.
    pub(super) async fn connect(&self) -> Result<Wire, String> {
        let authority = self.endpoint.authority().as_str();
        let stream = tokio::net::TcpStream::connect(authority)
            .await
            .map_err(|err| format!("cannot connect to {authority}: {err}"))?;
        let _ = stream.set_nodelay(true);
        Ok(Wire::new(stream))
    }

    /// The request line of `head` with the endpoint's prefix added, then its fields as they came
    /// (`raw`: the head's bytes); None when there is no prefix and the head goes on byte for byte.
    pub(super) fn prefixed_head(&self, head: &RequestHead, raw: &[u8]) -> Option<Vec<u8>> {
        if self.endpoint.prefix().is_empty() {
            return None;
        }
        let mut out = Vec::with_capacity(raw.len() + self.endpoint.prefix().len());
        let _ = write!(
            out,
            "{} {}{} HTTP/1.{}\r\n",
            method_of(raw),
            self.endpoint.prefix(),
            head.target,
            head.version
        );
        out.extend_from_slice(&raw[head.fields_at.min(raw.len())..]);
        Some(out)
    }

    /// The runtime's request head with its body replaced by `length` bytes: the request line
    /// (prefixed), its fields but those framing the old body, and the new `Content-Length`.
    pub(super) fn head_for_new_body(
        &self,
        head: &RequestHead,
        raw: &[u8],
        length: usize,
    ) -> Vec<u8> {
        let mut out = Vec::with_capacity(raw.len() + 32);
        let _ = write!(
            out,
            "{} {}{} HTTP/1.1\r\n",
            method_of(raw),
            self.endpoint.prefix(),
            head.target
        );
        let mut fields = [httparse::EMPTY_HEADER; 100];
        if let Ok(httparse::Status::Complete(_)) = httparse::Request::new(&mut fields).parse(raw) {
            for field in fields.iter().take_while(|f| !f.name.is_empty()) {
                if REPLACED_BODY_FIELDS
                    .iter()
                    .any(|n| field.name.eq_ignore_ascii_case(n))
                {
                    continue;
                }
                out.extend_from_slice(field.name.as_bytes());
                out.extend_from_slice(b": ");
                out.extend_from_slice(field.value);
                out.extend_from_slice(b"\r\n");
            }
        }
        let _ = write!(out, "Content-Length: {length}\r\n\r\n");
        out
    }

    /// A POST of `body` (JSON) to `path` (without the prefix), as the runtime would send it:
    /// an injected `/error` (with its error type) or `/response`.
    pub(super) fn post(&self, path: &str, body: &[u8], error_type: Option<&str>) -> Vec<u8> {
        let mut out = Vec::with_capacity(256 + body.len());
        let _ = write!(
            out,
            "POST {}{path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
            self.endpoint.prefix(),
            self.endpoint.authority(),
            body.len()
        );
        // A value that cannot be a header field is left out, as the runtime clients do.
        if let Some(value) = error_type.filter(|t| HeaderValue::from_str(t).is_ok()) {
            let _ = write!(out, "{ERROR_TYPE}: {value}\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(body);
        out
    }
}

/// The method token at the start of a request head.
fn method_of(raw: &[u8]) -> &str {
    let raw = &raw[super::wire::head::request_line_at(raw)..];
    let end = raw.iter().position(|&b| b == b' ').unwrap_or(0);
    std::str::from_utf8(&raw[..end]).unwrap_or("GET")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime_proxy::wire::head::parse_request;

    fn upstream(text: &str) -> Upstream {
        Upstream::new(ApiEndpoint::parse(text).unwrap())
    }

    #[test]
    fn a_prefix_is_added_to_the_request_line_only() {
        let raw = b"POST /2018-06-01/runtime/invocation/a/response?x=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\n";
        let head = parse_request(raw).unwrap().unwrap();
        assert!(
            upstream("127.0.0.1:9001")
                .prefixed_head(&head, raw)
                .is_none()
        );
        let prefixed = upstream("http://127.0.0.1:9001/.rt")
            .prefixed_head(&head, raw)
            .unwrap();
        assert_eq!(
            String::from_utf8(prefixed).unwrap(),
            "POST /.rt/2018-06-01/runtime/invocation/a/response?x=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\n"
        );
    }

    /// RFC 9112 lets a server ignore empty lines before a request line; the prefixed head must
    /// not carry the request line twice (once rewritten, once as it came).
    #[test]
    fn empty_lines_before_the_request_line_are_not_a_second_request_line() {
        let raw = b"\r\n\r\nGET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: h\r\n\r\n";
        let head = parse_request(raw).unwrap().unwrap();
        let prefixed = upstream("http://127.0.0.1:9001/.rt")
            .prefixed_head(&head, raw)
            .unwrap();
        assert_eq!(
            String::from_utf8(prefixed).unwrap(),
            "GET /.rt/2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: h\r\n\r\n"
        );
    }

    #[test]
    fn a_replaced_body_is_framed_anew() {
        let raw = b"POST /r HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\nX-Keep: 1\r\n\r\n";
        let head = parse_request(raw).unwrap().unwrap();
        let new = upstream("127.0.0.1:9001").head_for_new_body(&head, raw, 7);
        assert_eq!(
            String::from_utf8(new).unwrap(),
            "POST /r HTTP/1.1\r\nHost: h\r\nX-Keep: 1\r\nContent-Length: 7\r\n\r\n"
        );
    }

    #[test]
    fn injected_posts_carry_their_error_type_when_it_is_a_valid_value() {
        let up = upstream("http://127.0.0.1:9001/p");
        let post = String::from_utf8(up.post(
            "/2018-06-01/runtime/invocation/a/error",
            b"{}",
            Some("Runtime.X"),
        ))
        .unwrap();
        assert_eq!(
            post,
            "POST /p/2018-06-01/runtime/invocation/a/error HTTP/1.1\r\nHost: 127.0.0.1:9001\r\n\
             Content-Type: application/json\r\nContent-Length: 2\r\n\
             Lambda-Runtime-Function-Error-Type: Runtime.X\r\n\r\n{}"
        );
        let bad = String::from_utf8(up.post("/e", b"", Some("a\r\nb"))).unwrap();
        assert!(!bad.contains("Error-Type"));
    }
}
