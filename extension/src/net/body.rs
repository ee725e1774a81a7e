//! Reading a body only as far as an effect needs: whole up to a bound, or not at all (drained).
//! A body over the bound is handed on untouched: what was read, then the rest as it streams.

use super::client::{BoxError, ProxyBody, boxed};
use bytes::{Bytes, BytesMut};
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Lambda takes payloads of at most 6 MB; the bound leaves room for framing slack.
pub const MAX_BUFFERED: usize = 6 * 1024 * 1024 + 64 * 1024;

/// The outcome of [`read_bounded`].
pub enum Bounded {
    /// The whole body.
    Whole(Bytes),
    /// Longer than the bound: the same body, unread past the bound, to relay as it is.
    TooLarge(ProxyBody),
}

/// Reads `body` whole if it holds at most `limit` bytes.
pub async fn read_bounded(mut body: ProxyBody, limit: usize) -> Result<Bounded, BoxError> {
    let mut read = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame?;
        match frame.into_data() {
            Ok(data) => {
                read.extend_from_slice(&data);
                if read.len() > limit {
                    return Ok(Bounded::TooLarge(boxed(Prefixed {
                        prefix: Some(read.freeze()),
                        rest: body,
                    })));
                }
            }
            // Trailers end the body: what came before is the whole of it.
            Err(_) => break,
        }
    }
    Ok(Bounded::Whole(read.freeze()))
}

/// Reads `body` to its end and drops what it held, frame by frame: nothing is kept.
pub async fn drain(mut body: ProxyBody) {
    while let Some(frame) = body.frame().await {
        if frame.is_err() {
            return;
        }
    }
}

/// Bytes already read, then the rest of the body they came from.
struct Prefixed {
    prefix: Option<Bytes>,
    rest: ProxyBody,
}

impl Body for Prefixed {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if let Some(prefix) = self.prefix.take() {
            return Poll::Ready(Some(Ok(Frame::data(prefix))));
        }
        Pin::new(&mut self.rest).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.prefix.is_none() && self.rest.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        let prefix = self.prefix.as_ref().map_or(0, |p| p.len() as u64);
        let rest = self.rest.size_hint();
        let mut hint = SizeHint::new();
        hint.set_lower(rest.lower().saturating_add(prefix));
        if let Some(upper) = rest.upper() {
            hint.set_upper(upper.saturating_add(prefix));
        }
        hint
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::client::full_body;

    fn chunks(parts: &[&'static [u8]]) -> ProxyBody {
        let frames: Vec<Result<Frame<Bytes>, BoxError>> = parts
            .iter()
            .map(|p| Ok(Frame::data(Bytes::from_static(p))))
            .collect();
        boxed(http_body_util::StreamBody::new(futures::stream::iter(
            frames,
        )))
    }

    #[tokio::test]
    async fn a_body_within_the_bound_is_read_whole() {
        match read_bounded(chunks(&[b"ab", b"cd"]), 4).await.unwrap() {
            Bounded::Whole(bytes) => assert_eq!(&bytes[..], b"abcd"),
            Bounded::TooLarge(_) => panic!("within the bound"),
        }
        match read_bounded(full_body(Vec::new()), 4).await.unwrap() {
            Bounded::Whole(bytes) => assert!(bytes.is_empty()),
            Bounded::TooLarge(_) => panic!("empty"),
        }
    }

    #[tokio::test]
    async fn a_body_over_the_bound_is_relayed_whole_and_in_order() {
        let Bounded::TooLarge(body) = read_bounded(chunks(&[b"abc", b"def", b"gh"]), 4)
            .await
            .unwrap()
        else {
            panic!("over the bound");
        };
        let all = body.collect().await.unwrap().to_bytes();
        assert_eq!(&all[..], b"abcdefgh");
    }
}
