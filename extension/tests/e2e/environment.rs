//! Environment effects (flag `environment`) through the real extension: a file in the temporary
//! directory, memory held by the extension, a share of one CPU burnt; each undone when its
//! experiment is stopped, ends, goes stale (the dead-man) and at SHUTDOWN, and the function keeps
//! being answered meanwhile.

use crate::emulator::Emulator;
use crate::start_extension;
use crate::support::{LambdaEnv, Moto, Proc, invoke_or_show};
use faultline_testkit::rss_kib;
use std::path::PathBuf;
use std::time::{Duration, Instant};

const MIB: u64 = 1024 * 1024;

/// An environment whose temporary directory is the test's own.
fn environment(emulator: &Emulator) -> LambdaEnv {
    let mut env = LambdaEnv::new(&emulator.runtime_api());
    let tmp = env.temp_path("tmp");
    std::fs::create_dir_all(&tmp).expect("tmp dir");
    env.set("TMPDIR", tmp.to_string_lossy());
    env
}

fn fill_file(env: &LambdaEnv, experiment: &str) -> PathBuf {
    env.temp_path("tmp")
        .join(format!("faultline-disk-{experiment}"))
}

/// Polls `check` every 50 ms until it holds, `timeout` at most.
async fn until(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    check()
}

/// CPU time of every thread of `pid`, from /proc/PID/task/*/schedstat.
fn cpu_time(pid: u32) -> Duration {
    let mut total = 0u64;
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).expect("tasks") {
        let path = task.expect("task").path().join("schedstat");
        if let Ok(text) = std::fs::read_to_string(path) {
            total += text
                .split_whitespace()
                .next()
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    Duration::from_nanos(total)
}

/// The share of one CPU the extension used over `interval`.
async fn cpu_share(extension: &Proc, interval: Duration) -> f64 {
    let before = cpu_time(extension.pid());
    let started = Instant::now();
    tokio::time::sleep(interval).await;
    let used = cpu_time(extension.pid()).saturating_sub(before);
    used.as_secs_f64() / started.elapsed().as_secs_f64()
}

const EFFECTS: &str = "refresh_interval: 1s
experiments:
  - name: squeeze
    flag: environment
    effect: {disk: {fill_mb: 20}, memory: {mb: 64}, cpu: {percent: 40}}
";

#[tokio::test]
async fn each_effect_starts_with_its_experiment_and_goes_when_it_is_stopped() {
    let emulator = Emulator::start().await;
    let mut env = environment(&emulator);
    env.config_file("refresh_interval: 1s\nexperiments: []\n");
    let config = env.temp_path("faultline.yaml");
    let extension = start_extension(&env, &emulator).await;
    let runtime = env.python(true);
    let echo = || r#"{"op":"echo"}"#.to_string();
    invoke_or_show(
        &emulator,
        &runtime,
        &extension,
        echo(),
        Duration::from_secs(30),
    )
    .await;
    let rss_before = rss_kib(extension.pid()).expect("rss");
    let file = fill_file(&env, "squeeze");

    std::fs::write(&config, EFFECTS).expect("config");
    assert!(
        until(Duration::from_secs(10), || file.exists()).await,
        "{}",
        extension.log_text()
    );
    assert_eq!(std::fs::metadata(&file).expect("file").len(), 20 * MIB);
    // The three effects start one after the other: the CPU thread last.
    let started = |l: &String| l.contains("\"type\":\"cpu\"");
    assert!(
        until(Duration::from_secs(10), || extension
            .logs()
            .iter()
            .any(started))
        .await,
        "{}",
        extension.log_text()
    );
    let rss_held = rss_kib(extension.pid()).expect("rss");
    assert!(
        rss_held >= rss_before + 60 * 1024,
        "RSS {rss_before} -> {rss_held} KiB"
    );
    let share = cpu_share(&extension, Duration::from_secs(2)).await;
    assert!(
        (0.15..=0.65).contains(&share),
        "burnt {share:.2} of a CPU for 40 %"
    );
    // faultline keeps answering the function meanwhile.
    let outcome = invoke_or_show(
        &emulator,
        &runtime,
        &extension,
        echo(),
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(outcome.json(), serde_json::json!({"op":"echo"}));
    let audit: Vec<String> = extension
        .logs()
        .into_iter()
        .filter(|l| l.contains("\"flag\":\"environment\""))
        .collect();
    assert_eq!(audit.len(), 3, "one audit line per effect: {audit:?}");

    // Stopped: the experiment is gone from the config.
    std::fs::write(&config, "refresh_interval: 1s\nexperiments: []\n").expect("config");
    assert!(
        until(Duration::from_secs(10), || !file.exists()).await,
        "{}",
        extension.log_text()
    );
    // The effects go one after the other (the file first, then the memory): the memory is
    // given back within a moment of the file going, not at the same instant.
    let freed = |rss: Option<u64>| rss.is_some_and(|rss| rss + 56 * 1024 <= rss_held);
    until(Duration::from_secs(10), || freed(rss_kib(extension.pid()))).await;
    let rss_after = rss_kib(extension.pid()).expect("rss");
    assert!(
        rss_after + 56 * 1024 <= rss_held,
        "RSS {rss_held} -> {rss_after} KiB"
    );
    let share = cpu_share(&extension, Duration::from_secs(1)).await;
    assert!(share < 0.1, "still burning {share:.2} of a CPU");
}

#[tokio::test]
async fn an_experiment_that_ends_takes_its_effects_with_it() {
    let emulator = Emulator::start().await;
    let mut env = environment(&emulator);
    let start = chrono::Utc::now().to_rfc3339();
    env.config_file(&format!(
        "experiments:\n  - {{name: brief, flag: environment, start: '{start}', duration: 3s, effect: {{disk: {{fill_mb: 2}}}}}}\n"
    ));
    let extension = start_extension(&env, &emulator).await;
    let file = fill_file(&env, "brief");
    assert!(
        until(Duration::from_secs(5), || file.exists()).await,
        "{}",
        extension.log_text()
    );
    assert!(
        until(Duration::from_secs(8), || !file.exists()).await,
        "{}",
        extension.log_text()
    );
}

#[tokio::test]
async fn a_stale_config_and_shutdown_undo_the_effects() {
    let moto = Moto::start().await;
    let arn = moto
        .create_secret(
            "faultline-config",
            "refresh_interval: 1s\nmax_stale: 3s\nexperiments:\n  - {name: stale, flag: environment, effect: {disk: {fill_mb: 2}}}\n",
        )
        .await;
    let emulator = Emulator::start().await;
    let mut env = environment(&emulator);
    env.set("GREMLIN_CONFIG_ARN", &arn)
        .set("AWS_ENDPOINT_URL", &moto.endpoint);
    let mut extension = start_extension(&env, &emulator).await;
    let file = fill_file(&env, "stale");
    assert!(
        until(Duration::from_secs(10), || file.exists()).await,
        "{}",
        extension.log_text()
    );
    // The dead-man: the secret is deleted, so the config goes stale after max_stale.
    let secrets = aws_sdk_secretsmanager::Client::new(&moto.sdk_config("testing", "testing").await);
    secrets
        .delete_secret()
        .secret_id(&arn)
        .send()
        .await
        .expect("delete secret");
    assert!(
        until(Duration::from_secs(10), || !file.exists()).await,
        "{}",
        extension.log_text()
    );
    // Read again: the effect comes back; SHUTDOWN takes it away before the extension exits.
    secrets
        .restore_secret()
        .secret_id(&arn)
        .send()
        .await
        .expect("restore secret");
    assert!(
        until(Duration::from_secs(10), || file.exists()).await,
        "{}",
        extension.log_text()
    );
    emulator.shutdown_extensions();
    assert!(
        extension.wait_exit(Duration::from_secs(5)).await.is_some(),
        "{}",
        extension.log_text()
    );
    assert!(!file.exists(), "{}", extension.log_text());
}
