//! Which invocations an experiment selects: the rate over many invocations, the time window, and
//! an experiment edited in the secret taking effect after a refresh, without a restart.

use crate::emulator::{Emulator, Outcome};
use crate::start_extension;
use crate::support::{LambdaEnv, Moto, Proc};
use std::time::{Duration, Instant};

/// Starts the extension with `config` in a file and the Python runtime behind it.
async fn python_with_config(config: &str) -> (Emulator, LambdaEnv, Proc, Proc) {
    let emulator = Emulator::start().await;
    let mut env = LambdaEnv::new(&emulator.runtime_api());
    env.config_file(config);
    let extension = start_extension(&env, &emulator).await;
    let runtime = env.python(true);
    (emulator, env, extension, runtime)
}

async fn invoke(emulator: &Emulator, extension: &Proc) -> Outcome {
    emulator
        .try_invoke(r#"{"op":"echo"}"#, Duration::from_secs(30))
        .await
        .unwrap_or_else(|| panic!("no answer: {}", extension.log_text()))
}

#[tokio::test]
async fn rate_half_over_400_invocations_is_within_a_binomial_bound() {
    let (emulator, _env, extension, _runtime) = python_with_config(
        "experiments: [{name: coin, flag: ingress, rate: 0.5, effect: {exception: heads}}]",
    )
    .await;
    let mut failed = 0;
    for _ in 0..400 {
        if matches!(invoke(&emulator, &extension).await, Outcome::Error { .. }) {
            failed += 1;
        }
    }
    // n = 400, p = 0.5: mean 200, standard deviation 10. Five deviations either way.
    assert!(
        (150..=250).contains(&failed),
        "{failed} of 400 invocations failed with rate 0.5"
    );
}

#[tokio::test]
async fn expired_and_future_experiments_never_apply() {
    let (emulator, env, extension, _runtime) = python_with_config(
        r#"
experiments:
  - {name: over, flag: ingress, start: "2020-01-01T00:00:00Z", end: "2020-01-02T00:00:00Z", effect: {exception: old}}
  - {name: later, flag: ingress, start: "2099-01-01T00:00:00Z", duration: 1h, effect: {exception: new}}
  - {name: sdk-over, flag: checkout, end: "2020-01-02T00:00:00Z", effect: {latency: 10}}
"#,
    )
    .await;
    for _ in 0..20 {
        let outcome = invoke(&emulator, &extension).await;
        assert!(matches!(outcome, Outcome::Response { .. }), "{outcome:?}");
    }
    // The SDK endpoint does not list them either.
    let port = &env.vars["GREMLIN_SIDECAR_PORT"];
    let answer = crate::sdk_lookup::lookup(port, r#"{"name":"checkout","labels":{}}"#).await;
    assert_eq!(answer, serde_json::json!([]));
    assert!(!extension.log_text().contains("fault-injected"));
}

#[tokio::test]
async fn an_experiment_edited_in_the_secret_applies_after_refresh() {
    let moto = Moto::start().await;
    let arn = moto
        .create_secret("faultline-refresh", "refresh_interval: 1s\n")
        .await;
    let emulator = Emulator::start().await;
    let mut env = LambdaEnv::new(&emulator.runtime_api());
    env.set("GREMLIN_CONFIG_ARN", &arn)
        .set("AWS_ENDPOINT_URL", &moto.endpoint);
    let extension = start_extension(&env, &emulator).await;
    let _runtime = env.python(true);
    let pid = extension.pid();
    assert!(matches!(
        invoke(&emulator, &extension).await,
        Outcome::Response { .. }
    ));
    // The first read is not waited for by the invocation: let it end before the edit.
    assert!(
        extension
            .wait_log("config loaded from", Duration::from_secs(10))
            .await,
        "{}",
        extension.log_text()
    );

    moto.update_secret(
        &arn,
        "refresh_interval: 1s\nexperiments: [{name: late, flag: ingress, effect: {exception: {message: edited, errorType: Edited}}}]\n",
    )
    .await;
    // Once the extension has the new config (the SDK endpoint lists it), the very next event
    // gets it, although the runtime's /next was sent, and waiting, before the edit.
    let port = &env.vars["GREMLIN_SIDECAR_PORT"];
    let deadline = Instant::now() + Duration::from_secs(20);
    while crate::sdk_lookup::lookup(port, r#"{"name":"ingress","labels":{}}"#).await
        == serde_json::json!([])
    {
        assert!(
            Instant::now() < deadline,
            "the edited experiment was never loaded: {}",
            extension.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    match invoke(&emulator, &extension).await {
        Outcome::Error { error_type, .. } => assert_eq!(error_type.as_deref(), Some("Edited")),
        other => panic!("the first event after the edit was not failed: {other:?}"),
    }
    assert_eq!(extension.pid(), pid, "no restart");
    let loads = extension.log_text().matches("config loaded from").count();
    assert!(loads >= 2, "expected a reload: {}", extension.log_text());
}
