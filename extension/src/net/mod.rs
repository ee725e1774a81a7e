//! Plumbing shared by the listeners and proxies: the HTTP client and body types ([`client`]) the
//! accept loop ([`listener`]), and the TLS client settings ([`tls`]).

pub mod client;
pub mod listener;
pub mod tls;

/// An error with its sources, as one line, so that a cause deep in the chain (a certificate
/// failure, a refused connection) is named.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
