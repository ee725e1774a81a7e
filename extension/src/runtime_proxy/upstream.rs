//! Lambda's Runtime API as the relay reaches it: one connection per runtime connection, opened
//! when first needed, the request line rewritten only when the endpoint has a path prefix, and
//! the requests faultline sends itself (an injected `/error` or `/response`).

use super::wire::Wire;
use super::wire::head::{INVOCATION_ID, RequestHead};
use crate::lambda::endpoint::ApiEndpoint;
use http::HeaderValue;
use std::io::Write as _;

/// Path suffix of the call that fetches the next invocation.
pub(super) const NEXT_SUFFIX: &str = "/runtime/invocation/next";
/// Path suffix of the call a SnapStart runtime makes before its snapshot; Lambda answers it after
/// the restore.
pub(super) const RESTORE_SUFFIX: &str = "/runtime/restore/next";
/// Header naming the error type on `/error` calls.
const ERROR_TYPE: &str = "Lambda-Runtime-Function-Error-Type";

/// Header fields of the runtime's request that describe a body faultline replaced.
const REPLACED_BODY_FIELDS: [&str; 4] =
    ["content-length", "transfer-encoding", "expect", "trailer"];

/// The fields of a request faultline writes itself beyond its framing.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct OwnFields<'a> {
    /// `Lambda-Runtime-Function-Error-Type`, on `/error`.
    pub error_type: Option<&'a str>,
    /// `Lambda-Runtime-Invocation-Id`: the invocation answered.
    pub invocation_id: Option<&'a str>,
}

pub(super) struct Upstream {
    endpoint: ApiEndpoint,
    /// The most bytes one read from the Runtime API takes (tests cut the stream at every byte).
    max_read: usize,
}

impl Upstream {
    pub(super) fn new(endpoint: ApiEndpoint) -> Upstream {
        Upstream {
            endpoint,
            max_read: usize::MAX,
        }
    }

    /// Makes every read from the Runtime API take at most `max_read` bytes (tests).
    #[cfg(test)]
    pub(super) fn cut_reads(&mut self, max_read: usize) {
        self.max_read = max_read;
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
        Ok(Wire::new(stream).cut_reads(self.max_read))
    }

