//! Plumbing shared by the listeners and proxies: the HTTP client and body types ([`client`]) the
//! accept loop ([`listener`]), and the TLS client settings ([`tls`]).

pub mod client;
pub mod listener;
pub mod tls;
