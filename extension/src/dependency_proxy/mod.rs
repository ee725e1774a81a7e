//! The dependency proxy: the function's HTTP_PROXY/HTTPS_PROXY (default localhost:5034).
//!
//! Plain HTTP requests arrive in absolute form (`GET http://host/path`) and are forwarded through
//! a pooled client; HTTPS arrives as `CONNECT host:443` and is tunnelled byte for byte (no TLS
//! interception). Flags `egress` (every request) and `dependency-HOST` (per host) apply:
//! latency before connecting; an exception answers 502 Bad Gateway, or resets the connection when
//! its errorType is `ConnectionReset`; an httpResponse answers with its code, headers and body
//! (for CONNECT: the tunnel is refused with that status).

mod origination;
mod resettable;
mod tunnel;
mod upstream;

use crate::audit;
use crate::aws::AwsCall;
use crate::config::state::{ActiveConfig, ConfigState};
use crate::inject;
use crate::invocation::CurrentInvocation;
use crate::net::client::{ProxyBody, boxed, end_to_end, full_body};
use crate::net::error_chain;
use crate::net::listener::accept_limited;
use faultline_schema::config::Config;
use faultline_schema::fault::{Answers, Terminal};
use faultline_schema::flags::{AWS_PREFIX, CONNECTION_RESET, DEPENDENCY_PREFIX, EGRESS};
use faultline_schema::labels::FunctionFacts;
use faultline_schema::labels::Labels;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use origination::OriginationClient;
use resettable::Resettable;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OnceCell, OwnedSemaphorePermit};
use upstream::{CorporateProxy, ForwardClient, OpenError, Opened, forward_client, open_tunnel};

pub use tunnel::{TunnelEnd, pump};

/// Largest request head (request line and headers) accepted from the function.
const MAX_HEAD: usize = 64 * 1024;
/// A tunnel or a kept-alive connection with no traffic for this long is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(10 * 60);
/// How long a connection over the limit may take to send its request, and to close after the 503.
const REFUSE_READ: Duration = Duration::from_secs(1);
/// Header naming the injected errorType on a 502 answer.
const ERROR_TYPE_HEADER: &str = "x-faultline-error-type";

/// The function's connection is to be reset rather than answered.
#[derive(Debug)]
struct Reset;

impl fmt::Display for Reset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("connection reset by an injected fault")
    }
}

impl std::error::Error for Reset {}

/// What a dependency request is aimed at: the source of its labels.
struct Target<'a> {
    host: &'a str,
    port: u16,
    scheme: &'static str,
    method: &'a Method,
    path: Option<&'a str>,
    /// The request's Content-Type, for an awsJson error's own.
    json_type: Option<&'a str>,
    /// The AWS call, when the request is one faultline originates TLS for and names.
    aws: Option<&'a AwsCall>,
}

/// The outcome of the faults for one dependency request.
enum Injected {
    Answer(Response<ProxyBody>),
    Reset,
}

pub struct DependencyProxy {
    config: ConfigState,
    facts: FunctionFacts,
    invocation: CurrentInvocation,
    /// FAULTLINE_UPSTREAM_PROXY, which wins over the config's `https_proxy`.
    upstream_override: Option<http::Uri>,
    /// Hosts originated for besides AWS's and the config's: those of the variables
    /// `deployer enable --tls-origination-env` rewrote.
    origination_hosts: Vec<String>,
    /// The forwarding client, rebuilt when the corporate proxy setting changes.
    client: Mutex<(Option<CorporateProxy>, ForwardClient)>,
    /// The client that originates TLS, or why it could not be built (a request that needs it
    /// is then answered 502 with the reason: never sent in clear). Built by the first request
    /// that needs it: reading the system's trust store costs INIT time that a function which
    /// never originates should not pay.
    originator: OnceCell<Result<OriginationClient, String>>,
}

impl DependencyProxy {
    pub fn new(
        config: ConfigState,
        facts: FunctionFacts,
        invocation: CurrentInvocation,
        upstream_override: Option<http::Uri>,
        origination_hosts: Vec<String>,
    ) -> Arc<Self> {
        Arc::new(DependencyProxy {
            config,
            facts,
            invocation,
            upstream_override,
            origination_hosts,
            client: Mutex::new((None, forward_client(None))),
            originator: OnceCell::new(),
        })
    }

