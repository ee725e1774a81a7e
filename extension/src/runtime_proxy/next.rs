//! `ingress` and `http-ingress`: faults applied to an event before the runtime sees it.
//!
//! Latency delays delivery. An exception fails the invocation without running the handler: the
//! proxy posts `/error` for that request id itself and fetches the next event for the runtime,
//! which keeps waiting on its `/next`. On an HTTP event, an `http-ingress` httpResponse answers
//! with an HTTP-shaped response the same way. If posting fails, the event is delivered as usual.

use super::answers::{GONE, error_body, forged_answer, with_field};
use super::failure::Failure;
use super::in_flight::InFlight;
use super::relay::{Flow, Read, Relay, answer_payload};
use super::upstream::OwnFields;
use super::wire::framing::Framing;
use super::wire::head::{DEADLINE, RequestHead};
use super::{MAX_BUFFERED, RuntimeProxy};
use crate::audit;
use crate::config::state::ActiveConfig;
use crate::inject;
use faultline_schema::config::TimeoutEffect;
use faultline_schema::event::{EventFacts, classify, record_ids, values_at};
use faultline_schema::fault::{Answers, Terminal};
use faultline_schema::flags::{HTTP_INGRESS, INGRESS, RESPONSE};
use faultline_schema::labels::Labels;
use faultline_schema::labels::{TENANT_LABEL, invocation_labels};
use std::sync::atomic::{AtomicBool, Ordering};

/// An oversized event is logged once per environment.
static TOO_LARGE_LOGGED: AtomicBool = AtomicBool::new(false);

fn log_too_large() {
    if !TOO_LARGE_LOGGED.swap(true, Ordering::Relaxed) {
        tracing::warn!(
            "an event over {MAX_BUFFERED} bytes is delivered untouched: \
             ingress and response experiments do not apply to it"
        );
    }
}

/// The invocation an event belongs to, as `/next` named it.
#[derive(Debug, Clone, Copy)]
struct Invocation<'a> {
    /// The path of the runtime's `/next`, whose prefix the answer's path shares.
    next_path: &'a str,
    request_id: &'a str,
    invocation_id: Option<&'a str>,
    /// The invocation's trace header.
    trace: Option<&'a str>,
}

