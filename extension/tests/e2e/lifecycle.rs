//! The extension's lifecycle and the wrapper's fail-open rules.

use crate::emulator::Emulator;
use crate::start_extension;
use crate::support::LambdaEnv;
use std::time::Duration;

async fn runtime_api_seen(env: &LambdaEnv, emulator: &Emulator) -> String {
    let runtime = env.python(true);
    let outcome = emulator
        .try_invoke(r#"{"op":"env"}"#, Duration::from_secs(30))
        .await
        .unwrap_or_else(|| panic!("no answer: {}", runtime.log_text()));
    outcome.json()["runtime_api"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn listener_is_bound_before_registration_and_shutdown_exits_zero() {
    let emulator = Emulator::start().await;
    let env = LambdaEnv::new(&emulator.runtime_api());
    let mut extension = start_extension(&env, &emulator).await;

    let registration = emulator.registrations().pop().expect("registered");
    assert_eq!(
        registration.name, "faultline",
        "registered under its file name"
    );
    assert_eq!(
        registration.events,
        serde_json::json!({"events": ["SHUTDOWN"]})
    );
    let ready = registration
        .ready_file
        .expect("ready file written before register");
    let pid = extension.pid().to_string();
    assert_eq!(
        ready.split_whitespace().nth(1),
        Some(pid.as_str()),
        "RUNTIME PID DEPENDENCY SDK: {ready}"
    );
    assert_eq!(ready.split_whitespace().count(), 4, "{ready}");
    assert!(
        registration.proxy_listening,
        "proxy accepted connections before register"
    );

    let api = runtime_api_seen(&env, &emulator).await;
    assert_eq!(Some(api.as_str()), ready.split_whitespace().next());

    emulator.shutdown_extensions();
    let status = extension
        .wait_exit(Duration::from_secs(2))
        .await
        .expect("exited within the 2 s SHUTDOWN budget");
    assert!(status.success(), "{status:?}: {}", extension.log_text());
    assert!(!env.ready_file().exists(), "ready file removed at shutdown");
}

#[tokio::test]
async fn disabled_extension_registers_and_leaves_the_runtime_alone() {
    let emulator = Emulator::start().await;
    let mut env = LambdaEnv::new(&emulator.runtime_api());
    env.set("GREMLIN_LAMBDA_ENABLED", "false");
    let mut extension = start_extension(&env, &emulator).await;
    assert!(!env.ready_file().exists());
    assert_eq!(
        runtime_api_seen(&env, &emulator).await,
        emulator.runtime_api()
    );
    assert!(extension.log_text().contains("stays idle"));
    emulator.shutdown_extensions();
    let status = extension.wait_exit(Duration::from_secs(2)).await;
    assert!(status.is_some_and(|s| s.success()));
}

#[tokio::test]
async fn wrapper_runs_the_runtime_directly_without_a_live_extension() {
    let emulator = Emulator::start().await;
    let env = LambdaEnv::new(&emulator.runtime_api());

    // No extension at all (layer without it, or it failed to start).
    assert_eq!(
        runtime_api_seen(&env, &emulator).await,
        emulator.runtime_api()
    );

    // A ready file left by an extension that has since died.
    let mut extension = start_extension(&env, &emulator).await;
    assert!(env.ready_file().exists());
    extension.kill().await;
    let _ = extension.wait_exit(Duration::from_secs(2)).await;
    assert!(
        env.ready_file().exists(),
        "a killed process leaves its file"
    );
    assert_eq!(
        runtime_api_seen(&env, &emulator).await,
        emulator.runtime_api()
    );
}

#[tokio::test]
async fn wrapper_chains_a_previous_wrapper() {
    let emulator = Emulator::start().await;
    let mut env = LambdaEnv::new(&emulator.runtime_api());
    let marker = env.dir.path().join("next-wrapper-ran");
    let next = env.dir.path().join("next-wrapper");
    std::fs::write(
        &next,
        format!(
            "#!/bin/sh\necho \"$AWS_LAMBDA_RUNTIME_API\" > '{}'\nexec \"$@\"\n",
            marker.display()
        ),
    )
    .expect("write next wrapper");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&next, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    env.set("FAULTLINE_NEXT_WRAPPER", next.to_string_lossy());
    let _extension = start_extension(&env, &emulator).await;
    let api = runtime_api_seen(&env, &emulator).await;
    let seen_by_next = std::fs::read_to_string(&marker).expect("next wrapper ran");
    assert_eq!(
        seen_by_next.trim(),
        api,
        "the next wrapper sees the proxy address"
    );
    assert_ne!(api, emulator.runtime_api());
}

#[tokio::test]
async fn a_busy_proxy_port_leaves_the_function_untouched() {
    let emulator = Emulator::start().await;
    let mut env = LambdaEnv::new(&emulator.runtime_api());
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    env.set("GREMLIN_LAMBDA_API_PROXY_PORT", format!("127.0.0.1:{port}"));
    let extension = start_extension(&env, &emulator).await;
    let ready = std::fs::read_to_string(env.ready_file()).unwrap_or_default();
    assert_eq!(
        ready.split_whitespace().next(),
        Some("-"),
        "the ready file says the Runtime API proxy is not up: {ready}"
    );
    assert!(
        extension.log_text().contains("cannot listen on"),
        "{}",
        extension.log_text()
    );
    assert_eq!(
        runtime_api_seen(&env, &emulator).await,
        emulator.runtime_api()
    );
}

/// OS-only runtimes ignore AWS_LAMBDA_EXEC_WRAPPER; the README's one-line bootstrap change routes
/// them through the wrapper. Same line as the README, with the wrapper's path in this checkout.
#[tokio::test]
async fn custom_runtime_bootstrap_line_goes_through_the_wrapper() {
    let emulator = Emulator::start().await;
    let env = LambdaEnv::new(&emulator.runtime_api());
    let bootstrap = env.dir.path().join("bootstrap");
    let wrapper = crate::support::wrapper();
    std::fs::write(
        &bootstrap,
        format!(
            "#!/bin/sh\n\
             if [ -z \"$FAULTLINE_WRAPPED\" ] && [ -x {w} ]; then export FAULTLINE_WRAPPED=1; exec {w} \"$0\" \"$@\"; fi\n\
             exec '{f}'\n",
            w = wrapper.display(),
            f = crate::support::rust_function_bin().display()
        ),
    )
    .expect("write bootstrap");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&bootstrap, std::fs::Permissions::from_mode(0o755)).expect("chmod");

    let _extension = start_extension(&env, &emulator).await;
    let ready = std::fs::read_to_string(env.ready_file()).expect("ready file");
    let runtime = env.runtime(false, &bootstrap, &[]);
    let outcome = emulator
        .try_invoke(r#"{"op":"env"}"#, Duration::from_secs(30))
        .await
        .unwrap_or_else(|| panic!("no answer: {}", runtime.log_text()));
    assert_eq!(
        outcome.json()["runtime_api"].as_str(),
        ready.split_whitespace().next(),
        "the custom runtime talks to the proxy"
    );
}

/// The AWS SDK endpoint variables that send AWS calls through faultline's TLS origination
/// (`http://<AWS endpoint>:443`) reach the runtime only while faultline's dependency proxy is
/// live: otherwise the wrapper unsets them and the SDK calls AWS over HTTPS itself (such a value
/// names plain HTTP on a TLS port). Other endpoint values are the function's own and stay.
#[tokio::test]
async fn origination_endpoints_reach_the_runtime_only_with_a_live_dependency_proxy() {
    let endpoints = |env: &mut LambdaEnv| {
        env.set(
            "AWS_ENDPOINT_URL_DYNAMODB",
            "http://dynamodb.us-east-1.amazonaws.com:443",
        )
        .set(
            "AWS_ENDPOINT_URL_S3",
            "http://s3.us-east-1.amazonaws.com:443/",
        )
        .set("AWS_ENDPOINT_URL_SQS", "http://localhost:4566")
        .set(
            "AWS_ENDPOINT_URL",
            "https://vpce-1.execute-api.us-east-1.vpce.amazonaws.com",
        )
        // A Node.js runtime, as Lambda names it: the wrapper then preloads faultline's agent
        // patch for the JavaScript SDK, only while it keeps the origination endpoints.
        .set("AWS_EXECUTION_ENV", "AWS_Lambda_nodejs24.x")
        .set("NODE_OPTIONS", "--max-old-space-size=100")
        // A third-party API's URL as `deployer enable --tls-origination-env` rewrote it.
        .set("PAYMENTS_URL", "http://api.payments.test:443/v1?k=1")
        .set("FAULTLINE_TLS_ORIGINATION_ENV", "PAYMENTS_URL");
    };
    let seen = async |env: &LambdaEnv, emulator: &Emulator| {
        let runtime = env.python(true);
        let outcome = emulator
            .try_invoke(r#"{"op":"env","endpoints":true}"#, Duration::from_secs(30))
            .await
            .unwrap_or_else(|| panic!("no answer: {}", runtime.log_text()));
        let answer = outcome.json();
        (
            answer["endpoints"].clone(),
            answer["node_options"].clone(),
            answer["payments_url"].clone(),
        )
    };
    let kept = serde_json::json!({
        "AWS_ENDPOINT_URL_SQS": "http://localhost:4566",
        "AWS_ENDPOINT_URL": "https://vpce-1.execute-api.us-east-1.vpce.amazonaws.com",
    });

    // Live: everything reaches the runtime.
    let emulator = Emulator::start().await;
    let mut env = LambdaEnv::new(&emulator.runtime_api());
    endpoints(&mut env);
    let _extension = start_extension(&env, &emulator).await;
    let (live, node_options, payments) = seen(&env, &emulator).await;
    assert_eq!(payments, "http://api.payments.test:443/v1?k=1");
    assert_eq!(
        live["AWS_ENDPOINT_URL_DYNAMODB"],
        "http://dynamodb.us-east-1.amazonaws.com:443"
    );
    assert_eq!(live.as_object().map(|o| o.len()), Some(4), "{live}");
    let preload = crate::support::wrapper().with_file_name("faultline-node-proxy.cjs");
    assert_eq!(
        node_options,
        format!("--max-old-space-size=100 --require {}", preload.display()),
        "the function's own options kept, the preload added"
    );

    // Disabled, or no extension at all: the origination endpoints are gone, the others stay.
    let emulator = Emulator::start().await;
    let mut env = LambdaEnv::new(&emulator.runtime_api());
    endpoints(&mut env);
    env.set("GREMLIN_LAMBDA_ENABLED", "false");
    let _extension = start_extension(&env, &emulator).await;
    let own_options = serde_json::json!("--max-old-space-size=100");
    // The rewritten URL goes back to https.
    let given_back = serde_json::json!("https://api.payments.test/v1?k=1");
    assert_eq!(
        seen(&env, &emulator).await,
        (kept.clone(), own_options.clone(), given_back.clone())
    );

    let emulator = Emulator::start().await;
    let mut env = LambdaEnv::new(&emulator.runtime_api());
    endpoints(&mut env);
    assert_eq!(seen(&env, &emulator).await, (kept, own_options, given_back));
}
