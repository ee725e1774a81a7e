//! CONNECT tunnels: bytes copied both ways until either side closes or the tunnel sits idle.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

/// Copy buffer per direction: large enough that a bulk transfer costs few system calls.
const BUFFER: usize = 64 * 1024;

/// Milliseconds since `origin` of the last byte read in either direction.
struct Activity {
    origin: Instant,
    last_ms: AtomicU64,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            origin: Instant::now(),
            last_ms: AtomicU64::new(0),
        }
    }

    fn touch(&self) {
        let ms = u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    fn idle_for(&self) -> Duration {
        let last = Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
        self.origin.elapsed().saturating_sub(last)
    }
}

/// A stream that records when it last delivered bytes.
struct Watched<T> {
    inner: T,
    activity: Arc<Activity>,
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.touch();
        }
        result
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// How a tunnel ended.
#[derive(Debug)]
pub enum TunnelEnd {
    /// Both sides closed; bytes sent client→target and target→client.
    Closed(u64, u64),
    /// No byte moved for the idle limit.
    Idle,
    Failed(io::Error),
}

/// Copies between `client` and `target` until both directions end, an error, or `idle` passes
/// without a byte read either way.
pub async fn pump<C, T>(client: C, target: T, idle: Duration) -> TunnelEnd
where
    C: AsyncRead + AsyncWrite + Unpin,
    T: AsyncRead + AsyncWrite + Unpin,
{
    let activity = Arc::new(Activity::new());
    let mut client = Watched {
        inner: client,
        activity: Arc::clone(&activity),
    };
    let mut target = Watched {
        inner: target,
        activity: Arc::clone(&activity),
    };
    let copy = tokio::io::copy_bidirectional_with_sizes(&mut client, &mut target, BUFFER, BUFFER);
    tokio::pin!(copy);
    loop {
        let wait = idle.saturating_sub(activity.idle_for());
        tokio::select! {
            result = &mut copy => {
                return match result {
                    Ok((up, down)) => TunnelEnd::Closed(up, down),
                    Err(err) => TunnelEnd::Failed(err),
                };
            }
            () = tokio::time::sleep(wait) => {
                if activity.idle_for() >= idle {
                    return TunnelEnd::Idle;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn bytes_flow_both_ways_until_close() {
        let (client, mut client_peer) = tokio::io::duplex(1024);
        let (target, mut target_peer) = tokio::io::duplex(1024);
        let tunnel = tokio::spawn(pump(client, target, Duration::from_secs(5)));
        client_peer.write_all(b"ping").await.unwrap();
        let mut buf = [0u8; 4];
        target_peer.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"ping");
        target_peer.write_all(b"pong!").await.unwrap();
        let mut buf = [0u8; 5];
        client_peer.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"pong!");
        drop(client_peer);
        drop(target_peer);
        assert!(matches!(tunnel.await.unwrap(), TunnelEnd::Closed(4, 5)));
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_tunnel_is_closed() {
        let (client, _client_peer) = tokio::io::duplex(1024);
        let (target, _target_peer) = tokio::io::duplex(1024);
        let end = pump(client, target, Duration::from_secs(60)).await;
        assert!(matches!(end, TunnelEnd::Idle));
    }
}