    /// The head to send for `head` (`raw`: its bytes) when it cannot go on byte for byte: the
    /// request line with the endpoint's prefix added or an absolute-form target made a path,
    /// then its fields as they came, less a `Content-Length` that came beside
    /// `Transfer-Encoding`. None when the head goes on as it came.
    pub(super) fn rewritten_head(&self, head: &RequestHead, raw: &[u8]) -> Option<Vec<u8>> {
        if self.endpoint.prefix().is_empty() && !head.absolute_form && !head.drop_length {
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
        let fields = &raw[head.fields_at.min(raw.len())..];
        if head.drop_length {
            // Field lines end in LF (CRLF or a bare LF); obs-fold was refused by the parser.
            for line in fields.split_inclusive(|&b| b == b'\n') {
                let name = line.split(|&b| b == b':').next().unwrap_or_default();
                if !name.trim_ascii().eq_ignore_ascii_case(b"content-length") {
                    out.extend_from_slice(line);
                }
            }
        } else {
            out.extend_from_slice(fields);
        }
        Some(out)
    }

    /// The runtime's request head with its body replaced by `length` bytes: the request line
    /// (prefixed), its fields but those framing the old body, the invocation id kept from
    /// `/next` when the runtime did not echo one, and the new `Content-Length`.
    pub(super) fn head_for_new_body(
        &self,
        head: &RequestHead,
        raw: &[u8],
        length: usize,
        invocation_id: Option<&str>,
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
        if head.invocation_id.is_none()
            && let Some(id) = invocation_id.filter(|id| HeaderValue::from_str(id).is_ok())
        {
            let _ = write!(out, "{INVOCATION_ID}: {id}\r\n");
        }
        let _ = write!(out, "Content-Length: {length}\r\n\r\n");
        out
    }

    /// A POST of `body` (JSON) to `path` (without the prefix), as a current runtime client would
    /// send it: an injected `/error` (with its error type) or `/response`, carrying the
    /// invocation id of the invocation it answers when `/next` gave one.
    pub(super) fn post(&self, path: &str, body: &[u8], fields: OwnFields<'_>) -> Vec<u8> {
        let mut out = Vec::with_capacity(256 + body.len());
        let _ = write!(
            out,
            "POST {}{path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
            self.endpoint.prefix(),
            self.endpoint.authority(),
            body.len()
        );
        // A value that cannot be a header field is left out, as the runtime clients do.
        if let Some(value) = fields
            .error_type
            .filter(|t| HeaderValue::from_str(t).is_ok())
        {
            let _ = write!(out, "{ERROR_TYPE}: {value}\r\n");
        }
        if let Some(value) = fields
            .invocation_id
            .filter(|id| HeaderValue::from_str(id).is_ok())
        {
            let _ = write!(out, "{INVOCATION_ID}: {value}\r\n");
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
    fn content_length_beside_transfer_encoding_is_left_out() {
        let raw = b"POST /r HTTP/1.1\r\nHost: h\r\ncontent-length: 3\r\nTransfer-Encoding: chunked\r\nX-Content-Length: 1\r\n\r\n";
        let head = parse_request(raw).unwrap().unwrap();
        let rewritten = upstream("127.0.0.1:9001")
            .rewritten_head(&head, raw)
            .unwrap();
        assert_eq!(
            String::from_utf8(rewritten).unwrap(),
            "POST /r HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nX-Content-Length: 1\r\n\r\n"
        );
    }

    #[test]
    fn a_prefix_is_added_to_the_request_line_only() {
        let raw = b"POST /2018-06-01/runtime/invocation/a/response?x=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\n";
        let head = parse_request(raw).unwrap().unwrap();
        assert!(
            upstream("127.0.0.1:9001")
                .rewritten_head(&head, raw)
                .is_none()
        );
        let prefixed = upstream("http://127.0.0.1:9001/.rt")
            .rewritten_head(&head, raw)
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
            .rewritten_head(&head, raw)
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
        let new = upstream("127.0.0.1:9001").head_for_new_body(&head, raw, 7, None);
        assert_eq!(
            String::from_utf8(new).unwrap(),
            "POST /r HTTP/1.1\r\nHost: h\r\nX-Keep: 1\r\nContent-Length: 7\r\n\r\n"
        );
        // An invocation id kept from /next is added when the runtime did not echo one...
        let new = upstream("127.0.0.1:9001").head_for_new_body(&head, raw, 7, Some("inv-1"));
        assert!(String::from_utf8(new).unwrap().ends_with(
            "X-Keep: 1\r\nlambda-runtime-invocation-id: inv-1\r\nContent-Length: 7\r\n\r\n"
        ));
        // ...and the runtime's own echo goes on as it came, once.
        let echoed =
            b"POST /r HTTP/1.1\r\nLambda-Runtime-Invocation-Id: inv-2\r\nContent-Length: 1\r\n\r\n";
        let head = parse_request(echoed).unwrap().unwrap();
        let new = String::from_utf8(upstream("127.0.0.1:9001").head_for_new_body(
            &head,
            echoed,
            3,
            Some("inv-1"),
        ))
        .unwrap();
        assert_eq!(
            new.matches("nvocation-Id").count() + new.matches("nvocation-id").count(),
            1
        );
        assert!(new.contains("Lambda-Runtime-Invocation-Id: inv-2"), "{new}");
    }

    #[test]
    fn injected_posts_carry_their_error_type_and_invocation_id_when_valid() {
        let up = upstream("http://127.0.0.1:9001/p");
        let post = String::from_utf8(up.post(
            "/2018-06-01/runtime/invocation/a/error",
            b"{}",
            OwnFields {
                error_type: Some("Runtime.X"),
                invocation_id: Some("inv-7"),
            },
        ))
        .unwrap();
        assert_eq!(
            post,
            "POST /p/2018-06-01/runtime/invocation/a/error HTTP/1.1\r\nHost: 127.0.0.1:9001\r\n\
             Content-Type: application/json\r\nContent-Length: 2\r\n\
             Lambda-Runtime-Function-Error-Type: Runtime.X\r\n\
             lambda-runtime-invocation-id: inv-7\r\n\r\n{}"
        );
        let bad = String::from_utf8(up.post(
            "/e",
            b"",
            OwnFields {
                error_type: Some("a\r\nb"),
                invocation_id: Some("x\ny"),
            },
        ))
        .unwrap();
        assert!(!bad.contains("error-type") && !bad.contains("invocation-id"));
        assert!(!bad.contains("Error-Type"));
        let plain = String::from_utf8(up.post("/r", b"", OwnFields::default())).unwrap();
        assert!(!plain.contains("invocation-id"), "{plain}");
    }
}
