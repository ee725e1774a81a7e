//! The runtime's connections: at most [`MAX_RUNTIME_CONNECTIONS`] at once, each served an
//! exchange at a time until either side closes it, and ended with faultline's own answer when an
//! exchange fails in a way the runtime must hear about.

use super::RuntimeProxy;
use super::answers::proxy_error;
use super::failure::Failure;
use super::relay::{Flow, Relay};
use super::wire::Wire;
use super::wire::head::parse_request;
use crate::net::listener::accept_limited;
use std::sync::Arc;
use tokio::net::{TcpListener, TcpStream};

/// Runtime connections served at once. A runtime client keeps one or two; a Managed Instance
/// runs up to `AWS_LAMBDA_MAX_CONCURRENCY` invocations at once, each with its own. Each holds
/// two of the environment's 1,024 descriptors; one more is answered 503 and closed.
pub(super) const MAX_RUNTIME_CONNECTIONS: usize = 256;

impl RuntimeProxy {
    /// Serves connections from `listener` until the task is dropped.
    pub async fn serve(self: Arc<Self>, listener: TcpListener) {
        let limit = self.max_connections;
        accept_limited(
            listener,
            "runtime proxy",
            limit,
            move |stream, slot| {
                let proxy = Arc::clone(&self);
                async move {
                    proxy.serve_connection(stream).await;
                    drop(slot);
                }
            },
            move |stream| async move {
                let answer = proxy_error(
                    503,
                    &format!("more than {limit} runtime connections at once"),
                );
                let mut wire = Wire::new(stream);
                let _ = wire.write_all(&answer).await;
                wire.linger_close().await;
            },
        )
        .await;
    }

    /// Relays one runtime connection until either side closes it.
    pub(super) async fn serve_connection(&self, stream: TcpStream) {
        let mut relay = Relay::new(&self.upstream, Wire::new(stream).cut_reads(self.max_read));
        loop {
            let head = match relay.runtime.read_head(parse_request).await {
                Ok(Some(head)) => head,
                Ok(None) => return,
                Err(err) => return self.end(relay, Failure::in_request(err)).await,
            };
            relay.begin(&head);
            let flow = self.exchange(&mut relay, head).await;
            relay.finish_request();
            match flow {
                Ok(Flow::KeepAlive) => {}
                Ok(Flow::Close) => return,
                Err(failure) => return self.end(relay, failure).await,
            }
        }
    }

    /// Ends a connection after `failure`: faultline's answer when its status calls for one,
    /// then a close that lets the answer arrive.
    async fn end(&self, relay: Relay<'_>, failure: Failure) {
        let Some(status) = failure.status() else {
            tracing::debug!("runtime proxy connection ended: {failure}");
            return;
        };
        if let Failure::Upstream(_) = failure {
            tracing::error!(
                "Runtime API upstream {} unreachable: {failure}",
                self.upstream.endpoint()
            );
        } else {
            tracing::warn!("runtime sent a request faultline cannot relay ({status}): {failure}");
        }
        let mut runtime = relay.into_runtime();
        let _ = runtime
            .write_all(&proxy_error(status, &failure.to_string()))
            .await;
        runtime.linger_close().await;
    }
}