impl RuntimeProxy {
    /// The runtime's `/next`. Whether an experiment applies is decided when the event arrives,
    /// with the config of that moment: the request may have waited upstream for minutes
    /// (a frozen environment) while experiments changed. With no experiment on the Runtime API
    /// the event is relayed untouched; otherwise it is read, the ingress flags are applied, and
    /// it is delivered as it came, or answered for the handler and the next one fetched.
    pub(super) async fn next_invocation(
        &self,
        relay: &mut Relay<'_>,
        head: &RequestHead,
    ) -> Result<Flow, Failure> {
        loop {
            let answer = relay.send(head).await?;
            // The environment may just have been thawed: a stale config is re-read now, in
            // the background, for the events after this one.
            self.poke_refresh();
            if !answer.is_success() {
                return relay.answer(head, answer).await;
            }
            let mut now = chrono::Utc::now();
            let mut in_force = self.config.in_force();
            let mut guarded = in_force.as_ref().is_some_and(|a| a.is_guarded(now));
            in_force = in_force.filter(|a| a.needs_event(now));
            if (in_force.is_some() || self.config.restored()) && self.refreshing() {
                // A stale config that would act on this event is being re-read (the environment
                // was just thawed, or restored from a snapshot): decide with the fresh one, so
                // that a stopped experiment stops at once. The wait is bounded by the request
                // timeout.
                self.config
                    .wait_next_attempt(self.config.request_timeout())
                    .await;
                now = chrono::Utc::now();
                in_force = self.config.in_force();
                guarded = in_force.as_ref().is_some_and(|a| a.is_guarded(now));
                in_force = in_force.filter(|a| a.needs_event(now));
            }
            let request_id = answer.request_id.as_deref();
            let tenant = answer.tenant_id.as_deref();
            let trace = answer.trace.as_deref();
            // Under a guard, each invocation the runtime gets is watched until it is answered.
            let delivering = || {
                if guarded && let Some(id) = request_id {
                    self.guardian.delivered(id, answer.deadline_ms);
                }
            };
            let Some(active) = in_force else {
                delivering();
                self.current.set(request_id, tenant, trace);
                return relay.answer(head, answer).await;
            };
            if matches!(answer.framing, Framing::Length(n) if n > MAX_BUFFERED as u64) {
                log_too_large();
                delivering();
                self.current.set(request_id, tenant, trace);
                return relay.answer(head, answer).await;
            }
            let mut raw = match relay.read_answer(&answer, MAX_BUFFERED).await? {
                Read::Whole(raw) => raw,
                Read::Relayed => {
                    log_too_large();
                    delivering();
                    self.current.set(request_id, tenant, trace);
                    return Ok(relay.after(head, &answer));
                }
            };
            let event = answer_payload(&raw[answer.len..], answer.framing)?;
            let facts = classify(&event);
            // Read only when a partial batch failure could be asked of this answer.
            let record_ids = if facts.source.is_batch() && active.wants_record_ids(now) {
                record_ids(&event)
            } else {
                Vec::new()
            };
            let mut labels = invocation_labels(&active.base_labels, &facts);
            if let Some(tenant) = tenant {
                labels.insert(TENANT_LABEL.into(), tenant.to_string());
            }
            // The values at the paths of `event.` selectors, read only when some exist.
            let paths = active.experiments.event_paths();
            if !paths.is_empty() {
                for (key, value) in values_at(&event, paths) {
                    labels.insert(key.to_string(), value);
                }
            }
            let path = head.target.split('?').next().unwrap_or_default();
            if let Some(id) = request_id {
                let invocation = Invocation {
                    next_path: path,
                    request_id: id,
                    invocation_id: answer.invocation_id.as_deref(),
                    trace,
                };
                match self
                    .answered_for_handler(relay, &active, invocation, &facts, &labels)
                    .await
                {
                    Handled::Answered => continue,
                    Handled::Deliver => delivering(),
                    // Timed out on purpose: not the function's failure, so not watched.
                    Handled::TimeOut(timeout) => {
                        raw = time_out(raw, answer.len, answer.deadline_ms, timeout, id).await;
                    }
                }
            }
            self.current.set(request_id, tenant, trace);
            if active.could_apply(RESPONSE, now)
                && let Some(id) = &answer.request_id
            {
                let invocation_id = answer.invocation_id.clone();
                self.invocations.insert(
                    id.clone(),
                    InFlight {
                        labels,
                        invocation_id,
                        record_ids,
                        trace: answer.trace.clone(),
                    },
                );
            }
            relay.deliver(&raw).await?;
            return Ok(relay.after(head, &answer));
        }
    }

