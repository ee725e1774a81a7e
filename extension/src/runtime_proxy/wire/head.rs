//! Message heads, parsed with httparse for what the relay needs to know and nothing more: the
//! route of a request, the status of an answer, how the body is framed, and whether the
//! connection stays open. The bytes themselves are relayed as they came.

use super::framing::Framing;
use thiserror::Error;

/// The header naming one invocation (never reused by a retry, unlike the request id): Lambda
/// sends it on `/next` and rejects an answer that carries another with `410 Gone`.
pub(in crate::runtime_proxy) const INVOCATION_ID: &str = "lambda-runtime-invocation-id";
/// The tenant of the invocation, on `/next` answers of functions with tenant isolation.
const TENANT_ID: &str = "lambda-runtime-aws-tenant-id";
/// The invocation's deadline, on `/next` answers.
pub(in crate::runtime_proxy) const DEADLINE: &str = "lambda-runtime-deadline-ms";

/// Header fields in one head at most (hyper's default is 100).
const MAX_HEADERS: usize = 100;

/// A head that is not valid HTTP/1, or not one the relay can frame.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub(in crate::runtime_proxy) enum HeadError {
    #[error("{0}")]
    Invalid(String),
    /// More fields than the parser holds: a head too large rather than a bad one (431).
    #[error("more than {MAX_HEADERS} header fields")]
    TooManyFields,
}

/// The error of an httparse failure on a head.
fn parse_error(what: &str, err: httparse::Error) -> HeadError {
    match err {
        httparse::Error::TooManyHeaders => HeadError::TooManyFields,
        err => HeadError::Invalid(format!("invalid {what} head: {err}")),
    }
}

/// The request methods the relay treats apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::runtime_proxy) enum Method {
    Get,
    Head,
    Other,
}

/// A parsed request head; `len` bytes at the start of the buffer it was parsed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(in crate::runtime_proxy) struct RequestHead {
    pub len: usize,
    pub method: Method,
    /// The request target in origin form (a path and query): as sent, or taken from an
    /// absolute-form target (`http://host/path`).
    pub target: String,
    /// The target came in absolute form: the request line goes on in origin form.
    pub absolute_form: bool,
    /// `Content-Length` came beside `Transfer-Encoding`: it is removed on the way, as an
    /// intermediary must (RFC 9112 §6.3), and the connection closes after the exchange.
    pub drop_length: bool,
    /// Where the header fields start (just past the request line; empty lines before the
    /// request line come before it).
    pub fields_at: usize,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub version: u8,
    pub framing: Framing,
    /// The connection closes after this exchange.
    pub close: bool,
    /// `Expect: 100-continue`: the client waits for an interim answer before sending the body.
    pub expect_continue: bool,
    /// `Lambda-Runtime-Function-Response-Mode: streaming`.
    pub streaming: bool,
    /// `Lambda-Runtime-Invocation-Id`, as a current runtime client echoes it on `/response` and
    /// `/error`.
    pub invocation_id: Option<String>,
}

/// A parsed response head; `len` bytes at the start of the buffer it was parsed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(in crate::runtime_proxy) struct ResponseHead {
    pub len: usize,
    pub status: u16,
    pub framing: Framing,
    pub close: bool,
    /// `Lambda-Runtime-Aws-Request-Id`, on `/next` answers.
    pub request_id: Option<String>,
    /// `Lambda-Runtime-Invocation-Id`, on `/next` answers since mid-2026: unique per invocation
    /// (never reused by a retry), to be echoed on the `/response` or `/error` that answers it.
    pub invocation_id: Option<String>,
    /// `Lambda-Runtime-Aws-Tenant-Id`, on `/next` answers of functions with tenant isolation.
    pub tenant_id: Option<String>,
    /// `Lambda-Runtime-Trace-Id`, on `/next` answers: the invocation's X-Ray trace header.
    pub trace: Option<String>,
    /// `Lambda-Runtime-Deadline-Ms`, on `/next` answers: the invocation's deadline, in
    /// milliseconds since the epoch.
    pub deadline_ms: Option<u64>,
}

impl ResponseHead {
    /// A 1xx answer other than 101: another head follows it.
    pub(in crate::runtime_proxy) fn is_interim(&self) -> bool {
        (100..200).contains(&self.status) && self.status != 101
    }

