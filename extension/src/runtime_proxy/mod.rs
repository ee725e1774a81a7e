//! The Runtime API proxy: the runtime talks to it instead of Lambda's Runtime API.
//!
//! Every request is forwarded as it came (method, path, query, headers, body streamed, trailers)
//! and every answer is returned as it came. Nothing here times out: `/next` waits for as long as
//! Lambda takes to deliver an event, and environments are frozen in between. Only hop-by-hop
//! framing headers are re-created by hyper on each leg.
//!
//! When experiments target `ingress`, `http-ingress` or `response`, the event or the response is
//! read in full so the effect can act on it ([`next`], [`response`]); otherwise
//! bodies stream straight through.

mod answers;
mod in_flight;
mod next;
mod response;
mod upstream;

use crate::config::refresh::ConfigRefresher;
use crate::config::state::ConfigState;
use crate::lambda::endpoint::ApiEndpoint;
use crate::net::client::{ProxyBody, boxed};
use crate::net::listener::accept_loop;
use faultline_schema::flags::RESPONSE;
use http::{Request, Response};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use in_flight::Invocations;
use upstream::{NEXT_SUFFIX, Upstream};

pub use in_flight::CurrentInvocation;
use std::convert::Infallible;
use std::sync::Arc;
use tokio::net::TcpListener;

/// The Runtime API proxy: one per extension, shared by its connections.
pub struct RuntimeProxy {
    upstream: Upstream,
    config: ConfigState,
    refresher: Option<Arc<ConfigRefresher>>,
    /// Labels of invocations in flight, for the `response` flag.
    invocations: Invocations,
    current: CurrentInvocation,
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
            config,
            refresher,
            invocations: Invocations::default(),
            current,
        })
    }

    /// Serves connections from `listener` until the task is dropped.
    pub async fn serve(self: Arc<Self>, listener: TcpListener) {
        accept_loop(listener, "runtime proxy", |stream| {
            let proxy = Arc::clone(&self);
            async move {
                let service = service_fn(move |request| {
                    let proxy = Arc::clone(&proxy);
                    async move { Ok::<_, Infallible>(proxy.forward(request).await) }
                });
                if let Err(err) = http1::Builder::new()
                    .keep_alive(true)
                    .serve_connection(TokioIo::new(stream), service)
                    .await
                {
                    tracing::debug!("runtime proxy connection ended: {err}");
                }
            }
        })
        .await;
    }

    /// Handles one request from the runtime: forwarded as is, unless an experiment targets it.
    pub async fn forward(&self, request: Request<Incoming>) -> Response<ProxyBody> {
        let path = request.uri().path();
        if path.ends_with(NEXT_SUFFIX) {
            if self.config.first_wait_pending() {
                // The first /next may wait for the config, never longer than the request timeout;
                // the wait happens once, however many invocations come before the config.
                let timeout = self.config.request_timeout();
                if !self.config.wait_first_attempt(timeout).await {
                    tracing::warn!(
                        "config not loaded within {timeout:?}; passing this invocation through untouched"
                    );
                }
            }
            self.poke_refresh();
            return self.next_invocation(request).await;
        } else if let Some(request_id) = response::invocation_of_response(path) {
            let request_id = request_id.to_string();
            let labels = self.invocations.take(&request_id);
            if let Some(active) = self.config.in_force()
                && active.could_apply(RESPONSE, chrono::Utc::now())
            {
                return self
                    .response_with_faults(request, active, request_id, labels)
                    .await;
            }
        } else if let Some(request_id) = response::invocation_of_error(path) {
            self.invocations.take(request_id);
        }
        self.upstream.pass_through(request.map(boxed)).await
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
