//! How dependency traffic leaves: straight to the target, or through the corporate proxy named by
//! `https_proxy` (plain HTTP requests in absolute form, HTTPS through a CONNECT of its own).
//!
//! The proxy URL is read by hyper-util's proxy matcher (user info percent-decoded into
//! `Proxy-Authorization: Basic`). The CONNECT is sent with hyper's client connection rather than
//! hyper-util's tunnel connector, which reports a refusal only as "unsuccessful": the client must
//! get the corporate proxy's own status (403, 407, ...), as it would without faultline.

use crate::net::client::{BoxError, ProxyBody};
use http::{HeaderValue, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::client::proxy::matcher::Matcher;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::net::TcpStream;

/// Longest wait for a TCP connection to a dependency or the corporate proxy (and for the proxy's
/// answer to a CONNECT).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// The port of a corporate proxy URL that names none (Squid's, the usual corporate proxy).
const DEFAULT_PROXY_PORT: u16 = 3128;

/// The corporate proxy, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorporateProxy {
    /// `http://host:port/`: where connections go (credentials removed).
    dst: Uri,
    /// `Proxy-Authorization` from the URL's user info, percent-decoded.
    authorization: Option<HeaderValue>,
}

impl CorporateProxy {
    pub fn from_uri(uri: &Uri) -> Option<CorporateProxy> {
        let matcher = Matcher::builder().all(uri.to_string()).build();
        let intercept = matcher.intercept(&Uri::from_static("http://faultline.invalid/"))?;
        let authority = intercept.uri().authority()?;
        let port = authority.port_u16().unwrap_or(DEFAULT_PROXY_PORT);
        let dst = Uri::builder()
            .scheme("http")
            .authority(format!("{}:{port}", authority.host()))
            .path_and_query("/")
            .build()
            .ok()?;
        Some(CorporateProxy {
            dst,
            authorization: intercept.basic_auth().cloned(),
        })
    }

    pub fn authorization(&self) -> Option<&HeaderValue> {
        self.authorization.as_ref()
    }
}

fn http_connector() -> HttpConnector {
    let mut http = HttpConnector::new();
    http.set_nodelay(true);
    http.enforce_http(true);
    http.set_connect_timeout(Some(CONNECT_TIMEOUT));
    http
}

/// Connects where plain HTTP requests go: the target, or the corporate proxy (the client then
/// sends the request line in absolute form, as a proxy expects).
#[derive(Clone)]
pub struct UpstreamConnector {
    http: HttpConnector,
    proxy: Option<CorporateProxy>,
}

pub type ForwardClient = Client<UpstreamConnector, ProxyBody>;

pub fn forward_client(proxy: Option<CorporateProxy>) -> ForwardClient {
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(60))
        .build(UpstreamConnector {
            http: http_connector(),
            proxy,
        })
}

/// A connection made by [`UpstreamConnector`].
pub struct UpstreamIo {
    io: TokioIo<TcpStream>,
    proxied: bool,
}

impl Connection for UpstreamIo {
    fn connected(&self) -> Connected {
        self.io.connected().proxy(self.proxied)
    }
}

impl hyper::rt::Read for UpstreamIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl hyper::rt::Write for UpstreamIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

impl tower_service::Service<Uri> for UpstreamConnector {
    type Response = UpstreamIo;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<UpstreamIo, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.http.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, target: Uri) -> Self::Future {
        let (dst, proxied) = match &self.proxy {
            Some(proxy) => (proxy.dst.clone(), true),
            None => (target, false),
        };
        let connecting = self.http.call(dst);
        Box::pin(async move {
            let io = connecting.await?;
            Ok(UpstreamIo { io, proxied })
        })
    }
}

/// Why a tunnel target could not be opened.
#[derive(Debug)]
pub enum OpenError {
    /// The corporate proxy refused the CONNECT with this status: passed on to the client, which
    /// would have had it from the corporate proxy without faultline.
    Refused(u16),
    Failed(String),
}

/// An open tunnel target, and any bytes the corporate proxy sent past its answer's head.
pub struct Opened {
    pub stream: TcpStream,
    pub early: bytes::Bytes,
}

