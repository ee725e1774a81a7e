//! The config in S3 (moto server) and in AppConfig (the testkit's stand-in for the AppConfig
//! data plane, which moto lacks): each loads, refreshes, applies a change, costs nothing to
//! parse while unchanged, and has the dead-man.

use crate::emulator::Emulator;
use crate::start_extension;
use crate::support::{Function, LambdaEnv, Moto, Proc};
use faultline_testkit::appconfig::AppConfigData;
use std::time::Duration;

const ONE: &str =
    "refresh_interval: 1s\nexperiments:\n  - {name: a, flag: ingress, effect: {latency: 1}}\n";
const TWO: &str = "refresh_interval: 1s\nexperiments:\n  - {name: a, flag: ingress, effect: {latency: 1}}\n  - {name: b, flag: ingress, effect: {latency: 2}}\n";

/// Lines saying a config was parsed and put in force.
fn loaded(extension: &Proc) -> usize {
    extension
        .logs()
        .iter()
        .filter(|l| l.contains("config loaded from"))
        .count()
}

async fn wait(extension: &Proc, line: &str) {
    assert!(
        extension.wait_log(line, Duration::from_secs(15)).await,
        "expected `{line}` in: {}",
        extension.log_text()
    );
}

/// An extension (and a Lambda emulator) reading `arn` at `endpoint`, with debug logs.
async fn extension_reading(endpoint: &str, arn: &str) -> (Proc, Emulator) {
    let emulator = Emulator::start().await;
    let mut env = LambdaEnv::new(&emulator.runtime_api());
    env.set("GREMLIN_CONFIG_ARN", arn)
        .set("AWS_ENDPOINT_URL", endpoint)
        .set("GREMLIN_DEBUG", "true");
    (start_extension(&env, &emulator).await, emulator)
}

/// An unchanged object is answered 304 (moto's request log) and not parsed (one "loaded" line
/// over several refreshes); a new object is parsed and applied.
#[tokio::test]
async fn an_s3_config_is_read_conditionally_and_a_change_applies() {
    let moto = Moto::start_logged().await;
    let arn = moto
        .put_object("chaos-config", "faultline/config.yaml", ONE)
        .await;
    let (extension, _emulator) = extension_reading(&moto.endpoint, &arn).await;
    wait(
        &extension,
        &format!("config loaded from S3 object {arn}: 1 experiment(s)"),
    )
    .await;
    wait(&extension, "not parsed again").await;
    let path = "GET /chaos-config/faultline/config.yaml HTTP/1.1";
    let answered = |status: &str| {
        moto.requests()
            .iter()
            .filter(|r| r.contains(path) && r.contains(&format!("\" {status} ")))
            .count()
    };
    assert_eq!(answered("200"), 1, "{:?}", moto.requests());
    assert!(answered("304") >= 1, "{:?}", moto.requests());
    assert_eq!(loaded(&extension), 1, "{}", extension.log_text());

    moto.put_object("chaos-config", "faultline/config.yaml", TWO)
        .await;
    wait(&extension, "2 experiment(s)").await;
    assert_eq!(loaded(&extension), 2);
    assert_eq!(answered("200"), 2, "{:?}", moto.requests());
}

/// A missing object is an empty config: nothing applies, and it is no failure. Deleting the
/// object ends its experiments at the next read, without the dead-man. A missing bucket is an
/// error named with S3's code.
#[tokio::test]
async fn an_absent_s3_object_means_no_experiments() {
    let moto = Moto::start().await;
    moto.put_object("chaos-config", "other.yaml", ONE).await;
    let arn = "arn:aws:s3:::chaos-config/faultline.yaml";
    let absent = format!("S3 object {arn} does not exist (NoSuchKey): no experiments");
    let function = Function::start(&moto.endpoint, arn).await;
    assert!(
        function
            .extension
            .wait_log(&absent, Duration::from_secs(10))
            .await,
        "{}",
        function.extension.log_text()
    );
    assert!(!function.faulted().await);
    let log = function.extension.log_text();
    assert!(!log.contains("failed: NoSuchKey"), "{log}");
    drop(function);

    let written = moto.put_object("chaos-config", "faultline.yaml", ONE).await;
    let function = Function::start(&moto.endpoint, &written).await;
    function.until(true, Duration::from_secs(10)).await;
    let s3 = moto.s3().await;
    s3.delete_object()
        .bucket("chaos-config")
        .key("faultline.yaml")
        .send()
        .await
        .expect("delete the object");
    function.until(false, Duration::from_secs(8)).await;
    let log = function.extension.log_text();
    assert!(log.contains(&absent), "{log}");
    assert!(!log.contains("experiments-suspended"), "{log}");

    let elsewhere =
        Function::start(&moto.endpoint, "arn:aws:s3:::no-such-bucket/faultline.yaml").await;
    assert!(
        elsewhere
            .extension
            .wait_log(
                "S3 GetObject on arn:aws:s3:::no-such-bucket/faultline.yaml failed: NoSuchBucket",
                Duration::from_secs(10)
            )
            .await,
        "{}",
        elsewhere.extension.log_text()
    );
    assert!(!elsewhere.faulted().await);
}

