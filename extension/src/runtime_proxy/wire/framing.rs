//! Where an HTTP/1 message body ends (RFC 9112 §6–7), found without touching its bytes: the
//! relay copies a body verbatim and only needs to know how many of the bytes it holds belong to
//! it. Chunk-size lines and trailers are located with httparse.

use std::fmt;

/// How a message's body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::runtime_proxy) enum Framing {
    /// `Content-Length` bytes (0 for a message without a body).
    Length(u64),
    /// `Transfer-Encoding: chunked`, trailers included.
    Chunked,
    /// A response body that ends when the connection closes.
    UntilClose,
}

/// A chunk-size line or trailer section longer than this is refused (hyper's limits are alike).
const MAX_FRAMING_LINE: usize = 16 * 1024;
/// Trailer fields at most.
const MAX_TRAILERS: usize = 64;

/// A chunked body that cannot be delimited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(in crate::runtime_proxy) struct FramingError(&'static str);

impl fmt::Display for FramingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for FramingError {}

#[cfg(test)]
impl FramingError {
    pub(in crate::runtime_proxy) fn for_tests() -> FramingError {
        FramingError("test")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Body bytes (or a chunk's data) still to come.
    Bytes(u64),
    /// The CRLF that must close a chunk's data; how many of its two bytes were seen.
    ChunkEnd(u8),
    /// A chunk-size line is next.
    ChunkSize,
    /// The trailer section (possibly empty) that ends a chunked body.
    Trailers,
    UntilClose,
    Done,
}

/// Follows one body through the bytes that carry it.
#[derive(Debug, Clone)]
pub(in crate::runtime_proxy) struct Delimiter {
    chunked: bool,
    state: State,
}

impl Delimiter {
    pub(in crate::runtime_proxy) fn new(framing: Framing) -> Delimiter {
        let state = match framing {
            Framing::Length(0) => State::Done,
            Framing::Length(n) => State::Bytes(n),
            Framing::Chunked => State::ChunkSize,
            Framing::UntilClose => State::UntilClose,
        };
        Delimiter {
            chunked: framing == Framing::Chunked,
            state,
        }
    }

    /// Whether the body has ended (a body delimited by the close ends only at end of stream).
    pub(in crate::runtime_proxy) fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// How many more bytes the body is known to take (a chunk's rest, or a length's); a body
    /// delimited by the close takes as many as come.
    pub(in crate::runtime_proxy) fn remaining(&self) -> usize {
        match self.state {
            State::Bytes(left) => usize::try_from(left).unwrap_or(usize::MAX),
            State::UntilClose => usize::MAX,
            State::ChunkEnd(_) | State::ChunkSize | State::Trailers | State::Done => 0,
        }
    }

    /// Whether the body lasts until the connection closes.
    pub(in crate::runtime_proxy) fn until_close(&self) -> bool {
        self.state == State::UntilClose
    }

    /// How many leading bytes of `bytes` (the next bytes of the stream) belong to the body.
    /// Stops early at an incomplete chunk-size line or trailer section: call again with more.
    pub(in crate::runtime_proxy) fn advance(
        &mut self,
        bytes: &[u8],
    ) -> Result<usize, FramingError> {
        let mut used = 0;
        loop {
            let rest = &bytes[used..];
            match self.state {
                State::Done => return Ok(used),
                State::UntilClose => return Ok(bytes.len()),
                State::Bytes(left) => {
                    let take = left.min(rest.len() as u64);
                    used += take as usize;
                    let left = left - take;
                    self.state = match (left, self.chunked) {
                        (0, true) => State::ChunkEnd(0),
                        (0, false) => State::Done,
                        (left, _) => {
                            self.state = State::Bytes(left);
                            return Ok(used);
                        }
                    };
                }
                State::ChunkEnd(seen) => {
                    let Some(&byte) = rest.first() else {
                        return Ok(used);
                    };
                    let want = if seen == 0 { b'\r' } else { b'\n' };
                    if byte != want {
                        return Err(FramingError("chunk data not followed by CRLF"));
                    }
                    used += 1;
                    self.state = if seen == 0 {
                        State::ChunkEnd(1)
                    } else {
                        State::ChunkSize
                    };
                }
                State::ChunkSize => match httparse::parse_chunk_size(rest) {
                    Ok(httparse::Status::Complete((line, 0))) => {
                        used += line;
                        self.state = State::Trailers;
                    }
                    Ok(httparse::Status::Complete((line, size))) => {
                        used += line;
                        self.state = State::Bytes(size);
                    }
                    Ok(httparse::Status::Partial) if rest.len() > MAX_FRAMING_LINE => {
                        return Err(FramingError("chunk-size line too long"));
                    }
                    Ok(httparse::Status::Partial) => return Ok(used),
                    Err(_) => return Err(FramingError("invalid chunk-size line")),
                },
                State::Trailers => {
                    let mut fields = [httparse::EMPTY_HEADER; MAX_TRAILERS];
                    match httparse::parse_headers(rest, &mut fields) {
                        Ok(httparse::Status::Complete((section, _))) => {
                            used += section;
                            self.state = State::Done;
                        }
                        Ok(httparse::Status::Partial) if rest.len() > MAX_FRAMING_LINE => {
                            return Err(FramingError("trailer section too long"));
                        }
                        Ok(httparse::Status::Partial) => return Ok(used),
                        Err(_) => return Err(FramingError("invalid trailer section")),
                    }
                }
            }
        }
    }
}

/// The payload of a complete chunked body (`raw`: the body as it came, framing included).
pub(in crate::runtime_proxy) fn dechunk(raw: &[u8]) -> Result<Vec<u8>, FramingError> {
    let mut data = Vec::with_capacity(raw.len());
    let mut at = 0;
    loop {
        match httparse::parse_chunk_size(&raw[at..]) {
            Ok(httparse::Status::Complete((_, 0))) => return Ok(data),
            Ok(httparse::Status::Complete((line, size))) => {
                let start = at + line;
                let end = usize::try_from(size)
                    .ok()
                    .and_then(|size| start.checked_add(size))
                    .filter(|&end| end <= raw.len())
                    .ok_or(FramingError("chunk longer than the body"))?;
                data.extend_from_slice(&raw[start..end]);
                if raw.get(end..end + 2) != Some(b"\r\n".as_slice()) {
                    return Err(FramingError("chunk data not followed by CRLF"));
                }
                at = end + 2;
            }
            Ok(httparse::Status::Partial) => return Err(FramingError("truncated chunked body")),
            Err(_) => return Err(FramingError("invalid chunk-size line")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Feeds `stream` to a delimiter in pieces cut at `cuts`, as reads would deliver it, keeping
    /// unclaimed bytes for the next call as the relay does. Returns the body's length.
    fn delimit(framing: Framing, stream: &[u8], cuts: &[usize]) -> Result<usize, FramingError> {
        let mut delimiter = Delimiter::new(framing);
        let mut held = Vec::new();
        let mut body = 0;
        let mut fed = 0;
        let mut bounds: Vec<usize> = cuts.iter().map(|c| c % (stream.len() + 1)).collect();
        bounds.push(stream.len());
        bounds.sort_unstable();
        for bound in bounds {
            if delimiter.is_done() {
                break;
            }
            held.extend_from_slice(&stream[fed..bound.max(fed)]);
            fed = bound.max(fed);
            let used = delimiter.advance(&held)?;
            body += used;
            held.drain(..used);
        }
        assert!(delimiter.is_done(), "the body never ended");
        Ok(body)
    }

    fn chunked(chunks: &[Vec<u8>], trailers: &str) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, chunk) in chunks.iter().filter(|c| !c.is_empty()).enumerate() {
            let ext = if i % 2 == 1 { ";name=value" } else { "" };
            out.extend_from_slice(format!("{:X}{ext}\r\n", chunk.len()).as_bytes());
            out.extend_from_slice(chunk);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"0\r\n");
        out.extend_from_slice(trailers.as_bytes());
        out.extend_from_slice(b"\r\n");
        out
    }

    proptest! {
        #[test]
        fn a_chunked_body_ends_where_it_ends_however_it_is_cut(
            chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..6),
            with_trailers in any::<bool>(),
            cuts in proptest::collection::vec(any::<usize>(), 0..8),
        ) {
            let trailers = if with_trailers {
                "Lambda-Runtime-Function-Error-Type: Runtime.X\r\nLambda-Runtime-Function-Error-Body: eA==\r\n"
            } else {
                ""
            };
            let body = chunked(&chunks, trailers);
            let mut stream = body.clone();
            stream.extend_from_slice(b"POST /next-message HTTP/1.1\r\n\r\n");
            prop_assert_eq!(delimit(Framing::Chunked, &stream, &cuts).unwrap(), body.len());
            let data: Vec<u8> = chunks.concat();
            prop_assert_eq!(dechunk(&body).unwrap(), data);
        }

        #[test]
        fn a_sized_body_ends_after_its_length(
            length in 0usize..2000,
            cuts in proptest::collection::vec(any::<usize>(), 0..8),
        ) {
            let stream = vec![b'x'; length + 40];
            prop_assert_eq!(delimit(Framing::Length(length as u64), &stream, &cuts).unwrap(), length);
        }
    }

    #[test]
    fn a_body_until_close_takes_everything() {
        let mut delimiter = Delimiter::new(Framing::UntilClose);
        assert_eq!(delimiter.advance(b"abc").unwrap(), 3);
        assert!(delimiter.until_close());
        assert!(!delimiter.is_done());
    }

    #[test]
    fn broken_chunked_framing_is_refused() {
        let mut delimiter = Delimiter::new(Framing::Chunked);
        assert!(delimiter.advance(b"zz\r\n").is_err());
        let mut delimiter = Delimiter::new(Framing::Chunked);
        let endless = vec![b'1'; 3]
            .into_iter()
            .chain(vec![b' '; 20_000])
            .collect::<Vec<_>>();
        assert!(delimiter.advance(&endless).is_err());
        let mut delimiter = Delimiter::new(Framing::Chunked);
        assert_eq!(
            delimiter
                .advance(b"0\r\nBad Trailer\r\n\r\n")
                .map_err(|e| e.0),
            Err("invalid trailer section")
        );
        for unclosed in [&b"5\r\nhelloXY0\r\n\r\n"[..], b"5\r\nhello\n0\r\n\r\n"] {
            let mut delimiter = Delimiter::new(Framing::Chunked);
            assert_eq!(
                delimiter.advance(unclosed).map_err(|e| e.0),
                Err("chunk data not followed by CRLF")
            );
            assert!(dechunk(unclosed).is_err());
        }
        assert!(dechunk(b"5\r\nab").is_err());
        assert!(dechunk(b"2\r\nab").is_err());
    }
}