    /// Serves connections from `listener` until the task is dropped. At most `max_connections`
    /// are served at once (each holds up to two descriptors, and Lambda allows 1,024 in all); one
    /// more is answered 503 at once and closed, rather than left waiting in the backlog.
    pub async fn serve(self: Arc<Self>, listener: TcpListener, max_connections: usize) {
        accept_limited(
            listener,
            "dependency proxy (FAULTLINE_MAX_CONNECTIONS)",
            max_connections,
            |stream, slot| {
                let proxy = Arc::clone(&self);
                // The slot is held as long as the connection is served, and by the tunnel it
                // may become (which outlives the HTTP connection).
                async move { proxy.serve_connection(stream, Slot::new(slot)).await }
            },
            move |stream| refuse(stream, max_connections),
        )
        .await;
    }

    async fn serve_connection(self: Arc<Self>, stream: TcpStream, slot: Slot) {
        // Two descriptors per tunnel at most (the function's and the upstream's): a reset is
        // asked for through a switch on the stream itself, not a duplicate descriptor.
        let (stream, switch) = Resettable::new(stream);
        let service = service_fn(move |request| {
            let proxy = Arc::clone(&self);
            let switch = switch.clone();
            let slot = slot.clone();
            async move {
                match proxy.handle(request, slot).await {
                    Injected::Answer(response) => Ok(response),
                    Injected::Reset => {
                        switch.reset();
                        Err(Reset)
                    }
                }
            }
        });
        let served = http1::Builder::new()
            .max_header_size(MAX_HEAD)
            .timer(TokioTimer::new())
            .header_read_timeout(IDLE_TIMEOUT)
            .serve_connection(TokioIo::new(stream), service)
            .with_upgrades()
            .await;
        if let Err(err) = served {
            tracing::debug!("dependency proxy connection ended: {err}");
        }
    }

    async fn handle(&self, request: Request<Incoming>, slot: Slot) -> Injected {
        if request.method() == Method::CONNECT {
            self.connect(request, slot).await
        } else {
            self.forward(request).await
        }
    }

    fn corporate_proxy_and_client(&self) -> (Option<CorporateProxy>, ForwardClient) {
        let wanted = match &self.upstream_override {
            Some(uri) => CorporateProxy::from_uri(uri),
            None => self.config.current().and_then(|c| {
                c.config
                    .https_proxy
                    .as_ref()
                    .and_then(CorporateProxy::from_uri)
            }),
        };
        let mut cached = self
            .client
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if cached.0 != wanted {
            *cached = (wanted.clone(), forward_client(wanted));
        }
        (cached.0.clone(), cached.1.clone())
    }

    /// Labels of one dependency request.
    fn labels(&self, config: &Config, target: &Target<'_>) -> Labels {
        let mut labels = self.facts.base_labels(config);
        labels.insert("host".into(), target.host.to_string());
        labels.insert("port".into(), target.port.to_string());
        labels.insert("scheme".into(), target.scheme.to_string());
        labels.insert("method".into(), target.method.as_str().to_string());
        if let Some(path) = target.path {
            labels.insert("path".into(), path.to_string());
        }
        if let Some(call) = target.aws {
            labels.insert("aws_service".into(), call.service.clone());
            labels.insert("operation".into(), call.operation.clone());
            if let Some(resource) = &call.resource {
                labels.insert("resource".into(), resource.clone());
            }
            if let Some(region) = &call.region {
                labels.insert("region".into(), region.clone());
            }
        }
        labels
    }

    /// The config in force when an experiment of it could apply to a dependency request.
    fn applicable(&self) -> Option<Arc<ActiveConfig>> {
        self.config
            .in_force()
            .filter(|active| active.config.dependency_proxy_enabled)
            .filter(|active| !active.experiments.is_empty())
    }

