//! The exchanges of one runtime connection, relayed to the Runtime API one at a time on a
//! Runtime API connection of its own. Heads are parsed (httparse) only to route and frame them;
//! heads and bodies leave byte for byte as they came, unless an experiment needs the message
//! ([`super::next`], [`super::response`]) or the head must be rewritten
//! ([`Upstream::rewritten_head`]).

use super::answers::CONTINUE;
use super::failure::Failure;
use super::upstream::Upstream;
use super::wire::framing::{Delimiter, Framing, FramingError, dechunk};
use super::wire::head::{Method, RequestHead, ResponseHead, parse_response};
use super::wire::{Relayed, Wire, WireError};
use std::borrow::Cow;
use std::time::Duration;

/// How often a failed GET is sent again, and the pause before each new attempt.
const GET_RETRIES: usize = 2;
const GET_RETRY_PAUSE: Duration = Duration::from_millis(20);

/// While a request without a body waits for its answer (a `/next` may wait for minutes), the
/// runtime's connection is watched for a close; bytes it pipelines meanwhile are kept, up to
/// this many, after which it is no longer watched.
const MAX_PIPELINED: usize = 64 * 1024;

/// What follows an exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Flow {
    KeepAlive,
    Close,
}

/// Why one attempt at an exchange failed.
enum Attempt {
    /// Nothing of an answer arrived: a GET may be sent again on a new connection.
    Retryable(String),
    Failed(Failure),
}

/// A message read whole into memory, or relayed on because it was too long to keep.
pub(super) enum Read {
    /// The head and body as they came.
    Whole(Vec<u8>),
    /// Over the bound: what was read and the rest have gone on as they came.
    Relayed,
}

/// Where the exchange under way stands on the runtime's side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Exchange {
    /// The request's head (`len` bytes) still starts the runtime buffer: a GET keeps it until
    /// it is answered, so that a retry can send it again.
    HeadHeld { len: usize, continued: bool },
    /// The head has left the runtime buffer: sent on, or read by an experiment.
    HeadGone { continued: bool },
}

impl Exchange {
    /// Bytes of the request's head still held.
    fn held(self) -> usize {
        match self {
            Exchange::HeadHeld { len, .. } => len,
            Exchange::HeadGone { .. } => 0,
        }
    }

    /// faultline answered `100 Continue` itself: the Runtime API's interim answers are dropped.
    fn continued(self) -> bool {
        match self {
            Exchange::HeadHeld { continued, .. } | Exchange::HeadGone { continued } => continued,
        }
    }

    /// The same exchange with its head gone from the runtime buffer.
    fn gone(self) -> Exchange {
        Exchange::HeadGone {
            continued: self.continued(),
        }
    }

    /// The same exchange, with `100 Continue` answered by faultline.
    fn continuing(self) -> Exchange {
        match self {
            Exchange::HeadHeld { len, .. } => Exchange::HeadHeld {
                len,
                continued: true,
            },
            Exchange::HeadGone { .. } => Exchange::HeadGone { continued: true },
        }
    }
}

/// One runtime connection and its Runtime API connection.
pub(super) struct Relay<'u> {
    upstream: &'u Upstream,
    pub(super) runtime: Wire,
    lambda: Option<Wire>,
    exchange: Exchange,
}

/// The payload of the runtime's request body as it came (`raw`), framing removed; a body whose
/// framing breaks is the runtime's fault (400).
pub(super) fn request_payload(raw: &[u8], framing: Framing) -> Result<Cow<'_, [u8]>, Failure> {
    unframed(raw, framing).map_err(|err| Failure::in_request(WireError::Framing(err)))
}

/// The payload of the Runtime API's answer body as it came (`raw`), framing removed; a body
/// whose framing breaks is the Runtime API's fault (502).
pub(super) fn answer_payload(raw: &[u8], framing: Framing) -> Result<Cow<'_, [u8]>, Failure> {
    unframed(raw, framing).map_err(|err| {
        Failure::Upstream(format!(
            "reading the Runtime API's chunked answer failed: {err}"
        ))
    })
}

