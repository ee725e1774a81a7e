//! Fail-open cases beyond those of config_loading (secret missing, access denied, malformed YAML,
//! Secrets Manager slower than request_timeout) and lifecycle (proxy port in use, no live
//! extension): the Runtime API resetting the proxy's upstream connection, the extension killed
//! mid-invocation, and a second Runtime API proxy chained in front of faultline. Each compares
//! the function's output with a run without faultline, and nothing may hang.

use crate::emulator::{Emulator, Outcome};
use crate::start_extension;
use crate::support::LambdaEnv;
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const TIMEOUT: Duration = Duration::from_secs(20);
const CALLS: [&str; 3] = [
    r#"{"op":"echo","hello":"world"}"#,
    r#"{"op":"fail"}"#,
    r#"{"op":"big","bytes":100000}"#,
];

/// The answers of CALLS with the runtime talking to the emulator directly.
async fn without_faultline() -> Vec<Outcome> {
    let emulator = Emulator::start().await;
    let env = LambdaEnv::new(&emulator.runtime_api());
    let _runtime = env.python(false);
    let mut outcomes = Vec::new();
    for call in CALLS {
        outcomes.push(emulator.invoke(call).await);
    }
    outcomes
}

/// What a caller of the function sees, without the request id (each invocation has its own).
fn seen(outcome: Option<&Outcome>) -> Option<serde_json::Value> {
    outcome.map(|o| match o {
        Outcome::Response { .. } => json!({"response": o.json()}),
        Outcome::Error { error_type, .. } => json!({
            "error": error_type,
            "errorType": o.json()["errorType"],
            "errorMessage": o.json()["errorMessage"],
        }),
    })
}

/// A TCP relay in front of the emulator that resets chosen GET requests instead of forwarding
/// them: the connection is closed with RST as the request arrives, as a Runtime API dropping a
/// keep-alive connection just as it is reused does. The emulator never sees those requests.
struct Relay {
    addr: String,
    resets: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Relay {
    /// `reset_gets`: which GET requests (0 = the first the relay carries) to reset.
    async fn start(upstream: String, reset_gets: &'static [usize]) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind relay");
        let addr = listener.local_addr().expect("relay address").to_string();
        let gets = Arc::new(AtomicUsize::new(0));
        let resets = Arc::new(AtomicUsize::new(0));
        let resets_seen = Arc::clone(&resets);
        let task = tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                // SO_LINGER 0: closing this side sends RST.
                #[allow(deprecated)]
                let _ = inbound.set_linger(Some(Duration::ZERO));
                let Ok(outbound) = TcpStream::connect(&upstream).await else {
                    continue;
                };
                let (gets, resets) = (Arc::clone(&gets), Arc::clone(&resets_seen));
                tokio::spawn(async move {
                    let (mut in_read, mut in_write) = inbound.into_split();
                    let (mut out_read, mut out_write) = outbound.into_split();
                    let up = async {
                        let mut buffer = vec![0u8; 64 * 1024];
                        loop {
                            let n = match in_read.read(&mut buffer).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => n,
                            };
                            if buffer[..n].starts_with(b"GET ")
                                && reset_gets.contains(&gets.fetch_add(1, Ordering::SeqCst))
                            {
                                resets.fetch_add(1, Ordering::SeqCst);
                                return;
                            }
                            if out_write.write_all(&buffer[..n]).await.is_err() {
                                return;
                            }
                        }
                    };
                    let down = tokio::io::copy(&mut out_read, &mut in_write);
                    // Whichever side ends first ends the connection (with RST towards the proxy).
                    tokio::select! {
                        () = up => {}
                        _ = down => {}
                    }
                });
            }
        });
        Relay { addr, resets, task }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[tokio::test]
