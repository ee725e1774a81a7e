//! The accept loop shared by the extension's three listeners (Runtime API proxy, dependency
//! proxy, SDK endpoint): every connection gets TCP_NODELAY and its own task.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Accepts connections until the task is dropped, handing each to `serve` on its own task.
pub async fn accept_loop<F, Fut>(listener: TcpListener, what: &'static str, serve: F)
where
    F: Fn(TcpStream) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let _ = stream.set_nodelay(true);
                tokio::spawn(serve(stream));
            }
            Err(err) => {
                // EMFILE and friends: back off briefly rather than spin.
                tracing::warn!("{what} accept failed: {err}");
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    }
}

/// Like [`accept_loop`], with at most `limit` connections served at once: each is handed to
/// `serve` with its place (released when dropped), and one more to `refuse` at once, rather than
/// left waiting in the backlog. The first refusal is logged.
pub async fn accept_limited<F, Fut, R, RFut>(
    listener: TcpListener,
    what: &'static str,
    limit: usize,
    serve: F,
    refuse: R,
) where
    F: Fn(TcpStream, OwnedSemaphorePermit) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
    R: Fn(TcpStream) -> RFut,
    RFut: Future<Output = ()> + Send + 'static,
{
    let slots = Arc::new(Semaphore::new(limit));
    let warned = AtomicBool::new(false);
    accept_loop(listener, what, |stream| {
        let served = match Arc::clone(&slots).try_acquire_owned() {
            Ok(slot) => Ok(serve(stream, slot)),
            Err(_) => {
                if !warned.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        "{what} at its limit of {limit} connections: answering 503 to the excess"
                    );
                }
                Err(refuse(stream))
            }
        };
        async move {
            match served {
                Ok(serving) => serving.await,
                Err(refusing) => refusing.await,
            }
        }
    })
    .await;
}
