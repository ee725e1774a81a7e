//! Faults in traces: with active tracing, each injected fault is sent to the X-Ray daemon as one
//! subsegment named `faultline` under the invocation's trace, so the trace map shows it next to
//! the function's own calls.
//!
//! Lambda gives the daemon's address in `AWS_XRAY_DAEMON_ADDRESS` and each invocation's trace
//! header (`Root=1-…;Parent=…;Sampled=1`) in `Lambda-Runtime-Trace-Id`; the header's `Parent` is
//! the function's segment, which a subsegment sent on its own names as `parent_id`. A document
//! is one UDP datagram (`{"format":"json","version":1}` then the segment), sent without waiting
//! from a non-blocking socket: nothing waits for it, a lost datagram loses one subsegment, and
//! without a daemon address (tracing off) nothing is sent at all. An unsampled trace
//! (`Sampled=0`) gets nothing either: X-Ray would drop it.

use faultline_schema::fault::AppliedEffect;
use serde_json::json;
use std::net::{SocketAddr, UdpSocket};
use std::sync::OnceLock;
use std::time::SystemTime;

/// Where Lambda says the X-Ray daemon listens.
pub const DAEMON_ENV: &str = "AWS_XRAY_DAEMON_ADDRESS";

/// The header line of every segment document sent to the daemon.
const DOCUMENT_HEADER: &str = "{\"format\":\"json\",\"version\":1}\n";

struct Daemon {
    socket: UdpSocket,
    address: SocketAddr,
}

static DAEMON: OnceLock<Option<Daemon>> = OnceLock::new();

/// The UDP address in `AWS_XRAY_DAEMON_ADDRESS`: `host:port`, or `tcp:host:port udp:host:port`
/// (both forms Lambda and the X-Ray SDKs use). Only IP addresses: no lookup is ever made.
fn udp_address(value: &str) -> Option<SocketAddr> {
    let value = value.trim();
    let udp = if value.contains(' ') || value.starts_with("udp:") || value.starts_with("tcp:") {
        value
            .split_whitespace()
            .find_map(|part| part.strip_prefix("udp:"))?
    } else {
        value
    };
    udp.parse().ok()
}

/// Reads the daemon's address once, at start: a bad or missing one means no sending.
pub fn init(value: Option<&str>) {
    let daemon = value.and_then(|value| {
        let Some(address) = udp_address(value) else {
            tracing::warn!("{DAEMON_ENV}={value:?} is no UDP address: faults are not traced");
            return None;
        };
        let bind: SocketAddr = if address.is_ipv4() {
            SocketAddr::from(([0, 0, 0, 0], 0))
        } else {
            SocketAddr::from(([0u16; 8], 0))
        };
        let socket = UdpSocket::bind(bind)
            .and_then(|s| s.set_nonblocking(true).map(|()| s))
            .map_err(|err| tracing::warn!("no socket for X-Ray ({err}): faults are not traced"))
            .ok()?;
        Some(Daemon { socket, address })
    });
    let _ = DAEMON.set(daemon);
}

/// The parts of a trace header a subsegment needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceContext<'a> {
    /// The trace id (`1-5759e988-bd862e3fe1be46a994272793`).
    pub root: &'a str,
    /// The segment the subsegment goes under.
    pub parent: Option<&'a str>,
    pub sampled: bool,
}

/// Reads `Root=…;Parent=…;Sampled=…` (any order; a missing `Sampled` counts as sampled).
pub fn parse(header: &str) -> Option<TraceContext<'_>> {
    let (mut root, mut parent, mut sampled) = (None, None, true);
    for part in header.split(';') {
        let Some((key, value)) = part.split_once('=') else {
            continue;
        };
        match key.trim() {
            "Root" => root = Some(value.trim()),
            "Parent" => parent = Some(value.trim()),
            "Sampled" => sampled = value.trim() != "0",
            _ => {}
        }
    }
    root.filter(|r| !r.is_empty()).map(|root| TraceContext {
        root,
        parent: parent.filter(|p| !p.is_empty()),
        sampled,
    })
}

/// The trace id of a trace header, for the audit line.
pub fn trace_id(header: &str) -> Option<&str> {
    parse(header).map(|context| context.root)
}

