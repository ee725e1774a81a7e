//! SnapStart: the extension's memory, its config included, is snapshotted when the runtime
//! reaches `restore/next` and restored later. After the restore no experiment applies from the
//! snapshotted config: only a read after the restore brings experiments back. The restore is
//! faked as the issue describes it: the processes are paused at the snapshot point, the config
//! changes meanwhile (here it becomes unreadable), and they resume when the emulator answers
//! `restore/next`, as Lambda does after a restore.

use crate::emulator::{Emulator, Outcome};
use crate::start_extension;
use crate::support::{LambdaEnv, Proc};
use serde_json::json;
use std::time::{Duration, Instant};

const CONFIG: &str = "refresh_interval: 1s
experiments:
  - {name: queue-down, flag: ingress, selector: {event-source: sqs}, effect: {exception: {message: down, errorType: QueueDown}}}
";

fn signal(process: &Proc, name: &str) {
    let status = std::process::Command::new("kill")
        .args([&format!("-{name}"), &process.pid().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{name} {}", process.pid());
}

fn sqs_event(n: usize) -> String {
    json!({"op": "echo", "n": n, "Records": [{"eventSource": "aws:sqs", "body": "b"}]}).to_string()
}

fn queue_down(outcome: &Outcome) -> bool {
    matches!(outcome, Outcome::Error { error_type: Some(t), .. } if t == "QueueDown")
}

#[tokio::test]
async fn after_a_restore_no_experiment_applies_from_the_snapshotted_config() {
    let emulator = Emulator::start().await;
    let mut env = LambdaEnv::new(&emulator.runtime_api());
    env.set("AWS_LAMBDA_INITIALIZATION_TYPE", "snap-start");
    env.config_file(CONFIG);
    let config_path = std::path::PathBuf::from(&env.vars["GREMLIN_CONFIG_FILE"]);
    let extension = start_extension(&env, &emulator).await;
    let runtime = env.python(true);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !emulator.restore_pending() {
        assert!(
            Instant::now() < deadline,
            "the runtime never reached restore/next:\n{}",
            runtime.log_text()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // The snapshot, kept for a while; the config can no longer be read meanwhile.
    signal(&extension, "STOP");
    signal(&runtime, "STOP");
    std::fs::write(&config_path, "experiments: [").expect("break the config");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    signal(&extension, "CONT");
    signal(&runtime, "CONT");
    emulator.restore();

    let invoke = async |n: usize| {
        emulator
            .try_invoke(sqs_event(n), Duration::from_secs(30))
            .await
            .unwrap_or_else(|| panic!("no answer:\n{}", extension.log_text()))
    };
    for n in 0..3 {
        let outcome = invoke(n).await;
        assert!(
            !queue_down(&outcome) && outcome.json()["n"] == n,
            "invocation {n} after the restore: {outcome:?}\n{}",
            extension.log_text()
        );
    }
    assert!(
        extension.log_text().contains("restored from a snapshot"),
        "{}",
        extension.log_text()
    );

    // A read after the restore brings the experiment back.
    std::fs::write(&config_path, CONFIG).expect("mend the config");
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut n = 3;
    loop {
        if queue_down(&invoke(n).await) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the experiment never came back:\n{}",
            extension.log_text()
        );
        n += 1;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