    /// Applies `ingress`, then `http-ingress` on HTTP events: whether the invocation was
    /// answered here (so the handler must not see it), or is to time out.
    async fn answered_for_handler(
        &self,
        relay: &mut Relay<'_>,
        active: &ActiveConfig,
        invocation: Invocation<'_>,
        facts: &EventFacts,
        labels: &Labels,
    ) -> Handled {
        let Invocation {
            next_path,
            request_id,
            invocation_id,
            trace,
        } = invocation;
        let audited = audit::Invocation::new(Some(request_id), trace);
        let flags: &[&str] = if facts.source.is_http() {
            &[INGRESS, HTTP_INGRESS]
        } else {
            &[INGRESS]
        };
        let invocation = next_path.strip_suffix("/next").unwrap_or(next_path);
        for &flag in flags {
            let Some(fault) = inject::decide(&active.experiments, flag, labels) else {
                continue;
            };
            inject::delay(&fault, audited, labels).await;
            let answers = if flag == HTTP_INGRESS {
                Answers::Http
            } else {
                Answers::Exception
            };
            let (path, body, error_type) = match inject::terminal(&fault, answers, audited, labels)
            {
                // An awsError is never chosen for a flag that does not answer AWS calls.
                // Neither is chosen for an event (the schema allows them elsewhere only).
                None
                | Some(
                    Terminal::AwsError(_) | Terminal::Corrupt(_) | Terminal::BatchItemFailures(_),
                ) => continue,
                Some(Terminal::Timeout(timeout)) => return Handled::TimeOut(*timeout),
                Some(Terminal::Exception(exception)) => (
                    format!("{invocation}/{request_id}/error"),
                    error_body(exception),
                    Some(exception.error_type.as_str()),
                ),
                Some(Terminal::HttpResponse(response)) => (
                    format!("{invocation}/{request_id}/response"),
                    forged_answer(facts.source, response),
                    None,
                ),
            };
            let fields = OwnFields {
                error_type,
                invocation_id,
            };
            let post = self.upstream.post(&path, &body, fields);
            match relay.send_own(&post).await {
                Ok(answer) if answer.is_success() => {
                    // Read the answer so the connection can carry the next /next (one that
                    // breaks off is dropped: the invocation is answered all the same).
                    let _ = relay.drop_answer(&answer).await;
                    return Handled::Answered;
                }
                Ok(answer) if answer.status == GONE => {
                    // The invocation timed out while the fault held it (a latency past the
                    // deadline): Lambda has ended it, so the handler must not see it. The
                    // runtime's /next goes on to the next event.
                    let _ = relay.drop_answer(&answer).await;
                    tracing::warn!(
                        "invocation {request_id} timed out before faultline's injected {flag} answer (410 Gone); fetching the next event"
                    );
                    return Handled::Answered;
                }
                Ok(answer) => {
                    let _ = relay.drop_answer(&answer).await;
                    tracing::error!(
                        "Runtime API refused the injected {flag} answer for {request_id} ({}); delivering the event",
                        answer.status
                    );
                }
                Err(failure) => tracing::error!(
                    "cannot post the injected {flag} answer for {request_id}: {failure}; delivering the event"
                ),
            }
            return Handled::Deliver;
        }
        Handled::Deliver
    }
}

/// What the ingress faults made of an event.
enum Handled {
    /// Delivered as it came.
    Deliver,
    /// Answered here: the handler must not see it.
    Answered,
    /// Made to time out: held past its deadline, or delivered with less time.
    TimeOut(TimeoutEffect),
}

/// Milliseconds past its deadline a held event is kept, so that Lambda has ended the invocation.
const PAST_DEADLINE_MS: u64 = 100;

/// The event `raw` (head `head_len` bytes) for a timeout: held until past its deadline and then
/// delivered as it came (Lambda has timed the invocation out by then: the handler's late answer
/// gets 410), or delivered at once with a deadline `buffer_ms` from now.
async fn time_out(
    raw: Vec<u8>,
    head_len: usize,
    deadline_ms: Option<u64>,
    timeout: TimeoutEffect,
    request_id: &str,
) -> Vec<u8> {
    let now_ms = u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or(0);
    match timeout.buffer_ms {
        Some(buffer) => with_field(
            &raw,
            head_len,
            DEADLINE,
            &now_ms.saturating_add(buffer).to_string(),
        ),
        None => {
            match deadline_ms {
                Some(deadline) => {
                    let wait = deadline
                        .saturating_add(PAST_DEADLINE_MS)
                        .saturating_sub(now_ms);
                    tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
                }
                None => tracing::warn!(
                    "invocation {request_id} has no Lambda-Runtime-Deadline-Ms: the timeout \
                     cannot be held past it; delivering the event"
                ),
            }
            raw
        }
    }
}