fn seconds(at: SystemTime) -> f64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The subsegment document for one fault, spanning `start` to `end`.
pub fn document(
    context: &TraceContext<'_>,
    experiment: &str,
    flag: &str,
    effect: &AppliedEffect,
    start: SystemTime,
    end: SystemTime,
) -> serde_json::Value {
    let mut document = json!({
        "name": "faultline",
        "id": format!("{:016x}", fastrand::u64(..)),
        "trace_id": context.root,
        "parent_id": context.parent,
        "type": "subsegment",
        "start_time": seconds(start),
        "end_time": seconds(end),
        "annotations": {
            "experiment": experiment,
            "flag": flag,
            "effect": effect.kind(),
        },
        "metadata": {"faultline": {"effect": effect}},
    });
    // A failure faultline made: 5xx-like is a fault, 4xx-like an error, as X-Ray colours them.
    match effect.failure_class() {
        Some(500) => document["fault"] = json!(true),
        Some(_) => document["error"] = json!(true),
        None => {}
    }
    document
}

/// Sends the subsegment for one fault of the invocation whose trace header is `header`, when
/// tracing is on and the trace sampled. Never waits and never fails the caller.
pub fn send(
    header: Option<&str>,
    experiment: &str,
    flag: &str,
    effect: &AppliedEffect,
    start: SystemTime,
    end: SystemTime,
) {
    let Some(Some(daemon)) = DAEMON.get() else {
        return;
    };
    let Some(context) = header.and_then(parse) else {
        return;
    };
    if !context.sampled || context.parent.is_none() {
        return;
    }
    let text = format!(
        "{DOCUMENT_HEADER}{}",
        document(&context, experiment, flag, effect, start, end)
    );
    if let Err(err) = daemon.socket.send_to(text.as_bytes(), daemon.address) {
        tracing::debug!("X-Ray subsegment not sent: {err}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn daemon_addresses_are_read_in_both_forms() {
        assert_eq!(
            udp_address("169.254.79.129:2000"),
            Some(SocketAddr::from(([169, 254, 79, 129], 2000)))
        );
        assert_eq!(
            udp_address("tcp:127.0.0.1:2000 udp:127.0.0.1:2001"),
            Some(SocketAddr::from(([127, 0, 0, 1], 2001)))
        );
        assert_eq!(udp_address("tcp:127.0.0.1:2000"), None);
        assert_eq!(udp_address("xray.local:2000"), None);
    }

    #[test]
    fn trace_headers_give_root_parent_and_sampling() {
        let header = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
        assert_eq!(
            parse(header),
            Some(TraceContext {
                root: "1-5759e988-bd862e3fe1be46a994272793",
                parent: Some("53995c3f42cd8ad8"),
                sampled: true
            })
        );
        assert!(!parse("Root=1-a-b;Sampled=0").expect("a root").sampled);
        assert_eq!(parse("Parent=1;Sampled=1"), None);
        assert_eq!(
            trace_id(header),
            Some("1-5759e988-bd862e3fe1be46a994272793")
        );
    }

    #[test]
    fn a_document_is_a_subsegment_under_the_functions_segment() {
        let context = parse("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8")
            .expect("a context");
        let start = SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(1_700_000_000_250);
        let end = start + std::time::Duration::from_millis(300);
        let doc = document(
            &context,
            "slow",
            "ingress",
            &AppliedEffect::Latency { ms: 300 },
            start,
            end,
        );
        assert_eq!(doc["type"], "subsegment");
        assert_eq!(doc["parent_id"], "53995c3f42cd8ad8");
        assert_eq!(doc["annotations"]["effect"], "latency");
        assert!((doc["end_time"].as_f64().unwrap_or(0.0) - 1_700_000_000.55).abs() < 1e-6);
        assert_eq!(doc["id"].as_str().map(str::len), Some(16));
        assert!(doc.get("fault").is_none());
        let failed = document(
            &context,
            "down",
            "ingress",
            &AppliedEffect::Exception {
                message: "m".into(),
                error_type: "T".into(),
            },
            start,
            start,
        );
        assert_eq!(failed["fault"], true);
    }
}