async fn a_reset_upstream_connection_is_invisible_to_the_runtime() {
    let expected = without_faultline().await;
    let emulator = Emulator::start().await;
    // GET 0 is the runtime's first /next; the /next after the first answer is reset twice in a
    // row (a new connection is reset too), and the one after the third answer once.
    let relay = Relay::start(emulator.runtime_api(), &[1, 2, 5]).await;
    let mut env = LambdaEnv::new(&emulator.runtime_api());
    env.set("FAULTLINE_RUNTIME_API_UPSTREAM", relay.addr.clone());
    let extension = start_extension(&env, &emulator).await;
    let runtime = env.python(true);
    for round in 0..2 {
        for (call, wanted) in CALLS.iter().zip(&expected) {
            let outcome = emulator.try_invoke(*call, TIMEOUT).await;
            assert_eq!(
                seen(outcome.as_ref()),
                seen(Some(wanted)),
                "round {round}: {}\n{}",
                extension.log_text(),
                runtime.log_text()
            );
        }
    }
    assert_eq!(
        relay.resets.load(Ordering::SeqCst),
        3,
        "every chosen GET was reset"
    );
    assert!(
        extension
            .log_text()
            .contains("retrying on a new connection"),
        "{}",
        extension.log_text()
    );
}

#[tokio::test]
async fn a_killed_extension_leaves_no_hang_and_the_next_start_runs_without_it() {
    let expected = without_faultline().await;
    let emulator = Emulator::start().await;
    let env = LambdaEnv::new(&emulator.runtime_api());
    let mut extension = start_extension(&env, &emulator).await;
    let mut runtime = env.python(true);
    assert_eq!(emulator.invoke(CALLS[0]).await, expected[0]);

    // Killed while the handler runs: the runtime cannot post its answer. Lambda answers such an
    // invocation with an error and starts a new environment; here, the runtime must not hang.
    let in_flight = {
        let payload = r#"{"op":"sleep","ms":800}"#;
        emulator.try_invoke(payload, Duration::from_secs(5))
    };
    let killer = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        extension.kill().await;
    };
    let (lost, ()) = tokio::join!(in_flight, killer);
    assert!(lost.is_none(), "the answer could not have been delivered");
    assert!(
        runtime.wait_exit(Duration::from_secs(10)).await.is_some(),
        "the runtime hung after the extension died: {}",
        runtime.log_text()
    );

    // The next start of the runtime: the wrapper sees a dead extension and runs it directly.
    let restarted = env.python(true);
    for (call, wanted) in CALLS.iter().zip(&expected) {
        let outcome = emulator.try_invoke(*call, TIMEOUT).await;
        assert_eq!(
            seen(outcome.as_ref()),
            seen(Some(wanted)),
            "{}",
            restarted.log_text()
        );
    }
    let seen = emulator.invoke(r#"{"op":"env"}"#).await;
    assert_eq!(
        seen.json(),
        json!({"runtime_api": emulator.runtime_api()}),
        "the restarted runtime talks to Lambda directly"
    );
}

#[tokio::test]
async fn a_second_proxy_extension_chained_in_front_changes_nothing() {
    let expected = without_faultline().await;
    let emulator = Emulator::start().await;
    // The inner proxy talks to Lambda; the outer one (another Runtime API proxy extension, here a
    // second faultline) talks to the inner one; the runtime talks to the outer one.
    let inner_env = LambdaEnv::new(&emulator.runtime_api());
    let inner = start_extension(&inner_env, &emulator).await;
    let inner_addr = std::fs::read_to_string(inner_env.ready_file())
        .expect("inner ready file")
        .split_whitespace()
        .next()
        .expect("inner address")
        .to_string();
    let mut outer_env = LambdaEnv::new(&emulator.runtime_api());
    outer_env.set("FAULTLINE_RUNTIME_API_UPSTREAM", inner_addr.clone());
    let outer = start_extension(&outer_env, &emulator).await;
    let runtime = outer_env.python(true);
    for (call, wanted) in CALLS.iter().zip(&expected) {
        let outcome = emulator.try_invoke(*call, TIMEOUT).await;
        assert_eq!(
            seen(outcome.as_ref()),
            seen(Some(wanted)),
            "{}\n{}\n{}",
            outer.log_text(),
            inner.log_text(),
            runtime.log_text()
        );
    }
    let seen = emulator.invoke(r#"{"op":"env"}"#).await.json();
    let outer_addr = std::fs::read_to_string(outer_env.ready_file()).expect("outer ready file");
    assert_eq!(
        seen["runtime_api"].as_str(),
        outer_addr.split_whitespace().next(),
        "the runtime talks to the outer proxy"
    );
    assert_ne!(seen["runtime_api"].as_str(), Some(inner_addr.as_str()));
}
