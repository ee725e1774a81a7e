//! HTTP/1 at the level of bytes, for the Runtime API relay: a buffered connection, heads parsed
//! with httparse, and bodies copied verbatim by their framing. Nothing here re-encodes a
//! message: what is relayed leaves as it came.

pub(super) mod framing;
pub(super) mod head;

use bytes::{Buf, BytesMut};
use framing::{Delimiter, FramingError};
use head::HeadError;
use thiserror::Error;
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// Bytes asked of the socket per read.
const READ_SIZE: usize = 64 * 1024;
/// Bytes asked per read while a long body is being copied: megabytes move in few large copies
/// (each read and write is a system call). A connection that has carried such a body keeps the
/// larger buffer.
const LONG_READ_SIZE: usize = 256 * 1024;
/// A head longer than this is refused: Lambda's own limit. Most Runtime API heads are a few
/// hundred bytes, but runtime clients put the handler's error cause in
/// `Lambda-Runtime-Function-XRay-Error-Cause` on `/error`, up to 1 MiB.
const MAX_HEAD: usize = 1024 * 1024;
/// After refusing a request, how much of what the peer still sends is read and dropped, and for
/// how long, so that the refusal arrives instead of a reset.
const LINGER_BYTES: usize = 4 * 1024 * 1024;
const LINGER: std::time::Duration = std::time::Duration::from_secs(1);

#[derive(Debug, Error)]
pub(super) enum WireError {
    /// Reading from this side failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// Writing to the other side failed.
    #[error("{0}")]
    Write(std::io::Error),
    #[error("{0}")]
    Head(#[from] HeadError),
    #[error("{0}")]
    Framing(#[from] FramingError),
    #[error("head longer than {MAX_HEAD} bytes")]
    HeadTooLarge,
    #[error("connection closed in the middle of a message")]
    Closed,
}

/// How far [`Wire::relay`] went.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Relayed {
    /// The whole message.
    Whole,
    /// More than the limit was written and the body goes on: relay again to finish it.
    Paused,
}

/// One side of the relay: a TCP connection and the bytes read from it but not yet relayed.
pub(super) struct Wire {
    pub(super) stream: TcpStream,
    buf: BytesMut,
    /// The most bytes one read may take: unbounded, except in tests that cut the stream at
    /// every byte.
    max_read: usize,
}

impl Wire {
    pub(super) fn new(stream: TcpStream) -> Wire {
        Wire {
            stream,
            buf: BytesMut::with_capacity(READ_SIZE),
            max_read: usize::MAX,
        }
    }

    /// Makes every read take at most `max_read` bytes, as a peer writing that little at a time
    /// would (tests).
    pub(super) fn cut_reads(mut self, max_read: usize) -> Wire {
        self.max_read = max_read.max(1);
        self
    }

    /// The bytes read and not yet consumed.
    pub(super) fn buffered(&self) -> &[u8] {
        &self.buf
    }

    /// Drops the first `n` buffered bytes.
    pub(super) fn consume(&mut self, n: usize) {
        self.buf.advance(n.min(self.buf.len()));
    }

    /// Ends the connection after an answer that refused the peer's request: our side is closed
    /// for writing, then what the peer still sends is read and dropped (at most `LINGER_BYTES`,
    /// for at most `LINGER`). Closing with unread input would make the kernel send a reset,
    /// and a peer still writing would never read the answer.
    pub(super) async fn linger_close(mut self) {
        let _ = self.stream.shutdown().await;
        // The connection's own buffer takes what is dropped: no allocation on this path.
        let drain = async {
            let mut dropped = 0usize;
            while dropped < LINGER_BYTES {
                self.buf.clear();
                match self.stream.read_buf(&mut self.buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => dropped += n,
                }
            }
        };
        let _ = tokio::time::timeout(LINGER, drain).await;
    }

    /// Reads more bytes into the buffer, up to about `want`; 0 at end of stream. Cancel-safe:
    /// what a cancelled read took stays buffered.
    async fn fill(&mut self, want: usize) -> std::io::Result<usize> {
        let want = want.clamp(READ_SIZE, LONG_READ_SIZE);
        if self.buf.capacity() - self.buf.len() < want / 4 {
            self.buf.reserve(want);
        }
        if self.max_read == usize::MAX {
            self.stream.read_buf(&mut self.buf).await
        } else {
            let cap = u64::try_from(self.max_read).unwrap_or(u64::MAX);
            (&mut self.stream).take(cap).read_buf(&mut self.buf).await
        }
    }

    /// Reads more bytes into the buffer; 0 at end of stream. Cancel-safe.
    pub(super) async fn read_more(&mut self) -> std::io::Result<usize> {
        self.fill(READ_SIZE).await
    }

    /// Returns once bytes are buffered or the stream has ended (0). Cancel-safe.
    pub(super) async fn wait_input(&mut self) -> std::io::Result<usize> {
        if self.buf.is_empty() {
            self.fill(READ_SIZE).await
        } else {
            Ok(self.buf.len())
        }
    }

