//! How dependency traffic leaves: straight to the target, or through the corporate proxy named by
//! `https_proxy` (plain HTTP requests in absolute form, HTTPS through a CONNECT of its own).

use crate::net::client::{BoxError, ProxyBody};
use base64::Engine as _;
use http::{HeaderValue, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Longest wait for a TCP connection to a dependency or the corporate proxy.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest CONNECT answer head accepted from the corporate proxy.
const MAX_PROXY_HEAD: usize = 16 * 1024;

/// The corporate proxy, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorporateProxy {
    host: String,
    port: u16,
    /// `Proxy-Authorization` from the URL's user info.
    authorization: Option<HeaderValue>,
}

impl CorporateProxy {
    pub fn from_uri(uri: &Uri) -> Option<CorporateProxy> {
        let authority = uri.authority()?;
        let authorization = authority
            .as_str()
            .rsplit_once('@')
            .map(|(userinfo, _)| {
                let token = base64::engine::general_purpose::STANDARD.encode(userinfo);
                HeaderValue::from_str(&format!("Basic {token}"))
            })
            .and_then(Result::ok)
            .map(|mut value| {
                value.set_sensitive(true);
                value
            });
        Some(CorporateProxy {
            host: authority.host().to_string(),
            port: authority.port_u16().unwrap_or(3128),
            authorization,
        })
    }

    pub fn authorization(&self) -> Option<&HeaderValue> {
        self.authorization.as_ref()
    }
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
    let mut http = HttpConnector::new();
    http.set_nodelay(true);
    http.enforce_http(true);
    http.set_connect_timeout(Some(CONNECT_TIMEOUT));
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(60))
        .build(UpstreamConnector { http, proxy })
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
            Some(proxy) => match format!("http://{}:{}", proxy.host, proxy.port).parse::<Uri>() {
                Ok(uri) => (uri, true),
                Err(err) => return Box::pin(async move { Err(err.into()) }),
            },
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
    /// The corporate proxy refused the CONNECT with this status.
    Refused(u16),
    Failed(String),
}

/// Opens a TCP stream to `host:port` for a CONNECT tunnel, through the corporate proxy if any.
pub async fn open_tunnel(
    host: &str,
    port: u16,
    proxy: Option<&CorporateProxy>,
) -> Result<TcpStream, OpenError> {
    let (dial_host, dial_port) = match proxy {
        Some(p) => (p.host.as_str(), p.port),
        None => (host, port),
    };
    let dial_host = dial_host.trim_start_matches('[').trim_end_matches(']');
    let mut stream =
        tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect((dial_host, dial_port)))
            .await
            .map_err(|_| {
                OpenError::Failed(format!("connecting to {dial_host}:{dial_port} timed out"))
            })?
            .map_err(|err| {
                OpenError::Failed(format!("cannot connect to {dial_host}:{dial_port}: {err}"))
            })?;
    let _ = stream.set_nodelay(true);
    let Some(proxy) = proxy else {
        return Ok(stream);
    };
    let mut head = format!("CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n");
    if let Some(auth) = proxy.authorization.as_ref().and_then(|v| v.to_str().ok()) {
        head.push_str(&format!("Proxy-Authorization: {auth}\r\n"));
    }
    head.push_str("\r\n");
    stream
        .write_all(head.as_bytes())
        .await
        .map_err(|err| OpenError::Failed(format!("corporate proxy: {err}")))?;
    let status = read_connect_answer(&mut stream).await?;
    if (200..300).contains(&status) {
        Ok(stream)
    } else {
        Err(OpenError::Refused(status))
    }
}

/// Reads the corporate proxy's answer head byte by byte (nothing past it may be consumed: the
/// tunnel starts right after) and returns its status.
async fn read_connect_answer(stream: &mut TcpStream) -> Result<u16, OpenError> {
    let mut head = Vec::with_capacity(256);
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() >= MAX_PROXY_HEAD {
            return Err(OpenError::Failed(
                "corporate proxy answer head too large".into(),
            ));
        }
        let read = tokio::time::timeout(CONNECT_TIMEOUT, stream.read(&mut byte))
            .await
            .map_err(|_| OpenError::Failed("corporate proxy did not answer the CONNECT".into()))?
            .map_err(|err| OpenError::Failed(format!("corporate proxy: {err}")))?;
        if read == 0 {
            return Err(OpenError::Failed(
                "corporate proxy closed the connection".into(),
            ));
        }
        head.push(byte[0]);
    }
    let line = head.split(|b| *b == b'\n').next().unwrap_or_default();
    let status = std::str::from_utf8(line)
        .ok()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or_else(|| OpenError::Failed("corporate proxy sent no HTTP status".into()))?;
    Ok(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_the_proxy_url_become_proxy_authorization() {
        let uri: Uri = "http://user:secret@corp:3128".parse().unwrap();
        let proxy = CorporateProxy::from_uri(&uri).unwrap();
        assert_eq!(proxy.host, "corp");
        assert_eq!(proxy.port, 3128);
        assert_eq!(
            proxy.authorization().unwrap().to_str().unwrap(),
            "Basic dXNlcjpzZWNyZXQ="
        );
        assert!(format!("{proxy:?}").contains("Sensitive"));
        let plain = CorporateProxy::from_uri(&"http://corp".parse().unwrap()).unwrap();
        assert_eq!(plain.port, 3128);
        assert!(plain.authorization().is_none());
    }

    #[tokio::test]
    async fn connect_through_a_corporate_proxy() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let proxy_task = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 1024];
            let n = socket.read(&mut buf).await.unwrap();
            let request = String::from_utf8_lossy(&buf[..n]).to_string();
            socket
                .write_all(b"HTTP/1.1 200 Connection established\r\n\r\nhello")
                .await
                .unwrap();
            request
        });
        let proxy = CorporateProxy::from_uri(&format!("http://{addr}").parse().unwrap()).unwrap();
        let mut stream = open_tunnel("example.com", 443, Some(&proxy)).await.unwrap();
        let mut rest = [0u8; 5];
        stream.read_exact(&mut rest).await.unwrap();
        assert_eq!(&rest, b"hello", "bytes after the head belong to the tunnel");
        let request = proxy_task.await.unwrap();
        assert!(request.starts_with("CONNECT example.com:443 HTTP/1.1\r\n"));
    }
}
