//! TLS origination, the service-mesh pattern for egress: the function sends plain HTTP to the
//! dependency proxy on loopback (an AWS SDK pointed at `http://<endpoint>:443` by
//! `AWS_ENDPOINT_URL_<SERVICE>`), and the proxy opens the TLS connection to the real endpoint,
//! verifying its certificate, with the Host header exactly as the SDK signed it. faultline can
//! then answer such calls wrong (an AWS error in the service's own shape) without intercepting
//! TLS.
//!
//! Originated: every AWS endpoint host (`*.amazonaws.com`, `*.amazonaws.com.cn`, `*.api.aws`)
//! and the config's `tls_origination` hosts, always to port 443. The certificate is verified
//! against the system's trust store plus `FAULTLINE_CA_FILE`; a request whose upstream fails
//! verification is never forwarded. `FAULTLINE_CONNECT_TO` (`HOST1:PORT1:HOST2:PORT2`, curl's
//! `--connect-to`) connects elsewhere while verifying the certificate for HOST1.

use crate::net::client::ProxyBody;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::net::TcpStream;

/// The environment variable naming extra trusted CA certificates (PEM).
pub const CA_FILE_VAR: &str = "FAULTLINE_CA_FILE";
/// The environment variable with curl-style `--connect-to` mappings.
pub const CONNECT_TO_VAR: &str = "FAULTLINE_CONNECT_TO";

/// Whether a plain-HTTP request for `host` is sent on over TLS: an AWS endpoint, or a host (or
/// glob) in the config's `tls_origination`.
pub fn originates(host: &str, listed: &[String]) -> bool {
    crate::aws::is_endpoint(host) || listed.iter().any(|pattern| host_matches(pattern, host))
}

/// `*.example.com` matches any subdomain of example.com; anything else matches itself.
fn host_matches(pattern: &str, host: &str) -> bool {
    match pattern.strip_prefix('*') {
        Some(suffix) => host.ends_with(suffix) && host.len() > suffix.len(),
        None => pattern == host,
    }
}

/// One `--connect-to` mapping: requests for `host:port` connect to `to_host:to_port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectTo {
    host: String,
    port: u16,
    to_host: String,
    to_port: u16,
}

/// Parses `HOST1:PORT1:HOST2:PORT2[,...]`; an unusable entry is named in the error.
pub fn parse_connect_to(text: &str) -> Result<Vec<ConnectTo>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            let parts: Vec<&str> = entry.split(':').collect();
            let [host, port, to_host, to_port] = parts.as_slice() else {
                return Err(format!(
                    "{CONNECT_TO_VAR}: `{entry}` is not HOST1:PORT1:HOST2:PORT2"
                ));
            };
            let port_of = |text: &str| {
                text.parse::<u16>()
                    .map_err(|_| format!("{CONNECT_TO_VAR}: `{text}` in `{entry}` is not a port"))
            };
            Ok(ConnectTo {
                host: host.to_ascii_lowercase(),
                port: port_of(port)?,
                to_host: to_host.to_string(),
                to_port: port_of(to_port)?,
            })
        })
        .collect()
}

/// The TCP half of origination: connects to the URI's host and port, or where a
/// `--connect-to` mapping sends them.
#[derive(Clone)]
pub struct Dial {
    connect_to: Arc<Vec<ConnectTo>>,
}

impl tower_service::Service<http::Uri> for Dial {
    type Response = TokioIo<TcpStream>;
    type Error = std::io::Error;
    type Future = Pin<Box<dyn Future<Output = std::io::Result<Self::Response>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: http::Uri) -> Self::Future {
        let host = uri.host().unwrap_or_default().to_ascii_lowercase();
        let port = uri.port_u16().unwrap_or(443);
        let (to_host, to_port) = self
            .connect_to
            .iter()
            .find(|m| m.host == host && m.port == port)
            .map_or((host, port), |m| (m.to_host.clone(), m.to_port));
        Box::pin(async move {
            let stream = tokio::time::timeout(
                CONNECT_TIMEOUT,
                TcpStream::connect((to_host.as_str(), to_port)),
            )
            .await
            .map_err(|_| {
                std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("connecting to {to_host}:{to_port} timed out"),
                )
            })??;
            let _ = stream.set_nodelay(true);
            Ok(TokioIo::new(stream))
        })
    }
}

const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// The pooled HTTPS client that originates TLS.
pub type OriginationClient = Client<HttpsConnector<Dial>, ProxyBody>;

/// Builds the originating client: the system's trust store plus `ca_file`, and the
/// `connect_to` mappings. Errors name what could not be read.
pub fn origination_client(
    ca_file: Option<&std::path::Path>,
    connect_to: Vec<ConnectTo>,
) -> Result<OriginationClient, String> {
    let tls = crate::net::tls::client_config(ca_file.map(|path| (CA_FILE_VAR, path)))?;
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_only()
        .enable_http1()
        .wrap_connector(Dial {
            connect_to: Arc::new(connect_to),
        });
    Ok(Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(60))
        .build(connector))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_hosts_and_listed_hosts_are_originated() {
        for host in [
            "dynamodb.us-east-1.amazonaws.com",
            "bucket.s3.eu-west-1.amazonaws.com",
            "sqs.cn-north-1.amazonaws.com.cn",
            "dynamodb.us-east-1.api.aws",
        ] {
            assert!(originates(host, &[]), "{host}");
        }
        let listed = ["api.example.com".to_string(), "*.payments.test".to_string()];
        assert!(originates("api.example.com", &listed));
        assert!(originates("eu.payments.test", &listed));
        assert!(!originates("payments.test", &listed));
        assert!(!originates("example.com", &listed));
        assert!(!originates("amazonaws.com.evil.test", &listed));
    }

    #[test]
    fn connect_to_is_read_as_curl_writes_it() {
        assert_eq!(
            parse_connect_to("DynamoDB.us-east-1.amazonaws.com:443:127.0.0.1:4566, a:1:b:2")
                .unwrap(),
            vec![
                ConnectTo {
                    host: "dynamodb.us-east-1.amazonaws.com".into(),
                    port: 443,
                    to_host: "127.0.0.1".into(),
                    to_port: 4566
                },
                ConnectTo {
                    host: "a".into(),
                    port: 1,
                    to_host: "b".into(),
                    to_port: 2
                }
            ]
        );
        assert!(parse_connect_to("a:1:b").unwrap_err().contains("`a:1:b`"));
        assert!(parse_connect_to("a:x:b:2").unwrap_err().contains("`x`"));
    }
}
