//! A connection that an injected `ConnectionReset` can end with RST instead of FIN, without a
//! second descriptor: the flag is set while the connection is served, and when the stream is
//! dropped with the flag set, SO_LINGER 0 makes its close send RST.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// Asks for a reset of the connection it was made for.
#[derive(Debug, Clone, Default)]
pub struct ResetSwitch(Arc<AtomicBool>);

impl ResetSwitch {
    /// The connection will be reset when it closes.
    pub fn reset(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// The function's connection to the dependency proxy.
pub struct Resettable {
    stream: TcpStream,
    switch: ResetSwitch,
}

impl Resettable {
    /// Wraps `stream`; the switch resets it.
    pub fn new(stream: TcpStream) -> (Resettable, ResetSwitch) {
        let switch = ResetSwitch::default();
        (
            Resettable {
                stream,
                switch: switch.clone(),
            },
            switch,
        )
    }
}

impl Drop for Resettable {
    fn drop(&mut self) {
        if self.switch.0.load(Ordering::SeqCst) {
            let _ = socket2::SockRef::from(&self.stream).set_linger(Some(Duration::ZERO));
        }
    }
}

impl AsyncRead for Resettable {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Resettable {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // A connection to be reset is not shut down gracefully: the close sends RST.
        if self.switch.0.load(Ordering::SeqCst) {
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