    /// Applies `egress`, `dependency-HOST` then `aws-SERVICE` of the `applicable` config:
    /// latencies, then the first terminal effect.
    async fn faults(&self, active: &ActiveConfig, target: &Target<'_>) -> Option<Injected> {
        let labels = &self.labels(&active.config, target);
        let is_connect = target.method == Method::CONNECT;
        // The invocation in flight, when it is unambiguous: its faults' audit lines and
        // subsegments go under it.
        let request_id = self.invocation.get();
        let trace = request_id.as_ref().and_then(|_| self.invocation.trace());
        let audited = audit::Invocation::new(request_id.as_deref(), trace.as_deref());
        let host_flag = format!("{DEPENDENCY_PREFIX}{}", target.host);
        let aws_flag = target
            .aws
            .map(|call| format!("{AWS_PREFIX}{}", call.service));
        let flags = [Some(EGRESS), Some(host_flag.as_str()), aws_flag.as_deref()];
        for flag in flags.into_iter().flatten() {
            let Some(fault) = inject::decide(&active.experiments, flag, labels) else {
                continue;
            };
            inject::delay(&fault, audited, labels).await;
            let answers = if target.aws.is_some() && flag.starts_with(AWS_PREFIX) {
                Answers::Aws
            } else {
                Answers::Http
            };
            match inject::terminal(&fault, answers, audited, labels) {
                // corrupt is for the function's own answer, timeout for events (the schema's
                // rules).
                None
                | Some(
                    Terminal::Corrupt(_) | Terminal::Timeout(_) | Terminal::BatchItemFailures(_),
                ) => {}
                Some(Terminal::AwsError(error)) => {
                    let Some(call) = target.aws else { continue };
                    let answer = crate::aws::errors::answer(call.protocol, error, target.json_type);
                    let mut response = Response::new(full_body(answer.body));
                    *response.status_mut() =
                        StatusCode::from_u16(answer.status).unwrap_or(StatusCode::BAD_REQUEST);
                    for (name, value) in answer.headers {
                        if let Ok(value) = HeaderValue::from_str(&value) {
                            response.headers_mut().insert(name, value);
                        }
                    }
                    return Some(Injected::Answer(response));
                }
                Some(Terminal::Exception(exception)) => {
                    if exception.error_type.eq_ignore_ascii_case(CONNECTION_RESET) {
                        return Some(Injected::Reset);
                    }
                    let mut response = text_response(StatusCode::BAD_GATEWAY, &exception.message);
                    if let Ok(value) = HeaderValue::from_str(&exception.error_type) {
                        response.headers_mut().insert(ERROR_TYPE_HEADER, value);
                    }
                    return Some(Injected::Answer(response));
                }
                Some(Terminal::HttpResponse(effect)) => {
                    let status =
                        StatusCode::from_u16(effect.code).unwrap_or(StatusCode::BAD_GATEWAY);
                    if is_connect && status.is_success() {
                        tracing::warn!(
                            "httpResponse {} on a CONNECT would open a tunnel to nowhere; answering 502 instead",
                            effect.code
                        );
                        return Some(Injected::Answer(text_response(
                            StatusCode::BAD_GATEWAY,
                            "fault injected by faultline",
                        )));
                    }
                    let mut response = Response::new(full_body(effect.body.clone()));
                    *response.status_mut() = status;
                    for (name, value) in &effect.headers {
                        if let (Ok(name), Ok(value)) = (
                            header::HeaderName::from_bytes(name.as_bytes()),
                            HeaderValue::from_str(value),
                        ) {
                            response.headers_mut().insert(name, value);
                        }
                    }
                    return Some(Injected::Answer(response));
                }
            }
        }
        None
    }

    /// Sends a plain-HTTP request on over TLS to `host`, port 443, with its Host header as it
    /// came (an AWS SDK signed it); `parts` has its end-to-end fields only. A certificate that
    /// fails verification stops it: 502 with the reason, logged.
    async fn originate(
        &self,
        host: &str,
        mut parts: http::request::Parts,
        body: ProxyBody,
    ) -> Injected {
        let originator = self
            .originator
            .get_or_init(|| async {
                tokio::task::spawn_blocking(originator_from_env)
                    .await
                    .unwrap_or_else(|err| Err(format!("building the TLS client failed: {err}")))
            })
            .await;
        let client = match originator {
            Ok(client) => client,
            Err(reason) => {
                return Injected::Answer(text_response(
                    StatusCode::BAD_GATEWAY,
                    &format!(
                        "faultline dependency proxy: cannot originate TLS to {host}: {reason}"
                    ),
                ));
            }
        };
        let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        let Ok(uri) = format!("https://{host}{path}").parse::<http::Uri>() else {
            return Injected::Answer(text_response(
                StatusCode::BAD_REQUEST,
                &format!("faultline dependency proxy: {host}{path} is not a valid URL"),
            ));
        };
        parts.uri = uri;
        match client.request(Request::from_parts(parts, body)).await {
            Ok(response) => relayed(response),
            Err(err) => {
                let reason = error_chain(&err);
                tracing::warn!("TLS origination to {host}:443 failed, nothing forwarded: {reason}");
                Injected::Answer(text_response(
                    StatusCode::BAD_GATEWAY,
                    &format!("faultline dependency proxy: TLS to {host}:443 failed: {reason}"),
                ))
            }
        }
    }

