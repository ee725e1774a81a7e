//! `response`: faults applied to what the runtime answers for an invocation.
//!
//! Latency delays forwarding. An exception turns the answer into an invocation error (the proxy
//! posts `/error` instead; the runtime's body is read and dropped). An httpResponse replaces
//! statusCode and body of a buffered answer; a streamed answer (`Lambda-Runtime-Function-
//! Response-Mode: streaming`) cannot be rewritten, so there only latency and exception apply.

use super::answers::{GONE, corrupted, error_body, replace_status_and_body, with_batch_failures};
use super::failure::Failure;
use super::in_flight::InFlight;
use super::relay::{Flow, Relay, request_payload};
use super::upstream::OwnFields;
use super::wire::Relayed;
use super::wire::framing::Framing;
use super::wire::head::{RequestHead, ResponseHead};
use super::{MAX_BUFFERED, RuntimeProxy};
use crate::audit;
use crate::config::state::ActiveConfig;
use crate::guard::{is_server_error, judged_by_start};
use crate::inject;
use faultline_schema::fault::{Answers, Terminal};
use faultline_schema::flags::RESPONSE;
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

/// Whether a runtime answer read with [`Relay::read_request`] is an HTTP-shaped 5xx: one too
/// long to read whole (or whose framing is broken) cannot tell, and counts as answered.
fn read_a_server_error(head: &RequestHead, raw: &[u8], read: &Relayed) -> bool {
    *read != Relayed::Paused
        && request_payload(&raw[head.len..], head.framing).is_ok_and(|p| is_server_error(&p))
}

/// One line when the invocation timed out before faultline's own answer for it (410 Gone):
/// the runtime then gets Lambda's answer, as it would have for its own late answer.
fn log_gone(answer: &ResponseHead, request_id: &str, what: &str) {
    if answer.status == GONE {
        tracing::warn!(
            "invocation {request_id} timed out before faultline's injected {what} (410 Gone); the runtime gets Lambda's answer"
        );
    }
}

impl RuntimeProxy {
    /// The runtime's answer relayed as it came, after the guard was told whether it is an
    /// HTTP-shaped 5xx (a buffered answer is read for it; a streamed one counts as answered).
    pub(super) async fn observed_response(
        &self,
        relay: &mut Relay<'_>,
        head: &RequestHead,
        request_id: &str,
    ) -> Result<Flow, Failure> {
        if head.streaming {
            self.guardian.ended(request_id, false);
            return relay.pass(head).await;
        }
        // Most answers begin with their status and arrive with their head: judged from that
        // start, the answer is relayed as it came, never buffered.
        if let Framing::Length(len) = head.framing {
            let len = usize::try_from(len).unwrap_or(usize::MAX);
            if let Some(failed) = judged_by_start(relay.body_start(len)) {
                self.guardian.ended(request_id, failed);
                return relay.pass(head).await;
            }
        }
        relay.continue_runtime(head).await?;
        let (raw, read, delimiter) = relay.read_request(head, MAX_BUFFERED).await?;
        self.guardian
            .ended(request_id, read_a_server_error(head, &raw, &read));
        let answer = relay.send_rest(head, &raw, delimiter).await?;
        relay.answer(head, answer).await
    }

    /// The answer with no response fault: observed for the guard, or passed on.
    async fn untouched(
        &self,
        relay: &mut Relay<'_>,
        head: &RequestHead,
        request_id: &str,
        guarded: bool,
    ) -> Result<Flow, Failure> {
        if guarded {
            self.observed_response(relay, head, request_id).await
        } else {
            relay.pass(head).await
        }
    }