/// The dead-man on S3: the bucket goes (a missing object would be an empty config), the config
/// goes stale and experiments stop; it comes back and they resume.
#[tokio::test]
async fn a_stale_s3_config_suspends_every_experiment() {
    let moto = Moto::start().await;
    let config = "refresh_interval: 1s\nmax_stale: 3s\nexperiments:\n  - {name: slow, flag: ingress, effect: {latency: 300}}\n";
    let arn = moto
        .put_object("chaos-config", "dead-man.yaml", config)
        .await;
    let function = Function::start(&moto.endpoint, &arn).await;
    function.until(true, Duration::from_secs(10)).await;
    let s3 = moto.s3().await;
    s3.delete_object()
        .bucket("chaos-config")
        .key("dead-man.yaml")
        .send()
        .await
        .expect("delete the object");
    s3.delete_bucket()
        .bucket("chaos-config")
        .send()
        .await
        .expect("delete the bucket");
    function.until(false, Duration::from_secs(8)).await;
    assert!(
        function
            .extension
            .log_text()
            .contains("experiments-suspended"),
        "{}",
        function.extension.log_text()
    );
    moto.put_object("chaos-config", "dead-man.yaml", config)
        .await;
    function.until(true, Duration::from_secs(10)).await;
    assert!(function.extension.log_text().contains("experiments resume"));
}

/// One session, then the token chain: the first poll gives the configuration, the next ones an
/// empty body (nothing parsed), a deployment the new version; a token AppConfig refuses starts a
/// new session, whose whole answer of the same version is not parsed either.
#[tokio::test]
async fn an_appconfig_config_follows_the_token_chain() {
    let appconfig = AppConfigData::start().await;
    appconfig.lenient();
    appconfig.deploy("orders/prod/faultline", ONE);
    let (extension, _emulator) =
        extension_reading(&appconfig.endpoint, "appconfig:orders/prod/faultline").await;
    wait(
        &extension,
        "config loaded from AppConfig orders/prod/faultline: 1 experiment(s)",
    )
    .await;
    wait(&extension, "not parsed again").await;
    let log = appconfig.log();
    assert_eq!(log[0], "StartConfigurationSession 201", "{log:?}");
    assert!(
        log[1].starts_with("GetLatestConfiguration 200 length="),
        "{log:?}"
    );
    assert!(
        log.iter()
            .any(|l| l == "GetLatestConfiguration 200 length=0"),
        "{log:?}"
    );
    assert_eq!(
        log.iter()
            .filter(|l| l.starts_with("StartConfiguration"))
            .count(),
        1,
        "{log:?}"
    );
    assert_eq!(loaded(&extension), 1);

    appconfig.deploy("orders/prod/faultline", TWO);
    wait(&extension, "2 experiment(s)").await;
    assert_eq!(loaded(&extension), 2);

    appconfig.expire_tokens();
    wait(&extension, "starting a new session").await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        appconfig
            .log()
            .iter()
            .filter(|l| l.starts_with("StartConfiguration"))
            .count(),
        2
    );
    assert_eq!(loaded(&extension), 2, "{}", extension.log_text());
}

/// The dead-man on AppConfig: the data plane fails, the config goes stale and experiments stop;
/// it answers again and they resume.
#[tokio::test]
async fn a_stale_appconfig_config_suspends_every_experiment() {
    let appconfig = AppConfigData::start().await;
    appconfig.lenient();
    appconfig.deploy(
        "orders/prod/faultline",
        "refresh_interval: 1s\nmax_stale: 3s\nexperiments:\n  - {name: slow, flag: ingress, effect: {latency: 300}}\n",
    );
    let function = Function::start(&appconfig.endpoint, "appconfig:orders/prod/faultline").await;
    function.until(true, Duration::from_secs(10)).await;
    appconfig.fail(true);
    function.until(false, Duration::from_secs(8)).await;
    assert!(
        function
            .extension
            .log_text()
            .contains("InternalServerException"),
        "{}",
        function.extension.log_text()
    );
    appconfig.fail(false);
    function.until(true, Duration::from_secs(10)).await;
    assert!(function.extension.log_text().contains("experiments resume"));
}

/// An AppConfig configuration that does not exist is named with AppConfig's error code.
#[tokio::test]
async fn a_missing_appconfig_configuration_is_reported_with_its_code() {
    let appconfig = AppConfigData::start().await;
    let (extension, _emulator) =
        extension_reading(&appconfig.endpoint, "appconfig:orders/prod/nothing").await;
    wait(
        &extension,
        "AppConfig StartConfigurationSession on AppConfig orders/prod/nothing failed: ResourceNotFoundException",
    )
    .await;
}