    /// A plain HTTP request in absolute form: forwarded as it came, or over TLS for a host
    /// faultline originates for ([`origination`]).
    async fn forward(&self, request: Request<Incoming>) -> Injected {
        let uri = request.uri();
        let (Some("http"), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
            return Injected::Answer(text_response(
                StatusCode::BAD_REQUEST,
                "faultline dependency proxy: send absolute-form http:// requests, or CONNECT for https",
            ));
        };
        let host = authority.host().to_ascii_lowercase();
        let port = authority.port_u16().unwrap_or(80);
        // The listed hosts hold while the config is stale: the function keeps sending them
        // plain HTTP to port 443, whether or not an experiment applies.
        let current = self.config.current();
        let listed = current
            .as_deref()
            .map_or(&[][..], |c| c.config.tls_origination.as_slice());
        let originate =
            origination::originates(&host, listed) || self.origination_hosts.contains(&host);
        let (parts, body) = request.into_parts();
        let mut body = boxed(body);
        // An AWS call is named only when an experiment could apply to it; its body is read
        // (and sent on from memory) only when the protocol names the call there.
        let active = self.applicable();
        let could_apply = active.is_some();
        let mut read = None;
        if originate && could_apply && crate::aws::wants_body(&parts.headers) {
            let small = parts
                .headers
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
                .is_some_and(|length| length <= MAX_NAMED_BODY);
            if small {
                match http_body_util::BodyExt::collect(body).await {
                    Ok(collected) => {
                        let bytes = collected.to_bytes();
                        body = full_body(bytes.clone());
                        read = Some(bytes);
                    }
                    Err(err) => {
                        return Injected::Answer(text_response(
                            StatusCode::BAD_REQUEST,
                            &format!(
                                "faultline dependency proxy: reading the request failed: {err}"
                            ),
                        ));
                    }
                }
            }
        }
        let call = (originate && could_apply)
            .then(|| {
                crate::aws::identify(&crate::aws::Request {
                    host: &host,
                    method: &parts.method,
                    path: parts.uri.path(),
                    query: parts.uri.query(),
                    headers: &parts.headers,
                    body: read.as_deref(),
                })
            })
            .flatten();
        let json_type = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        let aimed_at = Target {
            host: &host,
            port,
            scheme: "http",
            method: &parts.method,
            path: Some(parts.uri.path()),
            json_type,
            aws: call.as_ref(),
        };
        if let Some(active) = &active
            && let Some(injected) = self.faults(active, &aimed_at).await
        {
            return injected;
        }
        // Hop-by-hop fields and the function's proxy credentials go, whichever way it is sent.
        let mut parts = parts;
        parts.headers = end_to_end(parts.headers);
        parts.headers.remove(header::PROXY_AUTHORIZATION);
        if originate {
            return self.originate(&host, parts, body).await;
        }
        let (corporate, client) = self.corporate_proxy_and_client();
        if let Some(auth) = corporate.as_ref().and_then(CorporateProxy::authorization) {
            parts
                .headers
                .insert(header::PROXY_AUTHORIZATION, auth.clone());
        }
        match client.request(Request::from_parts(parts, body)).await {
            Ok(response) => relayed(response),
            Err(err) => {
                tracing::debug!("dependency {host}:{port} unreachable: {err:?}");
                Injected::Answer(text_response(
                    StatusCode::BAD_GATEWAY,
                    &format!("faultline dependency proxy: cannot reach {host}:{port}: {err}"),
                ))
            }
        }
    }

