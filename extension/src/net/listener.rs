//! The accept loop shared by the extension's three listeners (Runtime API proxy, dependency
//! proxy, SDK endpoint): every connection gets TCP_NODELAY and its own task.

use std::future::Future;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};

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
