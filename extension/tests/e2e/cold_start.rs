//! Cold-start faults (flag `init`) through the real extension, wrapper and awslambdaric, with the
//! config in Secrets Manager (moto server): a slow INIT, an INIT that fails, and no wait at all
//! without the opt-in (FAULTLINE_INIT_FAULTS).

use crate::emulator::{Emulator, Outcome};
use crate::start_extension;
use crate::support::{LambdaEnv, Moto, invoke_or_show};
use serde_json::Value;
use std::time::Duration;

const SLOW_COLD_START: &str = "experiments:
  - name: slow-cold-start
    flag: init
    effect: {latency: 800}
";

const CRASHING_COLD_START: &str = "experiments:
  - name: crashing-cold-start
    flag: init
    effect: {exception: {message: cold start crashed on purpose, errorType: ColdStartCrash}}
";

/// An environment reading `config` from a secret in moto, opted in to cold-start faults or not.
async fn environment(moto: &Moto, emulator: &Emulator, config: &str, opt_in: bool) -> LambdaEnv {
    let arn = moto.create_secret("faultline-config", config).await;
    let mut env = LambdaEnv::new(&emulator.runtime_api());
    env.set("GREMLIN_CONFIG_ARN", arn)
        .set("AWS_ENDPOINT_URL", &moto.endpoint);
    if opt_in {
        env.set("FAULTLINE_INIT_FAULTS", "true");
    }
    env
}

fn init_audit_lines(logs: &[String]) -> Vec<Value> {
    logs.iter()
        .filter(|line| line.contains("\"fault-injected\""))
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line["flag"] == "init")
        .collect()
}

#[tokio::test]
async fn an_init_latency_delays_the_end_of_init_by_its_length() {
    let moto = Moto::start().await;
    let emulator = Emulator::start().await;
    let env = environment(&moto, &emulator, SLOW_COLD_START, true).await;
    let extension = start_extension(&env, &emulator).await;
    let runtime = env.python(true);
    let outcome = invoke_or_show(
        &emulator,
        &runtime,
        &extension,
        r#"{"op":"echo","first":true}"#.into(),
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(
        outcome.json(),
        serde_json::json!({"op":"echo","first":true})
    );
    let name = emulator.registrations()[0].name.clone();
    let held = emulator.extension_init_time(&name).expect("asked");
    assert!(
        held >= Duration::from_millis(800),
        "the extension asked for its next event {held:?} after registering"
    );
    let registered = emulator.registrations()[0].at;
    let ended = emulator.init_ended().expect("INIT ended");
    assert!(ended.duration_since(registered) >= Duration::from_millis(800));
    let audit = init_audit_lines(&extension.logs());
    assert_eq!(audit.len(), 1, "{}", extension.log_text());
    assert_eq!(audit[0]["experiment"], "slow-cold-start");
    assert_eq!(audit[0]["effect"]["ms"], 800);
}

#[tokio::test]
async fn an_init_exception_fails_the_init_through_the_extensions_api() {
    let moto = Moto::start().await;
    let emulator = Emulator::start().await;
    let env = environment(&moto, &emulator, CRASHING_COLD_START, true).await;
    let mut extension = start_extension(&env, &emulator).await;
    let _runtime = env.python(true);
    let outcome = emulator
        .try_invoke(r#"{"op":"echo"}"#, Duration::from_secs(30))
        .await
        .unwrap_or_else(|| panic!("no outcome: {}", extension.log_text()));
    let Outcome::Error { error_type, body } = &outcome else {
        panic!("the invocation ran: {outcome:?}\n{}", extension.log_text());
    };
    assert_eq!(error_type.as_deref(), Some("Extension.ColdStartCrash"));
    assert!(String::from_utf8_lossy(body).contains("cold start crashed on purpose"));
    assert_eq!(
        emulator.init_error(),
        Some((
            "Extension.ColdStartCrash".to_string(),
            "cold start crashed on purpose".to_string()
        ))
    );
    // The extension exits after reporting, as the Extensions API asks.
    let status = extension.wait_exit(Duration::from_secs(10)).await;
    assert!(status.is_some(), "still running: {}", extension.log_text());
    assert_eq!(init_audit_lines(&extension.logs()).len(), 1);
}

#[tokio::test]
async fn without_the_opt_in_init_experiments_never_apply_and_init_never_waits() {
    let moto = Moto::start().await;
    let emulator = Emulator::start().await;
    let config = format!(
        "{SLOW_COLD_START}{}",
        &CRASHING_COLD_START["experiments:\n".len()..]
    );
    let env = environment(&moto, &emulator, &config, false).await;
    let extension = start_extension(&env, &emulator).await;
    let runtime = env.python(true);
    for _ in 0..2 {
        let echo = r#"{"op":"echo"}"#.to_string();
        let outcome = invoke_or_show(
            &emulator,
            &runtime,
            &extension,
            echo,
            Duration::from_secs(30),
        )
        .await;
        assert_eq!(outcome.json(), serde_json::json!({"op":"echo"}));
    }
    let name = emulator.registrations()[0].name.clone();
    let held = emulator.extension_init_time(&name).expect("asked");
    assert!(held < Duration::from_millis(250), "{held:?}");
    assert!(
        extension
            .wait_log("2 experiment(s)", Duration::from_secs(10))
            .await,
        "{}",
        extension.log_text()
    );
    assert!(init_audit_lines(&extension.logs()).is_empty());
    assert_eq!(emulator.init_error(), None);
}
