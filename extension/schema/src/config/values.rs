//! Small value types of the config: listen addresses, durations, redacted secrets, label scalars.

use serde::{Deserialize, Deserializer};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

/// A loopback `host:port` the extension listens on. Only loopback hosts are accepted: the
/// listeners must never be reachable from outside the execution environment.
#[derive(Clone, PartialEq, Eq)]
pub struct ListenAddr {
    text: String,
    addr: SocketAddr,
}

impl ListenAddr {
    /// `localhost:PORT`.
    pub fn localhost(port: u16) -> ListenAddr {
        ListenAddr {
            text: format!("localhost:{port}"),
            addr: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port),
        }
    }

    /// Parses `localhost:5033`, `127.0.0.1:5033`, `[::1]:5033` or a bare port `5033`. Port 0
    /// asks the OS for a free port (the wrapper learns the real one from the ready file).
    pub fn parse(text: &str) -> Result<ListenAddr, String> {
        let trimmed = text.trim();
        let trimmed = trimmed
            .strip_prefix("http://")
            .unwrap_or(trimmed)
            .trim_end_matches('/');
        if trimmed.is_empty() {
            return Err("expected host:port, e.g. localhost:5033".into());
        }
        let (host, port) = match trimmed.rsplit_once(':') {
            Some((host, port)) => (host, port),
            None => ("localhost", trimmed),
        };
        let port: u16 = port
            .parse()
            .map_err(|_| format!("`{text}`: port `{port}` is not a number from 0 to 65535"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let ip: IpAddr = match host {
            "" | "localhost" => IpAddr::V4(Ipv4Addr::LOCALHOST),
            other => other.parse().map_err(|_| {
                format!("`{text}`: host must be localhost or a loopback IP address")
            })?,
        };
        if !ip.is_loopback() {
            return Err(format!(
                "`{text}`: only loopback addresses (localhost, 127.0.0.1, ::1) may be used: \
                 faultline's listeners must not be reachable from other hosts"
            ));
        }
        Ok(ListenAddr {
            text: trimmed.to_string(),
            addr: SocketAddr::new(ip, port),
        })
    }

    /// The socket address to bind.
    pub fn socket_addr(&self) -> SocketAddr {
        self.addr
    }
}

impl fmt::Debug for ListenAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.text)
    }
}

impl fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for ListenAddr {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = Scalar::deserialize(deserializer)?.0;
        ListenAddr::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// A string that must never reach a log line or CLI output (team credentials).
#[derive(Clone, PartialEq, Eq)]
pub struct Redacted(String);

impl<'de> Deserialize<'de> for Redacted {
    /// Error messages never quote the value, whatever its type.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match serde_yaml_ng::Value::deserialize(deserializer)? {
            serde_yaml_ng::Value::String(s) => Ok(Redacted(s)),
            _ => Err(serde::de::Error::custom(
                "expected a string (value not shown)",
            )),
        }
    }
}

impl Redacted {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Redacted(value.into())
    }

    /// The secret value itself; callers are responsible for not printing it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// A YAML scalar taken as text: `team: payments`, `version: 3` and `enabled: true` all give strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Scalar(pub String);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde_yaml_ng::Value;
        match Value::deserialize(deserializer)? {
            Value::String(s) => Ok(Scalar(s)),
            Value::Number(n) => Ok(Scalar(n.to_string())),
            Value::Bool(b) => Ok(Scalar(b.to_string())),
            Value::Null => Err(serde::de::Error::custom("expected a value, found nothing")),
            _ => Err(serde::de::Error::custom(
                "expected a string or number, found a list or map",
            )),
        }
    }
}

/// A duration written with its unit: `30s`, `500ms`, `15m`, `1h 30m`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HumanDuration(pub Duration);

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = Scalar::deserialize(deserializer)?.0;
        parse_duration(&text)
            .map(HumanDuration)
            .map_err(serde::de::Error::custom)
    }
}

