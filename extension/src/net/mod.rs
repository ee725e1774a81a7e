//! Plumbing shared by the listeners and proxies: the HTTP client and body types ([`client`]),
//! reading a body only as far as needed ([`body`]), and
//! the accept loop ([`listener`]).

pub mod body;
pub mod client;
pub mod listener;