fn unframed(raw: &[u8], framing: Framing) -> Result<Cow<'_, [u8]>, FramingError> {
    match framing {
        Framing::Chunked => dechunk(raw).map(Cow::Owned),
        Framing::Length(_) | Framing::UntilClose => Ok(Cow::Borrowed(raw)),
    }
}

impl<'u> Relay<'u> {
    pub(super) fn new(upstream: &'u Upstream, runtime: Wire) -> Relay<'u> {
        Relay {
            upstream,
            runtime,
            lambda: None,
            exchange: Exchange::HeadGone { continued: false },
        }
    }

    /// Starts the exchange of the request whose head was just read.
    pub(super) fn begin(&mut self, head: &RequestHead) {
        self.exchange = Exchange::HeadHeld {
            len: head.len,
            continued: false,
        };
    }

    /// The held head's length; from now on it counts as gone (the caller relays or drops it).
    fn take_head(&mut self) -> usize {
        let held = self.exchange.held();
        self.exchange = self.exchange.gone();
        held
    }

    /// The start of the current request's body read along with its head (empty when the head
    /// was sent on, or no body byte came with it), at most `len` bytes.
    pub(super) fn body_start(&self, len: usize) -> &[u8] {
        let held = self.exchange.held();
        let body = self.runtime.buffered().get(held..).unwrap_or_default();
        if held == 0 {
            return &[];
        }
        body.get(..len.min(body.len())).unwrap_or_default()
    }

    /// The runtime side, for faultline's own answer before the connection ends.
    pub(super) fn into_runtime(self) -> Wire {
        self.runtime
    }

    /// Forwards the request and relays its answer, both as they came.
    pub(super) async fn pass(&mut self, head: &RequestHead) -> Result<Flow, Failure> {
        let answer = self.send(head).await?;
        self.answer(head, answer).await
    }

    /// Drops the current request's head from the runtime buffer once the exchange is over.
    pub(super) fn finish_request(&mut self) {
        let held = self.take_head();
        self.runtime.consume(held);
    }

    /// The Runtime API connection in `slot`: the idle one while it is usable, else a new one.
    async fn open<'s>(
        slot: &'s mut Option<Wire>,
        upstream: &Upstream,
        fresh: bool,
    ) -> Result<&'s mut Wire, String> {
        let reuse = !fresh && slot.as_mut().is_some_and(Wire::idle_and_open);
        if !reuse {
            *slot = Some(upstream.connect().await?);
        }
        slot.as_mut()
            .ok_or_else(|| "no Runtime API connection".to_string())
    }

    /// Sends the runtime's request upstream, head and body as they came, and reads the head of
    /// the answer (interim answers are relayed). A GET without a body that fails before any
    /// answer arrives is sent again on a new connection: that hop is faultline's, and without
    /// faultline the runtime would not have seen it fail.
    pub(super) async fn send(&mut self, head: &RequestHead) -> Result<ResponseHead, Failure> {
        let retries = if head.method == Method::Get && head.framing == Framing::Length(0) {
            GET_RETRIES
        } else {
            0
        };
        let mut attempt = 0;
        loop {
            match self.try_send(head, attempt > 0).await {
                Ok(answer) => return Ok(answer),
                Err(Attempt::Retryable(reason)) if attempt < retries => {
                    self.lambda = None;
                    attempt += 1;
                    tracing::warn!(
                        "Runtime API upstream {} failed {}: {reason}; retrying on a new connection",
                        self.upstream.endpoint(),
                        head.target
                    );
                    tokio::time::sleep(GET_RETRY_PAUSE).await;
                }
                Err(Attempt::Retryable(reason)) => {
                    self.lambda = None;
                    return Err(Failure::Upstream(format!("{}: {reason}", head.target)));
                }
                Err(Attempt::Failed(failure)) => {
                    self.lambda = None;
                    return Err(failure);
                }
            }
        }
    }

    async fn try_send(&mut self, head: &RequestHead, fresh: bool) -> Result<ResponseHead, Attempt> {
        let upstream = self.upstream;
        let held = self.exchange.held();
        let continued = self.exchange.continued();
        let rewritten = upstream.rewritten_head(head, &self.runtime.buffered()[..held]);
        let lambda = Self::open(&mut self.lambda, upstream, fresh)
            .await
            .map_err(Attempt::Retryable)?;
        let runtime = &mut self.runtime;
        let unsent = |err: std::io::Error| Attempt::Retryable(err.to_string());
        if head.framing == Framing::Length(0) {
            // The head stays buffered until the exchange is over: a retry sends it again.
            let bytes = rewritten.as_deref().unwrap_or(&runtime.buffered()[..held]);
            lambda.write_all(bytes).await.map_err(unsent)?;
            Self::await_answer(lambda, runtime, held).await?;
            return Self::answer_head(lambda, runtime, head.method, continued).await;
        }
        let mut delimiter = Delimiter::new(head.framing);
        self.exchange = self.exchange.gone();
        let mut head_bytes = held;
        if let Some(rewritten) = &rewritten {
            runtime.consume(head_bytes);
            head_bytes = 0;
            lambda.write_all(rewritten).await.map_err(unsent)?;
        }
        if head.expect_continue && !continued {
            // The runtime sends its body once told to continue, or after a wait of its own
            // (curl's is a second): the Runtime API's answer, however late, is relayed until
            // the body begins.
            if head_bytes > 0 {
                lambda
                    .write_all(&runtime.buffered()[..head_bytes])
                    .await
                    .map_err(unsent)?;
                runtime.consume(head_bytes);
                head_bytes = 0;
            }
            loop {
                tokio::select! {
                    first = Self::read_answer_head(lambda, head.method) => {
                        let first = first?;
                        if !first.is_interim() {
                            // Refused before the body: the runtime may still send it, so the
                            // connection cannot carry another request.
                            return Ok(ResponseHead {
                                close: true,
                                ..first
                            });
                        }
                        Self::relay_interim(lambda, runtime, &first).await?;
                        if first.status == 100 {
                            break;
                        }
                    }
                    _ = runtime.wait_input() => break,
                }
            }
        }
        let sent = runtime
            .relay(&mut lambda.stream, head_bytes, &mut delimiter, usize::MAX)
            .await;
        Self::answer_to_body(lambda, runtime, head.method, continued, sent).await
    }

    /// Waits until the Runtime API begins to answer a request without a body (a `/next` may
    /// wait for minutes; `held`: its head, still in the runtime buffer). A runtime that closes
    /// its connection meanwhile has gone: the exchange ends and the Runtime API connection is
    /// dropped, so Lambda sees the close it would see without faultline instead of handing an
    /// event to a relay with nobody behind it.
    async fn await_answer(
        lambda: &mut Wire,
        runtime: &mut Wire,
        held: usize,
    ) -> Result<(), Attempt> {
        let watched = held.saturating_add(MAX_PIPELINED);
        while lambda.buffered().is_empty() && runtime.buffered().len() < watched {
            tokio::select! {
                _ = lambda.wait_input() => return Ok(()),
                read = runtime.read_more() => {
                    if !matches!(read, Ok(n) if n > 0) {
                        return Err(Attempt::Failed(Failure::Broken(
                            "the runtime closed its connection while waiting for the answer".into(),
                        )));
                    }
                }
            }
        }
        Ok(())
    }

    /// The head of the answer to a request whose body was just relayed (`sent`). When the
    /// Runtime API stopped reading the body (one over its limit, say) it may have answered
    /// already: that answer is the runtime's, and the connection closes after it.
    async fn answer_to_body(
        lambda: &mut Wire,
        runtime: &mut Wire,
        method: Method,
        quiet: bool,
        sent: Result<Relayed, WireError>,
    ) -> Result<ResponseHead, Attempt> {
        match sent {
            Ok(_) => Self::answer_head(lambda, runtime, method, quiet).await,
            Err(WireError::Write(err)) => {
                match Self::answer_head(lambda, runtime, method, quiet).await {
                    Ok(answer) => Ok(ResponseHead {
                        close: true,
                        ..answer
                    }),
                    Err(_) => Err(Attempt::Failed(Failure::Upstream(format!(
                        "sending the request: {err}"
                    )))),
                }
            }
            Err(err) => Err(Attempt::Failed(Failure::in_request(err))),
        }
    }

    /// Reads the head of the Runtime API's next answer, interim or final.
    async fn read_answer_head(lambda: &mut Wire, method: Method) -> Result<ResponseHead, Attempt> {
        match lambda
            .read_head(|bytes| parse_response(bytes, method))
            .await
        {
            Ok(Some(answer)) => Ok(answer),
            Ok(None) => Err(Attempt::Retryable("closed before answering".into())),
            Err(WireError::Io(err)) => Err(Attempt::Retryable(err.to_string())),
            Err(WireError::Closed) => Err(Attempt::Retryable(
                "closed in the middle of an answer".into(),
            )),
            Err(err) => Err(Attempt::Failed(Failure::Upstream(format!(
                "bad answer: {err}"
            )))),
        }
    }

    /// Relays an interim answer just read to the runtime.
    async fn relay_interim(
        lambda: &mut Wire,
        runtime: &mut Wire,
        interim: &ResponseHead,
    ) -> Result<(), Attempt> {
        runtime
            .write_all(&lambda.buffered()[..interim.len])
            .await
            .map_err(|err| Attempt::Failed(Failure::Broken(err.to_string())))?;
        lambda.consume(interim.len);
        Ok(())
    }

    /// Reads the head of the Runtime API's final answer; interim (1xx) answers before it are
    /// relayed to the runtime, or dropped when `quiet`.
    async fn answer_head(
        lambda: &mut Wire,
        runtime: &mut Wire,
        method: Method,
        quiet: bool,
    ) -> Result<ResponseHead, Attempt> {
        loop {
            let answer = Self::read_answer_head(lambda, method).await?;
            if !answer.is_interim() {
                return Ok(answer);
            }
            if quiet {
                lambda.consume(answer.len);
            } else {
                Self::relay_interim(lambda, runtime, &answer).await?;
            }
        }
    }

    /// Relays the answer whose head was just read to the runtime, as it came.
    pub(super) async fn answer(
        &mut self,
        request: &RequestHead,
        answer: ResponseHead,
    ) -> Result<Flow, Failure> {
        self.finish_request();
        let Some(lambda) = self.lambda.as_mut() else {
            return Err(Failure::Broken("no Runtime API connection".into()));
        };
        let mut delimiter = Delimiter::new(answer.framing);
        lambda
            .relay(
                &mut self.runtime.stream,
                answer.len,
                &mut delimiter,
                usize::MAX,
            )
            .await
            .map_err(|err| Failure::Broken(format!("relaying the answer: {err}")))?;
        if answer.status == 101 {
            self.tunnel().await;
            return Ok(Flow::Close);
        }
        Ok(self.after(request, &answer))
    }

    /// Whether the connections stay open after an exchange; a Runtime API connection that
    /// closes is dropped.
    pub(super) fn after(&mut self, request: &RequestHead, answer: &ResponseHead) -> Flow {
        if answer.close {
            self.lambda = None;
        }
        if request.close || answer.close {
            Flow::Close
        } else {
            Flow::KeepAlive
        }
    }

    /// After `101 Switching Protocols`: bytes both ways until either side closes.
    async fn tunnel(&mut self) {
        let Some(lambda) = self.lambda.as_mut() else {
            return;
        };
        let early = self.runtime.buffered().len();
        if lambda.write_all(self.runtime.buffered()).await.is_err() {
            return;
        }
        self.runtime.consume(early);
        let late = lambda.buffered().len();
        if self.runtime.write_all(lambda.buffered()).await.is_err() {
            return;
        }
        lambda.consume(late);
        let _ = tokio::io::copy_bidirectional(&mut self.runtime.stream, &mut lambda.stream).await;
        self.lambda = None;
    }

    /// Reads the answer whose head was just read, up to `limit` bytes; a longer one goes on to
    /// the runtime as it came.
    pub(super) async fn read_answer(
        &mut self,
        answer: &ResponseHead,
        limit: usize,
    ) -> Result<Read, Failure> {
        let Some(lambda) = self.lambda.as_mut() else {
            return Err(Failure::Upstream("no Runtime API connection".into()));
        };
        let mut raw = Vec::new();
        let mut delimiter = Delimiter::new(answer.framing);
        match lambda
            .relay(&mut raw, answer.len, &mut delimiter, limit)
            .await
        {
            Ok(Relayed::Whole) => Ok(Read::Whole(raw)),
            Ok(Relayed::Paused) => {
                let held = self.exchange.held();
                self.exchange = self.exchange.gone();
                let runtime = &mut self.runtime;
                runtime.consume(held);
                runtime
                    .write_all(&raw)
                    .await
                    .map_err(|err| Failure::Broken(err.to_string()))?;
                lambda
                    .relay(&mut runtime.stream, 0, &mut delimiter, usize::MAX)
                    .await
                    .map_err(|err| Failure::Broken(format!("relaying the answer: {err}")))?;
                Ok(Read::Relayed)
            }
            Err(err) => Err(Failure::Upstream(format!(
                "reading the answer failed: {err}"
            ))),
        }
    }

    /// Writes a message faultline read whole (`raw`) to the runtime.
    pub(super) async fn deliver(&mut self, raw: &[u8]) -> Result<(), Failure> {
        self.finish_request();
        self.runtime
            .write_all(raw)
            .await
            .map_err(|err| Failure::Broken(err.to_string()))
    }

    /// Tells a runtime waiting with `Expect: 100-continue` to send its body, which faultline is
    /// about to read itself; the Runtime API's own interim answers are then dropped.
    pub(super) async fn continue_runtime(&mut self, head: &RequestHead) -> Result<(), Failure> {
        if head.expect_continue && head.framing != Framing::Length(0) && !self.exchange.continued()
        {
            self.exchange = self.exchange.continuing();
            self.runtime
                .write_all(CONTINUE)
                .await
                .map_err(|err| Failure::Broken(err.to_string()))?;
        }
        Ok(())
    }

    /// Reads the runtime's request body up to `limit` bytes (its head first): the message as it
    /// came, or [`Relayed`] when it was longer, with the part read in `raw` and `delimiter`
    /// positioned for the rest.
    pub(super) async fn read_request(
        &mut self,
        head: &RequestHead,
        limit: usize,
    ) -> Result<(Vec<u8>, Relayed, Delimiter), Failure> {
        let mut raw = Vec::new();
        let mut delimiter = Delimiter::new(head.framing);
        let head_bytes = self.take_head();
        let relayed = self
            .runtime
            .relay(&mut raw, head_bytes, &mut delimiter, limit)
            .await
            .map_err(Failure::in_request)?;
        Ok((raw, relayed, delimiter))
    }

    /// Sends the start of a runtime request that was read in part (`raw`, with `head` rewritten
    /// when needed), then the rest as it comes, and reads the answer's head.
    pub(super) async fn send_rest(
        &mut self,
        head: &RequestHead,
        raw: &[u8],
        mut delimiter: Delimiter,
    ) -> Result<ResponseHead, Failure> {
        let upstream = self.upstream;
        let rewritten = upstream.rewritten_head(head, &raw[..head.len]);
        let continued = self.exchange.continued();
        let lambda = Self::open(&mut self.lambda, upstream, false)
            .await
            .map_err(Failure::Upstream)?;
        let runtime = &mut self.runtime;
        let start = match &rewritten {
            Some(rewritten) => lambda
                .write_all(rewritten)
                .await
                .and(lambda.write_all(&raw[head.len..]).await),
            None => lambda.write_all(raw).await,
        };
        start.map_err(|err| Failure::Upstream(format!("sending the request: {err}")))?;
        let sent = runtime
            .relay(&mut lambda.stream, 0, &mut delimiter, usize::MAX)
            .await;
        Self::answer_to_body(lambda, runtime, head.method, continued, sent)
            .await
            .map_err(Attempt::into_failure)
    }

    /// Sends a request faultline wrote itself (`request`: head and body) and reads the answer's
    /// head; interim answers are dropped.
    pub(super) async fn send_own(&mut self, request: &[u8]) -> Result<ResponseHead, Failure> {
        let lambda = match Self::open(&mut self.lambda, self.upstream, false).await {
            Ok(lambda) => lambda,
            Err(reason) => return Err(Failure::Upstream(reason)),
        };
        let sent = match lambda.write_all(request).await {
            Ok(()) => Self::answer_head(lambda, &mut self.runtime, Method::Other, true)
                .await
                .map_err(Attempt::into_failure),
            Err(err) => Err(Failure::Upstream(err.to_string())),
        };
        if sent.is_err() {
            self.lambda = None;
        }
        sent
    }

    /// Reads and drops the answer whose head was just read, keeping the connection usable.
    pub(super) async fn drop_answer(&mut self, answer: &ResponseHead) -> Result<(), Failure> {
        let Some(lambda) = self.lambda.as_mut() else {
            return Ok(());
        };
        let mut delimiter = Delimiter::new(answer.framing);
        let drained = lambda
            .relay(
                &mut tokio::io::sink(),
                answer.len,
                &mut delimiter,
                usize::MAX,
            )
            .await;
        if drained.is_err() || answer.close {
            self.lambda = None;
        }
        drained
            .map(|_| ())
            .map_err(|err| Failure::Upstream(err.to_string()))
    }

    /// Reads and drops the rest of a runtime request read in part ([`Relay::read_request`]).
    pub(super) async fn drop_rest(&mut self, delimiter: &mut Delimiter) -> Result<(), Failure> {
        self.runtime
            .relay(&mut tokio::io::sink(), 0, delimiter, usize::MAX)
            .await
            .map(|_| ())
            .map_err(Failure::in_request)
    }

    /// Reads and drops the runtime's request body (its head first).
    pub(super) async fn drop_request(&mut self, head: &RequestHead) -> Result<(), Failure> {
        let mut delimiter = Delimiter::new(head.framing);
        let head_bytes = self.take_head();
        self.runtime
            .relay(
                &mut tokio::io::sink(),
                head_bytes,
                &mut delimiter,
                usize::MAX,
            )
            .await
            .map(|_| ())
            .map_err(Failure::in_request)
    }
}

impl Attempt {
    fn into_failure(self) -> Failure {
        match self {
            Attempt::Retryable(reason) => Failure::Upstream(reason),
            Attempt::Failed(failure) => failure,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broken_chunked_body_is_the_fault_of_whoever_sent_it() {
        let cut = b"5\r\nab";
        let status = |result: Result<Cow<'_, [u8]>, Failure>| result.err().and_then(|f| f.status());
        assert_eq!(status(request_payload(cut, Framing::Chunked)), Some(400));
        assert_eq!(status(answer_payload(cut, Framing::Chunked)), Some(502));
        assert_eq!(
            request_payload(b"2\r\nab\r\n0\r\n\r\n", Framing::Chunked).ok(),
            Some(Cow::Owned(b"ab".to_vec()))
        );
    }
}
