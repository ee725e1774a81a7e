//! Invisible until asked: in every idle state the function's outbound calls behave exactly as
//! without faultline. `deployer enable` (and every template) points HTTP_PROXY/HTTPS_PROXY at the
//! dependency proxy; when faultline is disabled, its settings are bad, its port is taken or its
//! extension never started, the wrapper gives the runtime its own proxy settings back, and a
//! runtime that ignores the wrapper still finds a pass-through dependency proxy.
//!
//! A Python handler (awslambdaric, through the wrapper) calls a local HTTP server and a local
//! HTTPS server through the proxy variables, upper case and lower case; its answer must equal
//! the answer of the same handler run without the layer.

use crate::dependency_proxy::{certificate, https_upstream};
use crate::emulator::Emulator;
use crate::start_extension;
use crate::support::{LambdaEnv, Proc, free_port, functions_dir, venv_bin};
use serde_json::{Value, json};
use std::time::Duration;
use tokio::process::Command;

/// The two local servers the handler calls.
struct Upstreams {
    event: String,
    _http: Proc,
    _https: Proc,
    _dir: tempfile::TempDir,
}

async fn upstreams() -> Upstreams {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert, key) = certificate(dir.path());
    let https_port = free_port();
    let https = https_upstream(https_port, &cert, &key).await;
    let http_port = free_port();
    let mut command = Command::new(venv_bin("python"));
    command
        .arg(functions_dir().join("https_server.py"))
        .arg(http_port.to_string());
    let http = Proc::spawn(command);
    http.wait_port(http_port, "http server").await;
    let event = json!({
        "op": "outbound",
        "urls": [
            format!("http://127.0.0.1:{http_port}/plain"),
            format!("https://localhost:{https_port}/tls"),
        ],
        "cafile": cert,
    })
    .to_string();
    Upstreams {
        event,
        _http: http,
        _https: https,
        _dir: dir,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Idle {
    /// GREMLIN_LAMBDA_ENABLED=false.
    Disabled,
    /// GREMLIN_CONFIG_ARN that is no ARN.
    MalformedConfigArn,
    /// FAULTLINE_RUNTIME_API_UPSTREAM that is no address.
    BadRuntimeApiUpstream,
    /// The dependency proxy's port is held by another process.
    PortTaken,
    /// The layer's extension never started (or died before registering).
    NoExtension,
    /// Disabled, and a runtime that ignores AWS_LAMBDA_EXEC_WRAPPER (the variables stay on
    /// faultline): the idle extension's pass-through proxy carries the calls.
    DisabledWithoutWrapper,
}

/// The handler's answer with the runtime talking to Lambda directly and no proxy variables.
async fn without_layer(up: &Upstreams) -> Value {
    let emulator = Emulator::start().await;
    let env = LambdaEnv::new(&emulator.runtime_api());
    let runtime = env.python(false);
    answer(&emulator, &runtime, &up.event).await
}

async fn answer(emulator: &Emulator, runtime: &Proc, event: &str) -> Value {
    emulator
        .try_invoke(event.to_string(), Duration::from_secs(60))
        .await
        .unwrap_or_else(|| panic!("no answer: {}", runtime.log_text()))
        .json()
}

async fn in_idle_state(state: Idle, lower_case: bool, up: &Upstreams) -> (Value, String) {
    let emulator = Emulator::start().await;
    let mut env = LambdaEnv::new(&emulator.runtime_api());
    let proxy = env.dependency_proxy_url();
    let (http_var, https_var) = if lower_case {
        ("http_proxy", "https_proxy")
    } else {
        ("HTTP_PROXY", "HTTPS_PROXY")
    };
    // As `deployer enable` sets them, with NO_PROXY left empty so that loopback goes through
    // the proxy too (enable adds localhost; the test servers stand in for remote hosts).
    env.set(http_var, proxy.clone()).set(https_var, proxy);
    env.set("NO_PROXY", "").set("no_proxy", "");
    let mut _port_holder = None;
    match state {
        Idle::Disabled | Idle::DisabledWithoutWrapper => {
            env.set("GREMLIN_LAMBDA_ENABLED", "false");
        }
        Idle::MalformedConfigArn => {
            env.set("GREMLIN_CONFIG_ARN", "faultline-config");
        }
        Idle::BadRuntimeApiUpstream => {
            env.set("FAULTLINE_RUNTIME_API_UPSTREAM", "http://");
        }
        Idle::PortTaken => {
            // Accepts connections and never answers: a call that still went there would hang.
            let addr = env.vars["FAULTLINE_DEPENDENCY_PROXY_PORT"].clone();
            _port_holder = Some(std::net::TcpListener::bind(&addr).expect("hold the port"));
        }
        Idle::NoExtension => {}
    }
    let extension = match state {
        Idle::NoExtension => None,
        _ => Some(start_extension(&env, &emulator).await),
    };
    let wrapped = state != Idle::DisabledWithoutWrapper;
    let runtime = env.python(wrapped);
    let answer = answer(&emulator, &runtime, &up.event).await;
    if state == Idle::Disabled {
        // The idle SDK endpoint answers every lookup with no experiment.
        let port = &env.vars["GREMLIN_SIDECAR_PORT"];
        let output = Command::new("curl")
            .args(["-sS", "--max-time", "5", "-X", "POST", "--data"])
            .arg(r#"{"name":"checkout","labels":{}}"#)
            .arg(format!("http://127.0.0.1:{port}/experiment"))
            .output()
            .await
            .expect("run curl");
        assert_eq!(String::from_utf8_lossy(&output.stdout), "[]");
    }
    let log = extension.map(|e| e.log_text()).unwrap_or_default();
    (answer, log)
}

#[tokio::test]
async fn outbound_calls_behave_as_without_the_layer_in_every_idle_state() {
    let up = upstreams().await;
    let expected = without_layer(&up).await;
    assert_eq!(
        expected["results"],
        json!([
            {"status": 200, "body": "hello over http /plain"},
            {"status": 200, "body": "hello over tls /tls"},
        ]),
        "the baseline itself"
    );
    for state in [
        Idle::Disabled,
        Idle::MalformedConfigArn,
        Idle::BadRuntimeApiUpstream,
        Idle::PortTaken,
        Idle::NoExtension,
        Idle::DisabledWithoutWrapper,
    ] {
        for lower_case in [false, true] {
            let (answer, log) = in_idle_state(state, lower_case, &up).await;
            assert_eq!(
                answer, expected,
                "{state:?}, lower-case variables: {lower_case}\nextension log:\n{log}"
            );
            if matches!(
                state,
                Idle::MalformedConfigArn | Idle::BadRuntimeApiUpstream
            ) {
                assert!(log.contains("stays idle"), "{state:?}: {log}");
            }
        }
    }
}