    pub(in crate::runtime_proxy) fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// Whether a comma-separated header value lists `token` (case-insensitive).
fn lists(value: &[u8], token: &str) -> bool {
    value
        .split(|&b| b == b',')
        .any(|item| item.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
}

/// What the fields say about framing and the connection.
#[derive(Default)]
struct Fields {
    content_length: Option<u64>,
    chunked: Option<bool>,
    close: bool,
    keep_alive: bool,
    expect_continue: bool,
    streaming: bool,
    request_id: Option<String>,
    invocation_id: Option<String>,
    tenant_id: Option<String>,
    trace: Option<String>,
    deadline_ms: Option<u64>,
}

fn read_fields(headers: &[httparse::Header<'_>]) -> Result<Fields, HeadError> {
    let mut fields = Fields::default();
    for header in headers {
        let name = header.name;
        let value = header.value;
        if name.eq_ignore_ascii_case("content-length") {
            // 1*DIGIT (RFC 9110): Rust's parse would also take a leading `+`.
            let length = std::str::from_utf8(value)
                .ok()
                .map(str::trim)
                .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|v| v.parse::<u64>().ok())
                .ok_or_else(|| {
                    HeadError::Invalid(format!(
                        "invalid Content-Length {:?}",
                        String::from_utf8_lossy(value)
                    ))
                })?;
            if fields.content_length.is_some_and(|seen| seen != length) {
                return Err(HeadError::Invalid(
                    "conflicting Content-Length fields".into(),
                ));
            }
            fields.content_length = Some(length);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            // Only the last coding says whether the body is chunked.
            let last = value.rsplit(|&b| b == b',').next().unwrap_or_default();
            fields.chunked = Some(last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
        } else if name.eq_ignore_ascii_case("connection") {
            fields.close |= lists(value, "close");
            fields.keep_alive |= lists(value, "keep-alive");
        } else if name.eq_ignore_ascii_case("expect") {
            fields.expect_continue = value.trim_ascii().eq_ignore_ascii_case(b"100-continue");
        } else if name.eq_ignore_ascii_case("lambda-runtime-function-response-mode") {
            fields.streaming = value.trim_ascii().eq_ignore_ascii_case(b"streaming");
        } else if name.eq_ignore_ascii_case("lambda-runtime-aws-request-id") {
            fields.request_id = std::str::from_utf8(value).ok().map(str::to_string);
        } else if name.eq_ignore_ascii_case(INVOCATION_ID) {
            fields.invocation_id = std::str::from_utf8(value).ok().map(str::to_string);
        } else if name.eq_ignore_ascii_case(DEADLINE) {
            fields.deadline_ms = std::str::from_utf8(value)
                .ok()
                .and_then(|ms| ms.trim().parse().ok());
        } else if name.eq_ignore_ascii_case("lambda-runtime-trace-id") {
            fields.trace = std::str::from_utf8(value).ok().map(str::to_string);
        } else if name.eq_ignore_ascii_case(TENANT_ID) {
            fields.tenant_id = std::str::from_utf8(value)
                .ok()
                .map(str::trim)
                .filter(|tenant| !tenant.is_empty())
                .map(str::to_string);
        }
    }
    Ok(fields)
}

impl Fields {
    /// Whether the connection closes after this message (RFC 9112 §9.3).
    fn closes(&self, version: u8) -> bool {
        self.close || (version == 0 && !self.keep_alive)
    }
}

/// Where the request line starts: past the empty lines a client may send before it.
pub(in crate::runtime_proxy) fn request_line_at(buf: &[u8]) -> usize {
    buf.iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(buf.len())
}

/// A request target in origin form: `target` itself when it is a path, the path and query of an
/// absolute-form `http(s)://authority/path?query` (`/` when it has none); None for anything else.
fn origin_form(target: &str) -> Option<String> {
    if target.starts_with('/') {
        return Some(target.to_string());
    }
    let (scheme, rest) = target.split_once("://")?;
    if !(scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https")) {
        return None;
    }
    let path_at = rest.find(['/', '?']).unwrap_or(rest.len());
    if path_at == 0 {
        return None; // no authority
    }
    let path = &rest[path_at..];
    Some(if path.starts_with('/') {
        path.to_string()
    } else {
        format!("/{path}")
    })
}

/// Parses a request head at the start of `buf`; None while it is incomplete.
pub(in crate::runtime_proxy) fn parse_request(
    buf: &[u8],
) -> Result<Option<RequestHead>, HeadError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    let len = match request.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(err) => return Err(parse_error("request", err)),
    };
    let version = request.version.unwrap_or(1);
    let method = match request.method.unwrap_or_default() {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        _ => Method::Other,
    };
    let sent = request.path.unwrap_or("/");
    let (target, absolute_form) = match origin_form(sent) {
        Some(path) => (path, !sent.starts_with('/')),
        None => {
            return Err(HeadError::Invalid(format!(
                "request target {sent:?} is neither a path nor an http URL"
            )));
        }
    };
    let fields = read_fields(request.headers)?;
    let mut close = fields.closes(version) || (version == 0 && fields.chunked.is_some());
    let mut drop_length = false;
    let framing = match (fields.chunked, fields.content_length) {
        (Some(true), length) => {
            // Both framings: chunked wins, Content-Length goes, and the connection cannot be
            // trusted after it.
            drop_length = length.is_some();
            close |= drop_length;
            Framing::Chunked
        }
        (Some(false), _) => {
            return Err(HeadError::Invalid(
                "a request body must end with the chunked coding".into(),
            ));
        }
        (None, length) => Framing::Length(length.unwrap_or(0)),
    };
    // Empty lines before the request line are allowed (RFC 9112 2.2): skip them.
    let line_at = request_line_at(buf);
    let fields_at = buf[line_at..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(len, |at| line_at + at + 1);
    Ok(Some(RequestHead {
        len,
        method,
        target,
        absolute_form,
        drop_length,
        fields_at,
        version,
        framing,
        close,
        expect_continue: fields.expect_continue && version == 1,
        streaming: fields.streaming,
        invocation_id: fields.invocation_id,
    }))
}

/// Parses a response head at the start of `buf`, the answer to a `method` request; None while
/// it is incomplete.
pub(in crate::runtime_proxy) fn parse_response(
    buf: &[u8],
    method: Method,
) -> Result<Option<ResponseHead>, HeadError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    let len = match response.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(err) => return Err(parse_error("response", err)),
    };
    let version = response.version.unwrap_or(1);
    let status = response.code.unwrap_or_default();
    let fields = read_fields(response.headers)?;
    // HTTP/1.0 with Transfer-Encoding: the framing is suspect (RFC 9112 §6.1).
    let mut close = fields.closes(version) || (version == 0 && fields.chunked.is_some());
    let bodiless =
        method == Method::Head || (100..200).contains(&status) || status == 204 || status == 304;
    let framing = if bodiless {
        Framing::Length(0)
    } else {
        match (fields.chunked, fields.content_length) {
            (Some(true), length) => {
                close |= length.is_some();
                Framing::Chunked
            }
            (Some(false), _) | (None, None) => Framing::UntilClose,
            (None, Some(length)) => Framing::Length(length),
        }
    };
    close |= framing == Framing::UntilClose;
    Ok(Some(ResponseHead {
        len,
        status,
        framing,
        close,
        request_id: fields.request_id,
        invocation_id: fields.invocation_id,
        tenant_id: fields.tenant_id,
        trace: fields.trace,
        deadline_ms: fields.deadline_ms,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(text: &str) -> RequestHead {
        parse_request(text.as_bytes()).unwrap().unwrap()
    }

    fn response(text: &str, method: Method) -> ResponseHead {
        parse_response(text.as_bytes(), method).unwrap().unwrap()
    }

    #[test]
    fn a_request_head_gives_its_route_framing_and_connection() {
        let head =
            request("GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\nrest");
        assert_eq!(
            head.len,
            "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n".len()
        );
        assert_eq!(head.method, Method::Get);
        assert_eq!(head.target, "/2018-06-01/runtime/invocation/next");
        assert_eq!(
            head.fields_at,
            "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\n".len()
        );
        assert_eq!(head.framing, Framing::Length(0));
        assert!(!head.close);
        let post = request(
            "POST /r HTTP/1.1\r\nContent-Length: 12\r\nExpect: 100-continue\r\n\
             Lambda-Runtime-Function-Response-Mode: streaming\r\nConnection: close\r\n\r\n",
        );
        assert_eq!(post.framing, Framing::Length(12));
        assert!(post.expect_continue && post.streaming && post.close);
        let chunked = request("POST /r HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n");
        assert_eq!(chunked.framing, Framing::Chunked);
        assert!(!chunked.close);
        assert!(request("GET / HTTP/1.0\r\n\r\n").close);
        assert!(!request("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").close);
        assert!(
            parse_request(b"GET / HTTP/1.1\r\nHost: x\r\n")
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn requests_the_relay_cannot_frame_are_refused() {
        for bad in [
            "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: \r\n\r\n",
            "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
            "GET ftp://elsewhere/ HTTP/1.1\r\n\r\n",
            "GET http:///no-authority HTTP/1.1\r\n\r\n",
            "GET * HTTP/1.1\r\n\r\n",
            "NOT HTTP\r\n\r\n",
        ] {
            assert!(parse_request(bad.as_bytes()).is_err(), "{bad}");
        }
        let both =
            request("POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n");
        assert_eq!(both.framing, Framing::Chunked);
        assert!(both.close);
    }

    #[test]
    fn absolute_form_targets_are_taken_in_origin_form() {
        for (sent, path) in [
            (
                "http://127.0.0.1:9001/2018-06-01/runtime/invocation/next",
                "/2018-06-01/runtime/invocation/next",
            ),
            ("HTTP://h/a?b=1", "/a?b=1"),
            ("https://h", "/"),
            ("http://h?q", "/?q"),
        ] {
            let head = request(&format!("GET {sent} HTTP/1.1\r\n\r\n"));
            assert_eq!(head.target, path, "{sent}");
            assert!(head.absolute_form);
        }
        assert!(!request("GET /a HTTP/1.1\r\n\r\n").absolute_form);
    }

    #[test]
    fn too_many_fields_is_its_own_error_and_http_1_0_chunked_closes() {
        let fields: String = (0..=MAX_HEADERS).map(|i| format!("X-{i}: v\r\n")).collect();
        assert_eq!(
            parse_request(format!("GET / HTTP/1.1\r\n{fields}\r\n").as_bytes()),
            Err(HeadError::TooManyFields)
        );
        let old = request(
            "POST / HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n",
        );
        assert!(old.close);
        let both =
            request("POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n");
        assert!(both.drop_length && both.close);
        let answer = response(
            "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n",
            Method::Get,
        );
        assert!(answer.close);
    }

    #[test]
    fn a_response_head_gives_its_framing_by_the_rules() {
        let next = response(
            "HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: abc\r\n\
             Lambda-Runtime-Aws-Tenant-Id: tenant-7\r\nContent-Length: 5\r\n\r\n",
            Method::Get,
        );
        assert_eq!((next.status, next.framing), (200, Framing::Length(5)));
        assert_eq!(next.request_id.as_deref(), Some("abc"));
        assert_eq!(next.tenant_id.as_deref(), Some("tenant-7"));
        let timed = response(
            "HTTP/1.1 200 OK\r\nLambda-Runtime-Deadline-Ms: 1796522937149\r\nContent-Length: 0\r\n\r\n",
            Method::Get,
        );
        assert_eq!(timed.deadline_ms, Some(1_796_522_937_149));
        assert!(next.is_success() && !next.close);
        let head = response("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", Method::Head);
        assert_eq!(head.framing, Framing::Length(0));
        for bodiless in [
            "HTTP/1.1 204 No Content\r\n\r\n",
            "HTTP/1.1 304 Not Modified\r\n\r\n",
        ] {
            assert_eq!(response(bodiless, Method::Get).framing, Framing::Length(0));
        }
        let interim = response("HTTP/1.1 100 Continue\r\n\r\n", Method::Other);
        assert!(interim.is_interim() && !interim.close);
        let open = response("HTTP/1.1 200 OK\r\n\r\n", Method::Get);
        assert_eq!(open.framing, Framing::UntilClose);
        assert!(open.close);
        let chunked = response(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            Method::Get,
        );
        assert_eq!(chunked.framing, Framing::Chunked);
        assert!(
            response(
                "HTTP/1.0 202 Accepted\r\nContent-Length: 0\r\n\r\n",
                Method::Other
            )
            .close
        );
    }
}