    /// Gives back the larger buffer of a long body once nothing is buffered: an idle
    /// connection keeps at most `READ_SIZE`.
    fn settle(&mut self) {
        if self.buf.is_empty() && self.buf.capacity() > READ_SIZE {
            self.buf = BytesMut::with_capacity(READ_SIZE);
        }
    }

    /// Reads until `parse` finds a whole head at the start of the buffer (the head stays
    /// buffered). None: the stream ended cleanly, before any byte of a head.
    ///
    /// The head is parsed on the first bytes (so that what is not HTTP is refused at once),
    /// then only when new bytes hold an empty line that could end it: a head arriving in many
    /// small pieces is scanned once, not once per piece (a 1 MiB head read 64 bytes at a time
    /// was parsed 16,384 times, quadratic work that held the relay for seconds).
    pub(super) async fn read_head<T>(
        &mut self,
        parse: impl Fn(&[u8]) -> Result<Option<T>, HeadError>,
    ) -> Result<Option<T>, WireError> {
        self.settle();
        let mut scanned = 0usize;
        loop {
            if !self.buf.is_empty() {
                // Judged on the head alone, however its bytes arrived: a head that does not end
                // within MAX_HEAD bytes is too long.
                let end = self.buf.len().min(MAX_HEAD + 1);
                if (scanned == 0 || holds_empty_line(&self.buf[scanned.saturating_sub(2)..end]))
                    && let Some(head) = parse(&self.buf[..end])?
                {
                    return Ok(Some(head));
                }
                if self.buf.len() > MAX_HEAD {
                    return Err(WireError::HeadTooLarge);
                }
                scanned = end;
            }
            if self.fill(READ_SIZE).await? == 0 {
                return if self.buf.is_empty() {
                    Ok(None)
                } else {
                    Err(WireError::Closed)
                };
            }
        }
    }

    /// Writes the first `head` buffered bytes (0 when the head was sent already), then the body
    /// `delimiter` follows, to `to` as they came, and consumes them. Several pieces go out in one
    /// write whenever they were read together. Stops once more than `limit` bytes were written
    /// ([`Relayed::Paused`]), so a body can be read into memory only up to a bound.
    pub(super) async fn relay<W: AsyncWrite + Unpin>(
        &mut self,
        to: &mut W,
        head: usize,
        delimiter: &mut Delimiter,
        limit: usize,
    ) -> Result<Relayed, WireError> {
        let mut head = head.min(self.buf.len());
        let mut written = 0usize;
        loop {
            let body = delimiter.advance(&self.buf[head..])?;
            let n = head + body;
            if n > 0 {
                to.write_all(&self.buf[..n])
                    .await
                    .map_err(WireError::Write)?;
                self.buf.advance(n);
                written = written.saturating_add(n);
                head = 0;
            }
            if delimiter.is_done() {
                self.settle();
                return Ok(Relayed::Whole);
            }
            if written > limit {
                return Ok(Relayed::Paused);
            }
            if self.fill(delimiter.remaining()).await? == 0 {
                return if delimiter.until_close() {
                    Ok(Relayed::Whole)
                } else {
                    Err(WireError::Closed)
                };
            }
        }
    }

    /// Whether an idle connection is still usable: nothing unread, and no end of stream or
    /// error pending. Costs a system call only when the socket was reported readable.
    pub(super) fn idle_and_open(&mut self) -> bool {
        if !self.buf.is_empty() {
            return false;
        }
        let mut probe = [0u8; 1];
        matches!(self.stream.try_read(&mut probe), Err(err) if err.kind() == std::io::ErrorKind::WouldBlock)
    }

    pub(super) async fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes).await
    }
}

/// Whether `bytes` hold an empty line (LF LF or LF CR LF): where a head can end.
fn holds_empty_line(bytes: &[u8]) -> bool {
    bytes.iter().enumerate().any(|(at, &b)| {
        b == b'\n'
            && match bytes.get(at + 1) {
                Some(b'\n') => true,
                Some(b'\r') => bytes.get(at + 2) == Some(&b'\n'),
                _ => false,
            }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    /// Both ends of a loopback connection.
    async fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (client, server) = tokio::join!(TcpStream::connect(addr), listener.accept());
        (client.unwrap(), server.unwrap().0)
    }

    /// A connection that carried a long body goes back to a small buffer once idle: it measured
    /// about 323 KiB kept after a 1 MiB body before.
    #[tokio::test]
    async fn an_idle_connection_gives_back_the_buffer_of_a_long_body() {
        let (mut peer, stream) = pair().await;
        let body = vec![b'x'; 1024 * 1024];
        let writer = tokio::spawn(async move {
            peer.write_all(&body).await.unwrap();
            peer
        });
        let mut wire = Wire::new(stream);
        let mut delimiter = Delimiter::new(framing::Framing::Length(1024 * 1024));
        let relayed = wire
            .relay(&mut tokio::io::sink(), 0, &mut delimiter, usize::MAX)
            .await
            .unwrap();
        assert_eq!(relayed, Relayed::Whole);
        let _peer = writer.await.unwrap();
        assert!(
            wire.buf.capacity() <= READ_SIZE,
            "an idle connection keeps {} bytes",
            wire.buf.capacity()
        );
    }
}
