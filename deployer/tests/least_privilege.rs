//! The policy `deployer iam-policy` prints is enough, and each statement is needed: the deployer
//! run by IAM users holding exactly that policy against moto server enforcing IAM.
//!
//! moto judges a request by its action alone (every resource but an IAM role is "*" to it, and
//! it does not evaluate `iam:PolicyARN` conditions), so the users' copies have `Resource: "*"`:
//! this proves the action lists, and the unit tests of `permissions.rs` the resource patterns.
//! moto also names CloudWatch's actions by their signing name, `monitoring:`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use serde_json::Value;
use support::{Env, Keys};

/// `deployer iam-policy [--command ...]`, made readable to moto (see the module comment).
fn policy_for_moto(env: &Env, commands: &str) -> Value {
    let mut args = vec!["iam-policy"];
    if !commands.is_empty() {
        args.extend(["--command", commands]);
    }
    let (code, out, err) = env.deployer(&args);
    assert_eq!(code, 0, "{err}");
    let mut policy: Value = serde_json::from_str(&out).expect("policy json");
    for statement in policy["Statement"].as_array_mut().expect("statements") {
        statement["Resource"] = "*".into();
        let actions = statement["Action"].as_array_mut().expect("actions");
        // moto names CloudWatch's actions by its endpoint prefix, `monitoring:`.
        let aliases: Vec<Value> = actions
            .iter()
            .filter_map(|a| a.as_str()?.strip_prefix("cloudwatch:"))
            .map(|action| format!("monitoring:{action}").into())
            .collect();
        actions.extend(aliases);
    }
    policy
}

fn without(mut policy: Value, sid: &str) -> Value {
    let statements = policy["Statement"].as_array_mut().expect("statements");
    let before = statements.len();
    statements.retain(|s| s["Sid"] != sid);
    assert_eq!(statements.len() + 1, before, "no statement {sid}");
    policy
}

async fn set_up(env: &Env) {
    let role = env.role("orders-role").await;
    env.function("orders", &role, &[], &[("TABLE", "orders")])
        .await;
    faultline_testkit::put_alarm(
        &env.cloudwatch,
        "orders-errors",
        aws_sdk_cloudwatch::types::StateValue::Ok,
    )
    .await
    .expect("alarm");
}

/// init, enable, status, experiment start, report, experiment stop and disable, each run as
/// `who(command)`.
async fn every_command(env: &Env, who: impl Fn(&str) -> Keys) {
    let config = env.write("faultline.yaml", "experiments: []\n");
    let dist = env.dist().to_string_lossy().into_owned();
    let report = env
        .dir
        .path()
        .join("report.html")
        .to_string_lossy()
        .into_owned();
    let before = env.state("orders").await;
    let runs: [(&str, Vec<&str>); 7] = [
        ("init", vec!["init", "--config", &config, "--dist", &dist]),
        ("enable", vec!["enable", "orders"]),
        ("status", vec!["status"]),
        (
            "experiment",
            vec![
                "experiment",
                "start",
                "--experiment",
                "slow-orders",
                "--flag",
                "ingress",
                "--latency",
                "100",
                "--stop-on-alarm",
                "orders-errors",
            ],
        ),
        (
            "report",
            vec![
                "report",
                "--experiment",
                "slow-orders",
                "orders",
                "--out",
                &report,
            ],
        ),
        ("experiment", vec!["experiment", "stop", "slow-orders"]),
        ("disable", vec!["disable", "orders", "--yes"]),
    ];
    for (command, args) in runs {
        let (code, out, err) = env.deployer_as(&who(command), &args, &[]);
        assert_eq!(
            code,
            0,
            "`deployer {}` was refused:\n{out}\n{err}",
            args.join(" ")
        );
        if command == "enable" {
            let (layers, vars) = env.state("orders").await;
            assert_eq!(layers.len(), 1, "enabled: {layers:?}");
            assert!(vars.contains_key("AWS_LAMBDA_EXEC_WRAPPER"), "{vars:?}");
            assert!(env.policy_attached("orders-role").await);
        }
    }
    assert_eq!(env.state("orders").await, before, "disable restored it");
    assert!(!env.policy_attached("orders-role").await);
}

#[tokio::test]
async fn a_user_holding_exactly_the_printed_policy_runs_every_command() {
    let env = Env::start_enforcing_iam().await;
    set_up(&env).await;
    let operator = env.user("operator", &policy_for_moto(&env, "")).await;

    // The enforcement is on: a user without the policy is refused.
    let nobody = env.user("nobody", &serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sts:GetCallerIdentity", "Resource": "*"}]
    }))
    .await;
    let (code, _, err) = env.deployer_as(&nobody, &["status"], &[]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("AccessDenied"),
        "the AWS error code is named: {err}"
    );

    every_command(&env, |_| operator.clone()).await;
}

#[tokio::test]
async fn each_command_needs_only_its_own_statements_and_every_statement_counts() {
    let env = Env::start_enforcing_iam().await;
    set_up(&env).await;
    let mut users = std::collections::HashMap::new();
    for command in [
        "init",
        "enable",
        "status",
        "experiment",
        "report",
        "disable",
    ] {
        let keys = env
            .user(&format!("only-{command}"), &policy_for_moto(&env, command))
            .await;
        users.insert(command, keys);
    }
    every_command(&env, |command| users[command].clone()).await;

    // Lacking the attachment statement, `enable` is refused with the AWS error code, and the
    // function is left as it was (the policy is attached before the function is changed).
    let before = env.state("orders").await;
    let lacking = env
        .user(
            "enable-but-attach",
            &without(policy_for_moto(&env, "enable"), "AttachTheReadPolicyOnly"),
        )
        .await;
    let (code, out, err) = env.deployer_as(&lacking, &["enable", "orders"], &[]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        err.contains("AccessDenied"),
        "the AWS error code is named: {err}"
    );
    assert!(err.contains("orders"), "the function is named: {err}");
    assert_eq!(env.state("orders").await, before, "nothing changed");

    // Lacking the secret statement, `experiment start` is refused and names the secret.
    let lacking = env
        .user(
            "experiment-but-secret",
            &without(policy_for_moto(&env, "experiment"), "ConfigSecret"),
        )
        .await;
    let (code, _, err) = env.deployer_as(
        &lacking,
        &["experiment", "start", "--flag", "ingress", "--latency", "5"],
        &[],
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("AccessDenied"), "{err}");
    assert!(err.contains("faultline-config"), "{err}");
}
