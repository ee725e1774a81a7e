//! `ingress` and `http-ingress`: faults applied to an event before the runtime sees it.
//!
//! Latency delays delivery. An exception fails the invocation without running the handler: the
//! proxy posts `/error` for that request id itself and fetches the next event for the runtime,
//! which keeps waiting on its `/next`. On an HTTP event, an `http-ingress` httpResponse answers
//! with an HTTP-shaped response the same way. If posting fails, the event is delivered as usual.

use super::RuntimeProxy;
use super::answers::{bad_gateway, error_body, forged_answer};
use super::upstream::REQUEST_ID;
use crate::config::state::ActiveConfig;
use crate::inject;
use crate::net::body::{Bounded, MAX_BUFFERED, drain, read_bounded};
use crate::net::client::{ProxyBody, full_body};
use faultline_schema::event::{EventFacts, classify};
use faultline_schema::fault::Terminal;
use faultline_schema::flags::{HTTP_INGRESS, INGRESS, RESPONSE};
use faultline_schema::labels::Labels;
use faultline_schema::labels::invocation_labels;
use http::{Request, Response};
use hyper::body::Incoming;
use std::sync::atomic::{AtomicBool, Ordering};

/// An oversized event is logged once per environment.
static TOO_LARGE_LOGGED: AtomicBool = AtomicBool::new(false);

impl RuntimeProxy {
    /// The runtime's `/next`. Whether an experiment applies is decided when the event arrives,
    /// with the config of that moment: the request may have waited upstream for minutes
    /// (a frozen environment) while experiments changed. With no experiment on the Runtime API
    /// the event streams through untouched; otherwise it is read, the ingress flags are
    /// applied, and it is delivered, or answered for the handler and the next one fetched.
    pub(super) async fn next_invocation(&self, request: Request<Incoming>) -> Response<ProxyBody> {
        let (parts, _) = request.into_parts();
        loop {
            let mut upstream_request = Request::new(full_body(Vec::new()));
            *upstream_request.method_mut() = parts.method.clone();
            *upstream_request.uri_mut() = parts.uri.clone();
            *upstream_request.headers_mut() = parts.headers.clone();
            let response = match self.upstream.send(upstream_request).await {
                Ok(response) => response,
                Err(reason) => return bad_gateway(&reason),
            };
            // The environment may just have been thawed: a stale config is re-read now, in
            // the background, for the events after this one.
            self.poke_refresh();
            if !response.status().is_success() {
                return response;
            }
            let request_id = response
                .headers()
                .get(REQUEST_ID)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let mut now = chrono::Utc::now();
            let mut in_force = self.config.in_force().filter(|a| a.needs_event(now));
            if in_force.is_some() && self.refreshing() {
                // A stale config that would act on this event is being re-read (the environment
                // was just thawed): decide with the fresh one, so that a stopped experiment
                // stops at once. The wait is bounded by the request timeout.
                self.config
                    .wait_next_attempt(self.config.request_timeout())
                    .await;
                now = chrono::Utc::now();
                in_force = self.config.in_force().filter(|a| a.needs_event(now));
            }
            let Some(active) = in_force else {
                self.current.set(request_id.as_deref());
                return response;
            };
            let (response_parts, body) = response.into_parts();
            let event = match read_bounded(body, MAX_BUFFERED).await {
                Ok(Bounded::Whole(event)) => event,
                Ok(Bounded::TooLarge(body)) => {
                    if !TOO_LARGE_LOGGED.swap(true, Ordering::Relaxed) {
                        tracing::warn!(
                            "an event over {MAX_BUFFERED} bytes is delivered untouched: \
                             ingress and response experiments do not apply to it"
                        );
                    }
                    self.current.set(request_id.as_deref());
                    return Response::from_parts(response_parts, body);
                }
                Err(err) => return bad_gateway(&format!("reading the event failed: {err}")),
            };
            let facts = classify(&event);
            let labels = invocation_labels(&active.base_labels, &facts);
            if let Some(id) = &request_id
                && self
                    .answered_for_handler(&active, parts.uri.path(), id, &facts, &labels)
                    .await
            {
                continue;
            }
            self.current.set(request_id.as_deref());
            if active.could_apply(RESPONSE, now)
                && let Some(id) = request_id
            {
                self.invocations.insert(id, labels);
            }
            return Response::from_parts(response_parts, full_body(event));
        }
    }

    /// Applies `ingress`, then `http-ingress` on HTTP events. Returns whether the invocation was
    /// answered here (so the handler must not see it).
    async fn answered_for_handler(
        &self,
        active: &ActiveConfig,
        next_path: &str,
        request_id: &str,
        facts: &EventFacts,
        labels: &Labels,
    ) -> bool {
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
            inject::delay(&fault, Some(request_id), labels).await;
            let (path, body, error_type) =
                match inject::terminal(&fault, flag == HTTP_INGRESS, Some(request_id), labels) {
                    None => continue,
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
            match self
                .upstream
                .post_for_runtime(&path, body, error_type)
                .await
            {
                Ok(answer) if answer.status().is_success() => {
                    // Drain the answer so the pooled connection can be reused.
                    drain(answer.into_body()).await;
                    return true;
                }
                Ok(answer) => tracing::error!(
                    "Runtime API refused the injected {flag} answer for {request_id} ({}); delivering the event",
                    answer.status()
                ),
                Err(reason) => tracing::error!(
                    "cannot post the injected {flag} answer for {request_id}: {reason}; delivering the event"
                ),
            }
            return false;
        }
        false
    }
}