    /// A CONNECT tunnel: the target is reached first, so a failure is answered, not a dead tunnel.
    async fn connect(&self, request: Request<Incoming>, slot: Slot) -> Injected {
        let Some(authority) = request.uri().authority().cloned() else {
            return Injected::Answer(text_response(
                StatusCode::BAD_REQUEST,
                "faultline dependency proxy: CONNECT needs host:port",
            ));
        };
        let host = authority.host().to_ascii_lowercase();
        let port = authority.port_u16().unwrap_or(443);
        let aimed_at = Target {
            host: &host,
            port,
            scheme: "https",
            method: request.method(),
            path: None,
            json_type: None,
            aws: None,
        };
        if let Some(active) = self.applicable()
            && let Some(injected) = self.faults(&active, &aimed_at).await
        {
            return injected;
        }
        let (corporate, _) = self.corporate_proxy_and_client();
        let target = match open_tunnel(&host, port, corporate.as_ref()).await {
            Ok(target) => target,
            Err(OpenError::Refused(code)) => {
                let status = StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_GATEWAY);
                return Injected::Answer(text_response(
                    status,
                    &format!(
                        "faultline dependency proxy: the corporate proxy refused {host}:{port}"
                    ),
                ));
            }
            Err(OpenError::Failed(reason)) => {
                tracing::debug!("tunnel to {host}:{port} failed: {reason}");
                return Injected::Answer(text_response(
                    StatusCode::BAD_GATEWAY,
                    &format!("faultline dependency proxy: {reason}"),
                ));
            }
        };
        let slot = slot.take();
        tokio::spawn(async move {
            let _slot = slot;
            let upgraded = match hyper::upgrade::on(request).await {
                Ok(upgraded) => upgraded,
                Err(err) => {
                    tracing::debug!("CONNECT {host}:{port} was not upgraded: {err}");
                    return;
                }
            };
            // Bytes the corporate proxy sent past its answer go to the client first.
            let Opened {
                stream: mut target,
                early,
            } = target;
            let mut upgraded = TokioIo::new(upgraded);
            if !early.is_empty()
                && let Err(err) = upgraded.write_all(&early).await
            {
                tracing::debug!("tunnel to {host}:{port} ended: {err}");
                return;
            }
            // Back to the plain socket (and any bytes hyper read past the CONNECT head), so the
            // tunnel copies between two TCP streams without hyper's layers in between.
            let end = match upgraded.into_inner().downcast::<TokioIo<Resettable>>() {
                Ok(parts) => {
                    let mut client = parts.io.into_inner();
                    if !parts.read_buf.is_empty()
                        && let Err(err) = target.write_all(&parts.read_buf).await
                    {
                        tracing::debug!("tunnel to {host}:{port} ended: {err}");
                        return;
                    }
                    pump(&mut client, &mut target, IDLE_TIMEOUT).await
                }
                Err(upgraded) => pump(TokioIo::new(upgraded), target, IDLE_TIMEOUT).await,
            };
            match end {
                TunnelEnd::Closed(..) => {}
                TunnelEnd::Idle => tracing::debug!("tunnel to {host}:{port} closed: idle"),
                TunnelEnd::Failed(err) => tracing::debug!("tunnel to {host}:{port} ended: {err}"),
            }
        });
        Injected::Answer(Response::new(full_body(Vec::new())))
    }
}

/// An upstream's answer, relayed with its hop-by-hop fields removed.
fn relayed(response: Response<Incoming>) -> Injected {
    let (mut parts, body) = response.into_parts();
    parts.headers = end_to_end(parts.headers);
    Injected::Answer(Response::from_parts(parts, boxed(body)))
}

/// The largest body read to name an AWS call (JSON and query protocols).
const MAX_NAMED_BODY: usize = 1024 * 1024;

/// The TLS-originating client from `FAULTLINE_CA_FILE` and `FAULTLINE_CONNECT_TO`; a setting
/// that cannot be used is logged, and originated requests are answered 502 naming it.
fn originator_from_env() -> Result<OriginationClient, String> {
    let ca_file = std::env::var_os(origination::CA_FILE_VAR)
        .filter(|v| !v.is_empty())
        .map(std::path::PathBuf::from);
    let connect_to = std::env::var(origination::CONNECT_TO_VAR)
        .ok()
        .map(|text| origination::parse_connect_to(&text))
        .transpose()
        .map(Option::unwrap_or_default);
    let built = connect_to
        .and_then(|connect_to| origination::origination_client(ca_file.as_deref(), connect_to));
    if let Err(reason) = &built {
        tracing::error!("TLS origination is off: {reason}");
    }
    built
}