/// Parses a duration with a unit. A bare number is refused because `30` could mean seconds or
/// milliseconds depending on the reader.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    if !trimmed.is_empty() && trimmed.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return Err(format!(
            "`{trimmed}` has no unit: write e.g. `{trimmed}s` or `{trimmed}ms`"
        ));
    }
    humantime::parse_duration(trimmed)
        .map_err(|err| format!("`{trimmed}` is not a duration like 30s, 500ms or 15m ({err})"))
}

/// Parses the upstream proxy URL for dependency traffic (`http://corp-proxy:3128`).
/// An upstream proxy URL: `http://host:port`, optionally with `user:password@`.
pub fn parse_proxy_url(text: &str) -> Result<http::Uri, String> {
    let uri: http::Uri = text
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a URL like http://proxy.internal:3128"))?;
    match uri.scheme_str() {
        Some("http") => {}
        Some(other) => {
            return Err(format!(
                "scheme `{other}` is not supported: the upstream proxy is reached over plain HTTP (http://host:port)"
            ));
        }
        None => return Err(format!("`{text}` needs a scheme: http://host:port")),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(format!("`{text}` has no host"));
    }
    Ok(uri)
}

/// A URL with the credentials of its authority replaced by `***`, for logs and diffs:
/// `http://user:p%40ss@proxy:3128` gives `http://***@proxy:3128`. The userinfo ends at the last
/// `@` before the path, so a password written with a bare `@` is masked whole; text that is no
/// URL is returned as it is.
pub fn mask_userinfo(text: &str) -> String {
    let (scheme, rest) = match text.split_once("://") {
        Some((scheme, rest)) => (Some(scheme), rest),
        None => (None, text),
    };
    let authority_end = rest.find(['?', '#']).unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return text.to_string();
    };
    // A `/` before the `@` means the `@` is in the path unless a password holds it; mask anyway.
    let host_and_more = &rest[at + 1..];
    match scheme {
        Some(scheme) => format!("{scheme}://***@{host_and_more}"),
        None => format!("***@{host_and_more}"),
    }
}

/// Probability in 0..=1 that a matching request is affected.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate(f64);

impl Rate {
    /// Every matching request.
    pub const ALWAYS: Rate = Rate(1.0);

    /// A probability in 0..=1. A bare number above 1 is refused rather than guessed at: `25`
    /// could mean 25 % or a typo for 0.25; a percentage is written with `%` (see [`Rate::parse`]).
    pub fn new(value: f64) -> Result<Rate, String> {
        if !value.is_finite() || !(0.0..=1.0).contains(&value) {
            return Err(format!(
                "{value} is not a rate: write 0..1 (0.25) or a percentage with % (\"25%\")"
            ));
        }
        Ok(Rate(value))
    }

    /// `0.25` or `25%` (one request in four).
    pub fn parse(text: &str) -> Result<Rate, String> {
        let trimmed = text.trim();
        let (number, percent) = match trimmed.strip_suffix('%') {
            Some(n) => (n.trim(), true),
            None => (trimmed, false),
        };
        let value: f64 = number
            .parse()
            .map_err(|_| format!("`{text}` is not a rate like 0.25 or 25%"))?;
        if !percent {
            return Rate::new(value);
        }
        if !value.is_finite() || !(0.0..=100.0).contains(&value) {
            return Err(format!("`{text}` is not a percentage from 0% to 100%"));
        }
        Rate::new(value / 100.0)
    }

    /// The probability in 0..=1.
    pub fn value(self) -> f64 {
        self.0
    }
}

#[derive(Debug)]
pub(crate) struct RawRate(pub(crate) Result<Rate, String>);

impl<'de> Deserialize<'de> for RawRate {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let rate = match serde_yaml_ng::Value::deserialize(deserializer)? {
            serde_yaml_ng::Value::Number(n) => match n.as_f64() {
                Some(value) => Rate::new(value),
                None => Err("rate is not a number".to_string()),
            },
            serde_yaml_ng::Value::String(s) => Rate::parse(&s),
            _ => return Err(serde::de::Error::custom("expected a rate like 0.25 or 25%")),
        };
        Ok(RawRate(rate))
    }
}
