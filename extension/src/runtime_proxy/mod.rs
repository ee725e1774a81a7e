//! The Runtime API proxy: the runtime talks to it instead of Lambda's Runtime API.
//!
//! Every message is relayed byte for byte as it came ([`relay`]): heads are parsed only to route
//! them and find where bodies end, bodies are copied, never parsed or re-framed, and each runtime
//! connection has its own Runtime API connection. Nothing here times out: `/next` waits for as
//! long as Lambda takes to deliver an event, and environments are frozen in between.
//!
//! When experiments target `ingress`, `http-ingress` or `response`, the event or the response is
//! read whole so the effect can act on it ([`next`], [`response`]); the decision is taken per
//! message, with the config of that moment.

mod answers;
mod connection;
mod failure;
mod in_flight;
mod next;
mod relay;
mod response;
#[cfg(test)]
mod tests;
mod upstream;
mod wire;

use crate::config::refresh::ConfigRefresher;
use crate::config::state::ConfigState;
use crate::guard::Guardian;
use crate::invocation::CurrentInvocation;
use crate::lambda::endpoint::ApiEndpoint;
use failure::Failure;
use faultline_schema::flags::RESPONSE;
use in_flight::Invocations;
use relay::{Flow, Relay};
use upstream::{NEXT_SUFFIX, RESTORE_SUFFIX, Upstream};
use wire::head::RequestHead;

/// The most of an event or a response read into memory for an experiment (Lambda takes payloads
/// of at most 6 MB; the bound leaves room for framing). A longer one is relayed untouched.
const MAX_BUFFERED: usize = 6 * 1024 * 1024 + 64 * 1024;
use std::sync::Arc;

/// The Runtime API proxy: one per extension, shared by its connections.
pub struct RuntimeProxy {
    upstream: Upstream,
    config: ConfigState,
    refresher: Option<Arc<ConfigRefresher>>,
    /// Labels of invocations in flight, for the `response` flag.
    invocations: Invocations,
    current: CurrentInvocation,
    /// How invocations end while a guarded experiment runs.
    guardian: Guardian,
    /// Runtime connections served at once.
    max_connections: usize,
    /// The most bytes one read from the runtime takes (tests cut the stream at every byte).
    max_read: usize,
}

impl RuntimeProxy {
    pub fn new(
        upstream: ApiEndpoint,
        config: ConfigState,
        refresher: Option<Arc<ConfigRefresher>>,
        current: CurrentInvocation,
    ) -> Arc<Self> {
        Arc::new(RuntimeProxy {
            upstream: Upstream::new(upstream),
            guardian: Guardian::new(config.clone()),
            config,
            refresher,
            invocations: Invocations::default(),
            current,
            max_connections: connection::MAX_RUNTIME_CONNECTIONS,
            max_read: usize::MAX,
        })
    }

    /// A proxy serving at most `max_connections` runtime connections, reading at most
    /// `max_read` bytes at a time from each (tests).
    #[cfg(test)]
    fn limited(
        upstream: ApiEndpoint,
        config: ConfigState,
        max_connections: usize,
        max_read: usize,
    ) -> Arc<Self> {
        let mut proxy = RuntimeProxy::new(upstream, config, None, CurrentInvocation::default());
        if let Some(inner) = Arc::get_mut(&mut proxy) {
            inner.max_connections = max_connections;
            inner.max_read = max_read;
            inner.upstream.cut_reads(max_read);
        }
        proxy
    }

    /// Handles one request from the runtime: relayed as it came, unless an experiment targets
    /// it.
    async fn exchange(&self, relay: &mut Relay<'_>, head: RequestHead) -> Result<Flow, Failure> {
        let path = head.target.split('?').next().unwrap_or_default();
        if path.ends_with(RESTORE_SUFFIX) {
            // SnapStart: Lambda answers the runtime's restore/next once this environment was
            // restored from a snapshot. The config in memory is the snapshot's.
            let answer = relay.send(&head).await?;
            if answer.is_success()
                && self
                    .config
                    .mark_restored("the runtime's restore/next was answered")
                && let Some(refresher) = &self.refresher
            {
                refresher.expire();
                refresher.poke();
            }
            return relay.answer(&head, answer).await;
        }
        if path.ends_with(NEXT_SUFFIX) {
            // Never held for the config: Lambda ends INIT when the runtime asks for its first
            // event. An event that arrives before the first read is delivered untouched.
            self.poke_refresh();
            return self.next_invocation(relay, &head).await;
        } else if let Some(request_id) = response::invocation_of_response(path) {
            self.current.finish(request_id);
            let in_flight = self.invocations.take(request_id);
            let now = chrono::Utc::now();
            let in_force = self.config.in_force();
            let guarded = in_force.as_ref().is_some_and(|a| a.is_guarded(now));
            if let Some(active) = in_force.filter(|a| a.could_apply(RESPONSE, now)) {
                let request_id = request_id.to_string();
                return self
                    .response_with_faults(relay, &head, active, request_id, in_flight, guarded)
                    .await;
            }
            if guarded {
                return self.observed_response(relay, &head, request_id).await;
            }
        } else if let Some(request_id) = response::invocation_of_error(path) {
            self.current.finish(request_id);
            self.invocations.take(request_id);
            if self
                .config
                .in_force()
                .is_some_and(|a| a.is_guarded(chrono::Utc::now()))
            {
                // The runtime's own error: one faultline injected never comes this way.
                self.guardian.ended(request_id, true);
            }
        }
        relay.pass(&head).await
    }

    /// Whether a re-read of the config is under way.
    fn refreshing(&self) -> bool {
        self.refresher.as_ref().is_some_and(|r| r.in_flight())
    }

    fn poke_refresh(&self) {
        if let Some(refresher) = &self.refresher {
            refresher.poke();
        }
    }
}
