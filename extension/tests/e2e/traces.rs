//! Faults in traces: with AWS_XRAY_DAEMON_ADDRESS set (active tracing), each injected fault is
//! one X-Ray subsegment document sent over UDP to the daemon, under the invocation's trace
//! (Lambda-Runtime-Trace-Id, which the emulator makes per invocation as Lambda does). A UDP
//! listener plays the daemon.

use crate::emulator::Emulator;
use crate::start_extension;
use crate::support::LambdaEnv;
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;

/// The daemon: every datagram received.
async fn daemon() -> (UdpSocket, String) {
    let socket = UdpSocket::bind("127.0.0.1:0").await.expect("udp");
    let address = socket.local_addr().expect("address").to_string();
    (socket, address)
}

/// The segment documents received within `within` (each datagram: the header line, then one
/// document).
async fn documents(socket: &UdpSocket, within: Duration) -> Vec<serde_json::Value> {
    let mut found = Vec::new();
    let deadline = Instant::now() + within;
    let mut buf = vec![0u8; 65_536];
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        let Ok(Ok(n)) = tokio::time::timeout(left, socket.recv(&mut buf)).await else {
            break;
        };
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        let (header, document) = text.split_once('\n').expect("a header line");
        assert_eq!(header, r#"{"format":"json","version":1}"#);
        found.push(serde_json::from_str(document).expect("a JSON document"));
    }
    found
}

/// The parts of a trace header.
fn part<'a>(header: &'a str, key: &str) -> &'a str {
    header
        .split(';')
        .find_map(|p| p.strip_prefix(&format!("{key}=")))
        .unwrap_or_default()
}

#[tokio::test]
async fn each_injected_fault_is_a_subsegment_under_the_invocations_trace() {
    let (socket, address) = daemon().await;
    let emulator = Emulator::start().await;
    let mut env = LambdaEnv::new(&emulator.runtime_api());
    env.config_file(
        "experiments:
  - {name: slow-start, flag: ingress, effect: {latency: 300}}
  - {name: teapot, flag: dependency-127.0.0.1, effect: {httpResponse: {code: 418}}}
",
    )
    .set("AWS_XRAY_DAEMON_ADDRESS", &address);
    let proxy = env.dependency_proxy_url();
    env.set("HTTP_PROXY", proxy.clone())
        .set("NO_PROXY", "")
        .set("no_proxy", "");
    let extension = start_extension(&env, &emulator).await;
    let _runtime = env.python(true);
    let outcome = emulator
        .try_invoke(
            r#"{"op":"outbound","urls":["http://127.0.0.1:9/anything"]}"#,
            Duration::from_secs(30),
        )
        .await
        .unwrap_or_else(|| panic!("no answer: {}", extension.log_text()));
    assert_eq!(
        outcome.json()["results"][0]["status"],
        418,
        "{}",
        extension.log_text()
    );
    let header = emulator
        .trace_headers()
        .pop()
        .expect("a trace header was sent");
    let found = documents(&socket, Duration::from_secs(2)).await;
    assert_eq!(found.len(), 2, "{found:?}");
    for document in &found {
        assert_eq!(document["name"], "faultline");
        assert_eq!(document["type"], "subsegment");
        assert_eq!(document["trace_id"], part(&header, "Root"));
        assert_eq!(document["parent_id"], part(&header, "Parent"));
        assert_eq!(document["id"].as_str().map(str::len), Some(16));
    }
    let latency = found
        .iter()
        .find(|d| d["annotations"]["effect"] == "latency")
        .expect("the latency");
    assert_eq!(latency["annotations"]["experiment"], "slow-start");
    assert_eq!(latency["annotations"]["flag"], "ingress");
    let spanned =
        latency["end_time"].as_f64().unwrap_or(0.0) - latency["start_time"].as_f64().unwrap_or(0.0);
    assert!((0.29..0.35).contains(&spanned), "{latency}");
    let teapot = found
        .iter()
        .find(|d| d["annotations"]["effect"] == "httpResponse")
        .expect("the forged answer");
    assert_eq!(teapot["annotations"]["flag"], "dependency-127.0.0.1");
    assert_eq!(teapot["error"], true, "a 4xx is an error in X-Ray's terms");
    // The audit lines carry the trace id too.
    let audited: Vec<String> = extension
        .logs()
        .into_iter()
        .filter(|l| l.contains("\"fault-injected\""))
        .collect();
    assert_eq!(audited.len(), 2);
    for line in audited {
        assert!(
            line.contains(&format!("\"traceId\":\"{}\"", part(&header, "Root"))),
            "{line}"
        );
    }
}

#[tokio::test]
async fn an_unsampled_trace_or_no_daemon_gets_nothing_and_waits_for_nothing() {
    let (socket, address) = daemon().await;
    for (daemon_set, sampled) in [(true, false), (false, true)] {
        let emulator = Emulator::start().await;
        emulator.set_sampled(sampled);
        let mut env = LambdaEnv::new(&emulator.runtime_api());
        env.config_file(
            "experiments:\n  - {name: slow-start, flag: ingress, effect: {latency: 100}}\n",
        );
        if daemon_set {
            env.set("AWS_XRAY_DAEMON_ADDRESS", &address);
        }
        let extension = start_extension(&env, &emulator).await;
        let _runtime = env.python(true);
        emulator
            .try_invoke(r#"{"op":"echo"}"#, Duration::from_secs(30))
            .await
            .unwrap_or_else(|| panic!("no answer: {}", extension.log_text()));
        assert!(
            documents(&socket, Duration::from_millis(700))
                .await
                .is_empty(),
            "daemon {daemon_set}, sampled {sampled}"
        );
    }
}