/// Opens a TCP stream to `host:port` for a CONNECT tunnel, through the corporate proxy if any:
/// a CONNECT sent with hyper's client connection, its answer's status kept, the connection taken
/// back from hyper once upgraded.
pub async fn open_tunnel(
    host: &str,
    port: u16,
    proxy: Option<&CorporateProxy>,
) -> Result<Opened, OpenError> {
    let (shown_host, dial_port) = match proxy {
        Some(proxy) => (
            proxy.dst.host().unwrap_or_default(),
            proxy.dst.port_u16().unwrap_or(DEFAULT_PROXY_PORT),
        ),
        None => (host, port),
    };
    let dial = format!("{shown_host}:{dial_port}");
    let dial_host = shown_host.trim_start_matches('[').trim_end_matches(']');
    let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect((dial_host, dial_port)))
        .await
        .map_err(|_| OpenError::Failed(format!("connecting to {dial} timed out")))?
        .map_err(|err| OpenError::Failed(format!("cannot connect to {dial}: {err}")))?;
    let _ = stream.set_nodelay(true);
    let Some(proxy) = proxy else {
        return Ok(Opened {
            stream,
            early: bytes::Bytes::new(),
        });
    };
    let failed = |what: &str, err: &dyn std::fmt::Display| {
        OpenError::Failed(format!("corporate proxy {dial}: {what}: {err}"))
    };
    let connect = async {
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake::<_, ProxyBody>(TokioIo::new(stream))
                .await
                .map_err(|err| failed("handshake", &err))?;
        tokio::spawn(connection.with_upgrades());
        let target = format!("{host}:{port}");
        let mut request = http::Request::connect(target.as_str())
            .header(http::header::HOST, target.as_str())
            .body(crate::net::client::full_body(Vec::new()))
            .map_err(|err| failed("CONNECT request", &err))?;
        if let Some(auth) = &proxy.authorization {
            request
                .headers_mut()
                .insert(http::header::PROXY_AUTHORIZATION, auth.clone());
        }
        let answer = sender
            .send_request(request)
            .await
            .map_err(|err| failed("CONNECT", &err))?;
        if !answer.status().is_success() {
            return Err(OpenError::Refused(answer.status().as_u16()));
        }
        let upgraded = hyper::upgrade::on(answer)
            .await
            .map_err(|err| failed("CONNECT upgrade", &err))?;
        let parts = upgraded
            .downcast::<TokioIo<TcpStream>>()
            .map_err(|_| OpenError::Failed(format!("corporate proxy {dial}: not a TCP stream")))?;
        Ok(Opened {
            stream: parts.io.into_inner(),
            early: parts.read_buf,
        })
    };
    tokio::time::timeout(CONNECT_TIMEOUT, connect)
        .await
        .map_err(|_| {
            OpenError::Failed(format!("corporate proxy {dial} did not answer the CONNECT"))
        })?
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn credentials_in_the_proxy_url_become_proxy_authorization() {
        let uri: Uri = "http://user:secret@corp:3128".parse().unwrap();
        let proxy = CorporateProxy::from_uri(&uri).unwrap();
        assert_eq!(proxy.dst, "http://corp:3128/");
        assert_eq!(
            proxy.authorization().unwrap().to_str().unwrap(),
            "Basic dXNlcjpzZWNyZXQ="
        );
        assert!(format!("{proxy:?}").contains("Sensitive"));
        let plain = CorporateProxy::from_uri(&"http://corp".parse().unwrap()).unwrap();
        assert_eq!(plain.dst, "http://corp:3128/");
        assert!(plain.authorization().is_none());
    }

    #[test]
    fn percent_encoded_credentials_are_decoded() {
        // svc / p@ss:w0rd — the '@' and ':' in the password must be written %40 and %3A.
        let uri: Uri = "http://svc:p%40ss%3Aw0rd@corp:8080".parse().unwrap();
        let proxy = CorporateProxy::from_uri(&uri).unwrap();
        assert_eq!(proxy.dst, "http://corp:8080/");
        let expected = format!(
            "Basic {}",
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, "svc:p@ss:w0rd")
        );
        assert_eq!(proxy.authorization().unwrap().to_str().unwrap(), expected);
    }

    /// A one-connection CONNECT proxy: answers `status`, then echoes "ping" with "pong".
    async fn one_shot_proxy(status: &'static str) -> (Uri, tokio::task::JoinHandle<String>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 1024];
            let n = socket.read(&mut buf).await.unwrap();
            let request = String::from_utf8_lossy(&buf[..n]).to_string();
            socket.write_all(status.as_bytes()).await.unwrap();
            let mut ping = [0u8; 4];
            if socket.read_exact(&mut ping).await.is_ok() {
                socket.write_all(b"pong").await.unwrap();
            }
            request
        });
        (format!("http://svc:p%40ss@{addr}").parse().unwrap(), task)
    }

    #[tokio::test]
    async fn connect_through_a_corporate_proxy() {
        let (uri, proxy_task) = one_shot_proxy("HTTP/1.1 200 Connection established\r\n\r\n").await;
        let proxy = CorporateProxy::from_uri(&uri).unwrap();
        let mut stream = open_tunnel("example.com", 443, Some(&proxy))
            .await
            .unwrap()
            .stream;
        stream.write_all(b"ping").await.unwrap();
        let mut rest = [0u8; 4];
        stream.read_exact(&mut rest).await.unwrap();
        assert_eq!(&rest, b"pong", "the stream is the tunnel");
        let request = proxy_task.await.unwrap();
        assert!(request.starts_with("CONNECT example.com:443 HTTP/1.1\r\n"));
        assert!(
            request
                .to_ascii_lowercase()
                .contains("proxy-authorization: basic c3zjonbac3m=\r\n"),
            "{request}"
        );
    }

    #[tokio::test]
    async fn a_refused_connect_keeps_the_corporate_proxy_status() {
        for (answer, status) in [
            ("HTTP/1.1 407 Who are you\r\ncontent-length: 0\r\n\r\n", 407),
            ("HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n", 403),
        ] {
            let (uri, _task) = one_shot_proxy(answer).await;
            let proxy = CorporateProxy::from_uri(&uri).unwrap();
            let refused = open_tunnel("example.com", 443, Some(&proxy)).await;
            assert!(
                matches!(refused, Err(OpenError::Refused(code)) if code == status),
                "{:?}",
                refused.err()
            );
        }
        let dead =
            CorporateProxy::from_uri(&"http://svc:p%40ss@127.0.0.1:1".parse().unwrap()).unwrap();
        let Err(OpenError::Failed(reason)) = open_tunnel("example.com", 443, Some(&dead)).await
        else {
            panic!("a dead corporate proxy fails the tunnel");
        };
        assert!(reason.contains("127.0.0.1:1"), "{reason}");
        assert!(!reason.contains("p@ss"), "{reason}");
    }
}