    pub(super) async fn response_with_faults(
        &self,
        relay: &mut Relay<'_>,
        head: &RequestHead,
        active: Arc<ActiveConfig>,
        request_id: String,
        in_flight: Option<InFlight>,
        guarded: bool,
    ) -> Result<Flow, Failure> {
        let (labels, kept_id, record_ids, trace) = match in_flight {
            Some(InFlight {
                labels,
                invocation_id,
                record_ids,
                trace,
            }) => (labels, invocation_id, record_ids, trace),
            None => (
                active.base_labels.clone(),
                None,
                Vec::new(),
                self.current.trace_of(&request_id).map(|t| t.to_string()),
            ),
        };
        let audited = audit::Invocation::new(Some(&request_id), trace.as_deref());
        let Some(fault) = inject::decide(&active.experiments, RESPONSE, &labels) else {
            return self.untouched(relay, head, &request_id, guarded).await;
        };
        inject::delay(&fault, audited, &labels).await;
        let answers = if head.streaming {
            Answers::Exception
        } else {
            Answers::Http
        };
        match inject::terminal(&fault, answers, audited, &labels) {
            // An awsError is never chosen for a flag that does not answer AWS calls.
            // awsError and timeout are never chosen for the function's answer (the schema's
            // rules).
            None | Some(Terminal::AwsError(_) | Terminal::Timeout(_)) => {
                self.untouched(relay, head, &request_id, guarded).await
            }
            Some(Terminal::Exception(exception)) => {
                // The runtime's answer is dropped; read it (keeping nothing) so its connection
                // stays usable. A streamed answer may be hundreds of MB. Under a guard, a
                // buffered one is judged first: the injected error is not the function's.
                relay.continue_runtime(head).await?;
                if guarded && !head.streaming {
                    let (raw, read, mut delimiter) = relay.read_request(head, MAX_BUFFERED).await?;
                    self.guardian
                        .ended(&request_id, read_a_server_error(head, &raw, &read));
                    if read == Relayed::Paused {
                        relay.drop_rest(&mut delimiter).await?;
                    }
                } else {
                    if guarded {
                        self.guardian.ended(&request_id, false);
                    }
                    relay.drop_request(head).await?;
                }
                let path = head.target.split('?').next().unwrap_or_default();
                let base = path.strip_suffix("response").unwrap_or(path);
                // The runtime's own echo of the invocation id wins; an older runtime client
                // sends none, and then the one kept from /next answers for it.
                let invocation_id = head.invocation_id.as_deref().or(kept_id.as_deref());
                let fields = OwnFields {
                    error_type: Some(&exception.error_type),
                    invocation_id,
                };
                let post =
                    self.upstream
                        .post(&format!("{base}error"), &error_body(exception), fields);
                let answer = relay.send_own(&post).await?;
                log_gone(&answer, &request_id, "response error");
                relay.answer(head, answer).await
            }
            Some(
                terminal @ (Terminal::HttpResponse(_)
                | Terminal::Corrupt(_)
                | Terminal::BatchItemFailures(_)),
            ) => {
                relay.continue_runtime(head).await?;
                let (raw, read, delimiter) = relay.read_request(head, MAX_BUFFERED).await?;
                if read == Relayed::Paused {
                    if guarded {
                        self.guardian.ended(&request_id, false);
                    }
                    tracing::warn!(
                        "a response over {MAX_BUFFERED} bytes cannot be replaced or corrupted: \
                         relayed untouched"
                    );
                    let answer = relay.send_rest(head, &raw, delimiter).await?;
                    return relay.answer(head, answer).await;
                }
                let original = request_payload(&raw[head.len..], head.framing);
                if guarded {
                    // Judged as the runtime gave it, before it is replaced.
                    let failed = original.as_ref().is_ok_and(|p| is_server_error(p));
                    self.guardian.ended(&request_id, failed);
                }
                let original = original?;
                let replaced = match terminal {
                    Terminal::Corrupt(effect) => corrupted(&original, *effect),
                    Terminal::HttpResponse(effect) => replace_status_and_body(&original, effect),
                    Terminal::BatchItemFailures(batch) => {
                        with_batch_failures(&original, &record_ids, batch.rate.value(), || {
                            fastrand::f64()
                        })
                    }
                    Terminal::Exception(_) | Terminal::AwsError(_) | Terminal::Timeout(_) => {
                        original.into_owned()
                    }
                };
                let mut request = self.upstream.head_for_new_body(
                    head,
                    &raw[..head.len],
                    replaced.len(),
                    kept_id.as_deref(),
                );
                request.extend_from_slice(&replaced);
                let answer = relay.send_own(&request).await?;
                log_gone(&answer, &request_id, "response replacement");
                relay.answer(head, answer).await
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
