//! Plumbing shared by the listeners and proxies: the HTTP client and body types ([`client`]) and
//! the accept loop ([`listener`]).

pub mod client;
pub mod listener;