/// A connection's place among the `max_connections`: released when the connection ends, or
/// when the tunnel it became ends.
#[derive(Clone)]
struct Slot(Arc<Mutex<Option<OwnedSemaphorePermit>>>);

impl Slot {
    fn new(permit: OwnedSemaphorePermit) -> Slot {
        Slot(Arc::new(Mutex::new(Some(permit))))
    }

    /// The place itself, for a tunnel to hold.
    fn take(&self) -> Option<OwnedSemaphorePermit> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take()
    }
}

/// Answers a connection over the limit with 503 and closes it. The request is read first (a
/// close with unread data would send RST and could lose the answer), briefly.
async fn refuse(mut stream: TcpStream, max_connections: usize) {
    let body =
        format!("faultline dependency proxy: more than {max_connections} connections at once\n");
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut head = vec![0u8; 4096];
    let _ = tokio::time::timeout(REFUSE_READ, stream.read(&mut head)).await;
    if stream.write_all(answer.as_bytes()).await.is_ok() {
        let _ = stream.shutdown().await;
        let _ = tokio::time::timeout(REFUSE_READ, async {
            while matches!(stream.read(&mut head).await, Ok(n) if n > 0) {}
        })
        .await;
    }
}

fn text_response(status: StatusCode, text: &str) -> Response<ProxyBody> {
    let mut response = Response::new(full_body(text.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_schema::config::Config;
    use std::convert::Infallible;
    use tokio::io::AsyncReadExt;

    async fn start(yaml: &str) -> std::net::SocketAddr {
        let state = ConfigState::new();
        state.set(Config::parse_strict(yaml).expect("valid config"));
        let proxy = DependencyProxy::new(
            state,
            FunctionFacts::default(),
            CurrentInvocation::default(),
            None,
            Vec::new(),
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(proxy.serve(listener, crate::settings::DEFAULT_MAX_CONNECTIONS));
        addr
    }

    /// Sends one raw request to the proxy and returns what came back.
    async fn exchange(proxy: std::net::SocketAddr, head: &str) -> String {
        let mut stream = TcpStream::connect(proxy).await.expect("connect");
        stream.write_all(head.as_bytes()).await.expect("write");
        let mut answer = vec![0u8; 4096];
        let n = stream.read(&mut answer).await.expect("read");
        String::from_utf8_lossy(&answer[..n]).into_owned()
    }

    /// A local HTTP server answering `hello`.
    async fn web() -> std::net::SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let service = service_fn(|_request: Request<Incoming>| async {
                        Ok::<_, Infallible>(Response::new(full_body("hello")))
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        addr
    }

    #[tokio::test]
    async fn traffic_goes_through_the_corporate_proxy() {
        // The "corporate proxy" is a second faultline dependency proxy: a real forward proxy
        // whose experiments show which requests reached it, and in which form.
        let corporate = start(
            r#"
experiments:
  - {name: seen-http, flag: dependency-127.0.0.1, selector: {path: /via-corporate}, effect: {httpResponse: {code: 418}}}
  - {name: seen-connect, flag: dependency-example.internal, effect: {httpResponse: {code: 403}}}
"#,
        )
        .await;
        let ours = start(&format!("https_proxy: http://{corporate}\n")).await;
        let web = web().await;

        let answer = exchange(
            ours,
            &format!("GET http://{web}/via-corporate HTTP/1.1\r\nHost: {web}\r\n\r\n"),
        )
        .await;
        assert!(answer.starts_with("HTTP/1.1 418"), "{answer}");
        let answer = exchange(
            ours,
            &format!("GET http://{web}/plain HTTP/1.1\r\nHost: {web}\r\n\r\n"),
        )
        .await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(answer.ends_with("hello"), "{answer}");
        // The corporate proxy's refusal of a CONNECT is passed on with its status.
        let answer = exchange(
            ours,
            "CONNECT example.internal:443 HTTP/1.1\r\nHost: example.internal:443\r\n\r\n",
        )
        .await;
        assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    }
}
