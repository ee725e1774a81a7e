//! Experiments that stop themselves, against moto server (Secrets Manager and CloudWatch
//! alarms, driven with SetAlarmState): a stop alarm in ALARM halts an experiment (latched until
//! its definition changes), a stop alarm that cannot be read stops it, the dead-man suspends
//! everything when the config goes stale, a stop reaches the first invocation after a thaw, and
//! every audit line is a CloudWatch EMF document.

use crate::support::{Function, Moto};
use aws_sdk_cloudwatch::types::StateValue;
use std::time::{Duration, Instant};

async fn cloudwatch(moto: &Moto) -> aws_sdk_cloudwatch::Client {
    aws_sdk_cloudwatch::Client::new(&moto.sdk_config("testing", "testing").await)
}

async fn create_alarm(moto: &Moto, name: &str) {
    set_alarm(moto, name, StateValue::Ok).await;
}

async fn set_alarm(moto: &Moto, name: &str, state: StateValue) {
    faultline_testkit::put_alarm(&cloudwatch(moto).await, name, state)
        .await
        .expect("alarm in moto");
}

const SLOW: &str = "refresh_interval: 1s
experiments:
  - name: slow-orders
    flag: ingress
    stop_on_alarms: [orders-5xx]
    effect: {latency: 300}
";

#[tokio::test]
async fn a_stop_alarm_halts_the_experiment_until_it_is_edited() {
    let moto = Moto::start().await;
    create_alarm(&moto, "orders-5xx").await;
    let arn = moto.create_secret("faultline-config", SLOW).await;
    let function = Function::start(&moto.endpoint, &arn).await;

    function.until(true, Duration::from_secs(10)).await;
    let fired = Instant::now();
    set_alarm(&moto, "orders-5xx", StateValue::Alarm).await;
    function.until(false, Duration::from_secs(3)).await;
    eprintln!(
        "set_alarm_state(ALARM) to the first clean invocation: {} ms",
        fired.elapsed().as_millis()
    );
    assert!(
        function.extension.log_text().contains("experiment-halted"),
        "{}",
        function.extension.log_text()
    );

    // Back to OK: the halt is latched.
    set_alarm(&moto, "orders-5xx", StateValue::Ok).await;
    for _ in 0..8 {
        assert!(!function.faulted().await, "a halt is latched");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    // The experiment edited in the secret: it runs again.
    moto.update_secret(&arn, &SLOW.replace("latency: 300", "latency: 250"))
        .await;
    function.until(true, Duration::from_secs(10)).await;

    // Every audit line is an EMF document CloudWatch turns into metrics.
    let lines = function.faults();
    assert!(!lines.is_empty());
    for line in lines {
        let value: serde_json::Value = serde_json::from_str(&line).expect("an audit line is JSON");
        let directive = &value["_aws"]["CloudWatchMetrics"][0];
        assert!(value["_aws"]["Timestamp"].is_u64(), "{line}");
        assert_eq!(directive["Namespace"], "faultline", "{line}");
        assert_eq!(directive["Metrics"][0]["Name"], "FaultsInjected", "{line}");
        assert_eq!(
            directive["Dimensions"],
            serde_json::json!([["experiment"], ["function-name", "flag"]])
        );
        assert_eq!(value["FaultsInjected"], 1, "{line}");
        assert_eq!(value["function-name"], "test-fn", "{line}");
        assert_eq!(value["experiment"], "slow-orders", "{line}");
        assert_eq!(value["faultline"], "fault-injected", "{line}");
    }
}

#[tokio::test]
async fn a_stop_alarm_that_does_not_exist_stops_the_experiment() {
    let moto = Moto::start().await;
    let arn = moto
        .create_secret(
            "faultline-config",
            &SLOW.replace("orders-5xx", "no-such-alarm"),
        )
        .await;
    let function = Function::start(&moto.endpoint, &arn).await;
    for _ in 0..6 {
        assert!(!function.faulted().await, "never applied");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(
        function
            .extension
            .log_text()
            .contains("stop alarm no-such-alarm does not exist"),
        "{}",
        function.extension.log_text()
    );
}

#[tokio::test]
async fn a_stale_config_suspends_every_experiment() {
    let moto = Moto::start().await;
    let arn = moto
        .create_secret(
            "faultline-config",
            "refresh_interval: 1s\nmax_stale: 3s\nexperiments:\n  - {name: slow, flag: ingress, effect: {latency: 300}}\n",
        )
        .await;
    let function = Function::start(&moto.endpoint, &arn).await;
    function.until(true, Duration::from_secs(10)).await;

    let secrets = aws_sdk_secretsmanager::Client::new(&moto.sdk_config("testing", "testing").await);
    secrets
        .delete_secret()
        .secret_id(&arn)
        .send()
        .await
        .expect("delete secret");
    let deleted = Instant::now();
    function.until(false, Duration::from_secs(6)).await;
    eprintln!(
        "secret deleted to the first clean invocation: {} ms",
        deleted.elapsed().as_millis()
    );
    assert!(
        function
            .extension
            .log_text()
            .contains("experiments-suspended"),
        "{}",
        function.extension.log_text()
    );

    secrets
        .restore_secret()
        .secret_id(&arn)
        .send()
        .await
        .expect("restore secret");
    function.until(true, Duration::from_secs(10)).await;
    assert!(function.extension.log_text().contains("experiments resume"));
}

#[tokio::test]
async fn a_stop_reaches_the_first_invocation_after_a_thaw() {
    let moto = Moto::start().await;
    let arn = moto
        .create_secret(
            "faultline-config",
            "refresh_interval: 1s\nexperiments:\n  - {name: slow, flag: ingress, effect: {latency: 300}}\n",
        )
        .await;
    let function = Function::start(&moto.endpoint, &arn).await;
    function.until(true, Duration::from_secs(10)).await;

    // The environment is frozen between invocations (SIGSTOP, as Lambda's freezer stops every
    // process), the experiment is stopped meanwhile, and the environment thawed.
    let pid = function.extension.pid().to_string();
    // The shell's own `kill`: no procps needed on a new machine.
    let signal = |sig: &str| {
        std::process::Command::new("sh")
            .args(["-c", &format!("kill {sig} {pid}")])
            .status()
            .expect("sh")
    };
    assert!(signal("-STOP").success());
    moto.update_secret(&arn, "refresh_interval: 1s\nexperiments: []\n")
        .await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(signal("-CONT").success());
    assert!(
        !function.faulted().await,
        "the very next invocation sees the stop: {}",
        function.extension.log_text()
    );
}
