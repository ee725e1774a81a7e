//! `response`: faults applied to what the runtime answers for an invocation.
//!
//! Latency delays forwarding. An exception turns the answer into an invocation error (the proxy
//! posts `/error` instead; the runtime's body is read and dropped). An httpResponse replaces
//! statusCode and body of a buffered answer; a streamed answer (`Lambda-Runtime-Function-
//! Response-Mode: streaming`) cannot be rewritten, so there only latency and exception apply.

use super::RuntimeProxy;
use super::answers::{bad_gateway, error_body, replace_status_and_body};
use crate::config::state::ActiveConfig;
use crate::inject;
use crate::net::body::{Bounded, MAX_BUFFERED, drain, read_bounded};
use crate::net::client::{ProxyBody, boxed, full_body};
use faultline_schema::fault::Terminal;
use faultline_schema::flags::RESPONSE;
use faultline_schema::labels::Labels;
use http::{Request, Response, header};
use hyper::body::Incoming;
use std::sync::Arc;

const INVOCATION: &str = "/runtime/invocation/";

/// The request id in `.../runtime/invocation/{id}/{last}`.
fn invocation_id<'a>(path: &'a str, last: &str) -> Option<&'a str> {
    let (_, rest) = path.split_once(INVOCATION)?;
    let id = rest.strip_suffix(last)?.strip_suffix('/')?;
    (!id.is_empty() && !id.contains('/')).then_some(id)
}

/// The request id of a `/response` call.
pub(super) fn invocation_of_response(path: &str) -> Option<&str> {
    invocation_id(path, "response")
}

/// The request id of an `/error` call.
pub(super) fn invocation_of_error(path: &str) -> Option<&str> {
    invocation_id(path, "error")
}

fn is_streaming(request: &Request<Incoming>) -> bool {
    request
        .headers()
        .get("lambda-runtime-function-response-mode")
        .is_some_and(|mode| mode.as_bytes().eq_ignore_ascii_case(b"streaming"))
}

impl RuntimeProxy {
    pub(super) async fn response_with_faults(
        &self,
        request: Request<Incoming>,
        active: Arc<ActiveConfig>,
        request_id: String,
        labels: Option<Labels>,
    ) -> Response<ProxyBody> {
        let labels = labels.unwrap_or_else(|| active.base_labels.clone());
        let Some(fault) = inject::decide(&active.experiments, RESPONSE, &labels) else {
            return self.upstream.pass_through(request.map(boxed)).await;
        };
        inject::delay(&fault, Some(&request_id), &labels).await;
        let allow_http = !is_streaming(&request);
        match inject::terminal(&fault, allow_http, Some(&request_id), &labels) {
            None => self.upstream.pass_through(request.map(boxed)).await,
            Some(Terminal::Exception(exception)) => {
                let path = request.uri().path().to_string();
                let base = path.strip_suffix("response").unwrap_or(&path);
                // The runtime's answer is dropped; read it (keeping nothing) so its connection
                // stays usable. A streamed answer may be hundreds of MB.
                drain(boxed(request.into_body())).await;
                match self
                    .upstream
                    .post_for_runtime(
                        &format!("{base}error"),
                        error_body(exception),
                        Some(&exception.error_type),
                    )
                    .await
                {
                    Ok(answer) => answer,
                    Err(reason) => bad_gateway(&reason),
                }
            }
            Some(Terminal::HttpResponse(effect)) => {
                let (mut parts, body) = request.into_parts();
                let original = match read_bounded(boxed(body), MAX_BUFFERED).await {
                    Ok(Bounded::Whole(original)) => original,
                    Ok(Bounded::TooLarge(body)) => {
                        tracing::warn!(
                            "a response over {MAX_BUFFERED} bytes cannot be replaced: relayed untouched"
                        );
                        return self
                            .upstream
                            .pass_through(Request::from_parts(parts, body))
                            .await;
                    }
                    Err(err) => {
                        return bad_gateway(&format!(
                            "reading the function's response failed: {err}"
                        ));
                    }
                };
                parts.headers.remove(header::CONTENT_LENGTH);
                let replaced = replace_status_and_body(&original, effect);
                self.upstream
                    .pass_through(Request::from_parts(parts, full_body(replaced)))
                    .await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_come_from_the_path() {
        let path = "/2018-06-01/runtime/invocation/8476a536-e9f4/response";
        assert_eq!(invocation_of_response(path), Some("8476a536-e9f4"));
        assert_eq!(invocation_of_error(path), None);
        assert_eq!(
            invocation_of_error("/2018-06-01/runtime/invocation/abc/error"),
            Some("abc")
        );
        assert_eq!(
            invocation_of_response("/2018-06-01/runtime/invocation/next"),
            None
        );
        assert_eq!(
            invocation_of_response("/2018-06-01/runtime/invocation//response"),
            None
        );
        assert_eq!(invocation_of_error("/2018-06-01/runtime/init/error"), None);
    }
}
