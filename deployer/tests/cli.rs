//! The `deployer` binary against moto server (started per test on a free loopback port): every
//! command as a user runs it, with the AWS state checked through the AWS SDK.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure is the report

mod support;

use support::{Env, SECRET_MARKER};

#[tokio::test]
async fn init_refuses_a_bad_config_and_is_idempotent() {
    let env = Env::start().await;
    let dist = env.dist().to_string_lossy().into_owned();
    let bad = env.write(
        "bad.yaml",
        "experiments:\n  - {name: a, flag: ingress, rate: 250, effect: {latency: 1}}\n",
    );
    let (code, _, err) = env.deployer(&["init", "--config", &bad, "--dist", &dist]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("experiments[0].rate"), "{err}");
    let secrets = env.secrets.list_secrets().send().await.expect("list");
    assert!(
        secrets.secret_list().is_empty(),
        "a refused config uploads nothing"
    );
    let (code, _, err) = env.deployer(&["init", "--dist", "/nonexistent"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("make layer"), "{err}");

    let config = env.write("ok.yaml", &format!("team_id: \"{SECRET_MARKER}\"\n"));
    let run = || {
        env.deployer(&[
            "init", "--config", &config, "--dist", &dist, "--output", "json",
        ])
    };
    let (code, first, err) = run();
    assert_eq!(code, 0, "{err}");
    let first: serde_json::Value = serde_json::from_str(&first).expect("json");
    assert_eq!(first["secret"]["action"], "created");
    assert_eq!(first["policy"]["action"], "created");
    assert_eq!(first["layers"][0]["action"], "published");
    let (code, second, _) = run();
    assert_eq!(code, 0);
    let second: serde_json::Value = serde_json::from_str(&second).expect("json");
    for part in [
        &second["secret"],
        &second["policy"],
        &second["layers"][0],
        &second["layers"][1],
    ] {
        assert_eq!(part["action"], "unchanged", "{second}");
    }
    // The policy reads exactly the secret.
    let policy_arn = first["policy"]["arn"].as_str().expect("policy arn");
    let policy = env
        .iam
        .get_policy()
        .policy_arn(policy_arn)
        .send()
        .await
        .expect("policy");
    let version = policy
        .policy()
        .and_then(|p| p.default_version_id())
        .expect("version");
    let document = env.policy_document(policy_arn, version).await.to_string();
    assert!(document.contains(first["secret"]["arn"].as_str().expect("secret arn")));
    assert!(
        document.contains("cloudwatch:DescribeAlarms"),
        "the stop alarms may be read: {document}"
    );
    assert!(
        !document
            .replace("arn:aws:cloudwatch:us-east-1:123456789012:alarm:*", "")
            .contains('*'),
        "no wildcard but the region's alarms: {document}"
    );
}

#[tokio::test]
async fn enable_then_disable_restores_the_function_exactly() {
    let env = Env::start().await;
    env.init();
    let role = env.role("checkout-role").await;
    let otel = env.layer("otel").await;
    let utils = env.layer("utils").await;
    env.function(
        "checkout",
        &role,
        &[otel.clone(), utils.clone()],
        &[
            ("TABLE", "orders"),
            ("AWS_LAMBDA_EXEC_WRAPPER", "/opt/otel-instrument"),
            ("HTTPS_PROXY", "http://user:pw@corp:3128"),
            ("PAYMENTS_URL", "https://api.payments.example/v1"),
        ],
    )
    .await;
    let before = env.state("checkout").await;

    let (code, out, err) = env.deployer(&["enable", "checkout", "--dry-run"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("would change"), "{out}");
    assert!(
        !out.contains("user:pw"),
        "proxy credentials are masked: {out}"
    );
    assert_eq!(
        env.state("checkout").await,
        before,
        "a dry run changes nothing"
    );

    let (code, out, err) = env.deployer(&["enable", "checkout"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let (layers, vars) = env.state("checkout").await;
    assert_eq!(layers.len(), 3);
    assert_eq!(
        layers[..2],
        [otel.clone(), utils.clone()],
        "other layers keep their order"
    );
    assert!(layers[2].contains(":layer:faultline-x86_64:"), "{layers:?}");
    assert_eq!(vars["AWS_LAMBDA_EXEC_WRAPPER"], "/opt/faultline-wrapper");
    assert_eq!(vars["FAULTLINE_NEXT_WRAPPER"], "/opt/otel-instrument");
    assert_eq!(vars["FAULTLINE_UPSTREAM_PROXY"], "http://user:pw@corp:3128");
    assert_eq!(vars["HTTPS_PROXY"], "http://localhost:5034");
    assert_eq!(vars["TABLE"], "orders");
    // The default store: the S3 object.
    assert_eq!(
        vars["GREMLIN_CONFIG_ARN"],
        format!("arn:aws:s3:::{}/faultline.yaml", support::DEFAULT_BUCKET)
    );
    assert!(env.policy_attached("checkout-role").await);

    let (code, out, _) = env.deployer(&["enable", "checkout", "--output", "json"]);
    assert_eq!(code, 0);
    let again: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(
        again["functions"][0]["changed"], false,
        "enabling twice is a no-op"
    );

    // The SDK endpoints of the services asked for go through TLS origination; disable below
    // gives them back with the rest.
    let (code, _, err) = env.deployer(&["enable", "checkout", "--aws-services", "dynamo"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--aws-services: `dynamo`"), "{err}");
    let (code, _, err) = env.deployer(&["enable", "checkout", "--tls-origination-env", "A-B"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("`A-B`"), "{err}");
    let (code, out, err) = env.deployer(&[
        "enable",
        "checkout",
        "--aws-services",
        "dynamodb,SFN",
        "--tls-origination-env",
        "PAYMENTS_URL",
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    let (_, vars) = env.state("checkout").await;
    assert_eq!(vars["PAYMENTS_URL"], "http://api.payments.example:443/v1");
    assert_eq!(vars["FAULTLINE_TLS_ORIGINATION_ENV"], "PAYMENTS_URL");
    assert_eq!(
        vars["AWS_ENDPOINT_URL_DYNAMODB"],
        "http://dynamodb.us-east-1.amazonaws.com:443"
    );
    assert_eq!(
        vars["AWS_ENDPOINT_URL_SFN"],
        "http://states.us-east-1.amazonaws.com:443"
    );

    let (code, out, _) = env.deployer(&["status", "--output", "json"]);
    assert_eq!(code, 0);
    let status: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(status["functions"][0]["enabled"], true);
    assert_eq!(status["functions"][0]["layer"], "current");
    assert_eq!(status["functions"][0]["policy_attached"], true);

    let (code, out, err) = env.deployer(&["disable", "checkout"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(
        env.state("checkout").await,
        before,
        "disable restores exactly"
    );
    assert!(!env.policy_attached("checkout-role").await);
}

#[tokio::test]
async fn refusals_and_failures_leave_functions_as_they_were() {
    let env = Env::start().await;
    env.init();
    let role = env.role("shared-role").await;
    let mut five = Vec::new();
    for i in 0..5 {
        five.push(env.layer(&format!("l{i}")).await);
    }
    env.function("full", &role, &five, &[("A", "1")]).await;
    env.function("one", &role, &[], &[]).await;
    env.function("two", &role, &[], &[]).await;
    let full_before = env.state("full").await;

    // Five layers already: refused, nothing changed, the others still enabled, exit 1.
    let (code, _, err) = env.deployer(&["enable", "full", "one", "nosuch", "--yes"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("full") && err.contains("5"), "{err}");
    assert!(
        err.contains("nosuch") && err.contains("ResourceNotFoundException"),
        "{err}"
    );
    assert_eq!(env.state("full").await, full_before);
    assert!(env.state("one").await.1.contains_key("FAULTLINE_SAVED"));

    // Many functions without --yes and without a terminal: refused with exit 2.
    let (code, _, err) = env.deployer(&["enable", "one", "two"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--yes"), "{err}");

    // A shared role keeps the policy until its last enabled function is disabled.
    let (code, _, err) = env.deployer(&["enable", "--regex", "^(one|two)$", "--yes"]);
    assert_eq!(code, 0, "{err}");
    let (code, _, _) = env.deployer(&["disable", "one"]);
    assert_eq!(code, 0);
    assert!(
        env.policy_attached("shared-role").await,
        "two still needs it"
    );
    // A function wired by infrastructure as code (faultline's layer, no FAULTLINE_SAVED) on the
    // same role keeps the policy attached too.
    let (_, ours) = env
        .lambda
        .list_layer_versions()
        .layer_name("faultline-x86_64")
        .send()
        .await
        .expect("versions")
        .layer_versions()
        .first()
        .and_then(|v| v.layer_version_arn())
        .map(|arn| ((), arn.to_string()))
        .expect("a faultline layer version");
    env.function("iac", &role, &[ours], &[("GREMLIN_LAMBDA_ENABLED", "true")])
        .await;
    let (code, _, err) = env.deployer(&["disable", "two"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        env.policy_attached("shared-role").await,
        "the IaC-wired function still needs it"
    );
    // Many functions: the same confirmation rule as enable (--yes accepted).
    let (code, _, err) = env.deployer(&["disable", "--all"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--yes"), "{err}");
    let (code, _, err) = env.deployer(&["disable", "--all", "--yes", "--dry-run"]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = env.deployer(&["disable", "--all", "--yes"]);
    assert_eq!(code, 0, "{err}");
}

#[tokio::test]
async fn concurrent_experiment_edits_lose_nothing() {
    let env = Env::start().await;
    env.init();
    // Ten `experiment start` processes at once, from two "operators".
    concurrent_starts(&env, &["--selector", "event-source=sqs|sns"], &[]).await;
    let (code, out, err) = env.deployer(&["experiment", "list", "--output", "json"]);
    assert_eq!(code, 0, "{err}");
    let listed: serde_json::Value = serde_json::from_str(&out).expect("json");
    let names: Vec<&str> = listed["experiments"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|e| e["name"].as_str())
        .collect();
    assert_eq!(names.len(), 10, "a concurrent edit was lost: {names:?}");
    // The team key written by init survived every edit, and never reached the output.
    assert!(env.config_text().await.contains(SECRET_MARKER));

    let (code, _, err) = env.deployer(&[
        "experiment",
        "start",
        "--flag",
        "x",
        "--latency",
        "1",
        "--rate",
        "250",
    ]);
    assert_eq!(code, 2, "the schema refuses rate 250 (above 100%): {err}");
    let (code, _, err) = env.deployer(&[
        "experiment",
        "start",
        "--flag",
        "x",
        "--latency",
        "1",
        "--duration",
        "300000y",
    ]);
    assert_eq!(
        code, 2,
        "a window past the bound is refused, not a crash: {err}"
    );
    assert!(err.contains("duration"), "the key is named: {err}");
    // An AWS error: only on an aws-<service> flag, written as the extension reads it.
    let throttle = |flag: &'static str| {
        [
            "experiment",
            "start",
            "--flag",
            flag,
            "--experiment",
            "throttle",
            "--selector",
            "operation=PutItem,resource=orders",
            "--aws-error",
            "ProvisionedThroughputExceededException",
            "--rate",
            "20%",
        ]
    };
    let (code, _, err) = env.deployer(&throttle("egress"));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("effect.awsError"), "{err}");
    let (code, _, err) = env.deployer(&throttle("aws-dynamodb"));
    assert_eq!(code, 0, "{err}");
    let text = env.config_text().await;
    let config = faultline_schema::config::Config::parse_strict(&text).expect("valid config");
    let throttle = config
        .experiments
        .iter()
        .find(|e| e.name == "throttle")
        .unwrap_or_else(|| panic!("no experiment throttle in {text}"));
    let error = throttle.effect.aws_error.as_ref().expect("awsError");
    assert_eq!(
        (error.code.as_str(), error.status),
        ("ProvisionedThroughputExceededException", 400)
    );
    // The effects of the fault catalogue: refused with the option or key named where they do
    // not apply, written where they do.
    let catalogue: [(&[&str], i32, &str); 7] = [
        (
            &["--flag", "response", "--corrupt", "cut"],
            2,
            "--corrupt cut",
        ),
        (
            &["--flag", "ingress", "--corrupt", "mangle"],
            2,
            "effect.corrupt",
        ),
        (
            &[
                "--flag",
                "response",
                "--corrupt",
                "truncate=0.25",
                "--experiment",
                "c1",
            ],
            0,
            "",
        ),
        (
            &[
                "--flag",
                "response",
                "--batch-item-failures",
                "20%",
                "--experiment",
                "b1",
            ],
            0,
            "",
        ),
        (
            &["--flag", "ingress", "--timeout", "soon"],
            2,
            "--timeout soon",
        ),
        (
            &[
                "--flag",
                "response",
                "--timeout",
                "hold",
                "--experiment",
                "t1",
            ],
            2,
            "effect.timeout",
        ),
        (
            &[
                "--flag",
                "ingress",
                "--timeout",
                "300ms",
                "--experiment",
                "t2",
            ],
            0,
            "",
        ),
    ];
    for (options, wanted, said) in catalogue {
        let mut args = vec!["experiment", "start"];
        args.extend_from_slice(options);
        let (code, _, err) = env.deployer(&args);
        assert_eq!(code, wanted, "{options:?}: {err}");
        assert!(err.contains(said), "{options:?}: {err}");
    }
    let (code, _, err) = env.deployer(&["experiment", "stop", "e3"]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = env.deployer(&["experiment", "stop", "e3"]);
    assert_eq!(code, 2, "{err}");
    let (code, _, _) = env.deployer(&["experiment", "stop", "--all"]);
    assert_eq!(code, 0);
    let (_, out, _) = env.deployer(&["experiment", "list"]);
    assert!(out.contains("no experiments"), "{out}");
}

#[tokio::test]
async fn selection_by_tag_regex_and_exclude() {
    let env = Env::start().await;
    env.init();
    let role = env.role("r").await;
    for name in ["pay-a", "pay-b", "orders"] {
        env.function(name, &role, &[], &[]).await;
    }
    for name in ["pay-a", "orders"] {
        let arn = format!("arn:aws:lambda:us-east-1:123456789012:function:{name}");
        env.lambda
            .tag_resource()
            .resource(arn)
            .tags("team", "payments")
            .send()
            .await
            .expect("tag");
    }
    let chosen = |args: &[&str]| {
        let mut full = vec!["enable", "--dry-run", "--output", "json"];
        full.extend_from_slice(args);
        let (code, out, err) = env.deployer(&full);
        assert_eq!(code, 0, "{err}");
        let report: serde_json::Value = serde_json::from_str(&out).expect("json");
        report["functions"]
            .as_array()
            .expect("functions")
            .iter()
            .filter_map(|f| f["function"].as_str().map(str::to_string))
            .collect::<Vec<_>>()
    };
    assert_eq!(chosen(&["--tag", "team=payments"]), ["orders", "pay-a"]);
    assert_eq!(
        chosen(&["--regex", "^pay-", "--exclude", "pay-b"]),
        ["pay-a"]
    );
    assert_eq!(
        chosen(&["--all", "--exclude", "orders"]),
        ["pay-a", "pay-b"]
    );
    let (code, _, err) = env.deployer(&["enable", "--regex", "(", "--dry-run"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--regex"), "{err}");
    let (code, _, err) = env.deployer(&["enable"]);
    assert_eq!(code, 2, "{err}");
}

/// An alarm in moto, in `state`.
async fn alarm(env: &Env, name: &str, state: aws_sdk_cloudwatch::types::StateValue) {
    faultline_testkit::put_alarm(&env.cloudwatch, name, state)
        .await
        .expect("alarm in moto");
}

#[tokio::test]
async fn experiments_end_by_default_and_refuse_a_firing_stop_alarm() {
    use aws_sdk_cloudwatch::types::StateValue;
    let env = Env::start().await;
    env.init();

    let (code, _, err) = env.deployer(&[
        "experiment",
        "start",
        "--flag",
        "ingress",
        "--latency",
        "100",
        "--experiment",
        "plain",
    ]);
    assert_eq!(code, 0, "{err}");
    let (_, out, _) = env.deployer(&["--output", "json", "experiment", "list"]);
    let listed: serde_json::Value = serde_json::from_str(&out).expect("json");
    let plain = &listed["experiments"][0];
    let start = chrono::DateTime::parse_from_rfc3339(plain["start"].as_str().expect("start"))
        .expect("time");
    let end =
        chrono::DateTime::parse_from_rfc3339(plain["end"].as_str().expect("end")).expect("time");
    assert_eq!(
        (end - start).num_minutes(),
        15,
        "a 15-minute window by default"
    );
    assert_eq!(plain["state"], "active");

    alarm(&env, "orders-5xx", StateValue::Alarm).await;
    alarm(&env, "orders-p99", StateValue::Ok).await;
    let before = env.config_text().await;
    for (alarm, why) in [
        ("orders-5xx", "in ALARM"),
        ("no-such-alarm", "no such alarm"),
    ] {
        let (code, _, err) = env.deployer(&[
            "experiment",
            "start",
            "--flag",
            "egress",
            "--latency",
            "100",
            "--stop-on-alarm",
            alarm,
        ]);
        assert_eq!(code, 2, "{alarm}: {err}");
        assert!(err.contains(why), "{err}");
        assert_eq!(env.config_text().await, before, "nothing written");
    }
    let (code, _, err) = env.deployer(&[
        "experiment",
        "start",
        "--flag",
        "egress",
        "--latency",
        "100",
        "--until-stopped",
        "--experiment",
        "guarded",
        "--stop-on-alarm",
        "orders-p99",
    ]);
    assert_eq!(code, 0, "{err}");
    let (_, out, _) = env.deployer(&["experiment", "list"]);
    assert!(out.contains("guarded  active"), "{out}");
    assert!(out.contains("until stopped"), "{out}");
    assert!(out.contains("stop alarms: orders-p99=OK"), "{out}");
    alarm(&env, "orders-p99", StateValue::Alarm).await;
    let (_, out, _) = env.deployer(&["experiment", "list"]);
    assert!(
        out.contains("guarded  halted (orders-p99 is ALARM)"),
        "{out}"
    );
}

#[tokio::test]
async fn init_never_loses_the_experiments_in_the_secret() {
    let env = Env::start().await;
    let dist = env.dist().to_string_lossy().into_owned();
    let two = env.write(
        "two.yaml",
        "https_proxy: http://corp:3128\nexperiments:\n  - {name: slow, flag: ingress, effect: {latency: 1}}\n  - {name: broken, flag: ingress, effect: {exception: down}}\n",
    );
    let (code, _, err) = env.deployer(&["init", "--config", &two, "--dist", &dist]);
    assert_eq!(code, 0, "{err}");
    let stored = env.config_text().await;

    // Run again without --config (say, to publish a new layer): the secret is left alone.
    let (code, out, err) = env.deployer(&["init", "--dist", &dist]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("kept"), "{out}");
    assert_eq!(
        env.config_text().await,
        stored,
        "experiments and settings kept"
    );

    // --dry-run changes nothing and says what --config would remove.
    let one = env.write(
        "one.yaml",
        "experiments:\n  - {name: broken, flag: ingress, effect: {exception: down}}\n",
    );
    let layers_before = env
        .lambda
        .list_layer_versions()
        .layer_name("faultline-x86_64")
        .send()
        .await
        .expect("versions")
        .layer_versions()
        .len();
    std::fs::write(
        env.dist().join("faultline-layer-x86_64.zip"),
        b"PK\x05\x06 another zip",
    )
    .expect("zip");
    let (code, out, err) = env.deployer(&["init", "--config", &one, "--dist", &dist, "--dry-run"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("dry run"), "{out}");
    assert!(
        out.contains("experiments removed by --config: slow"),
        "{out}"
    );
    assert!(out.contains("would be published"), "{out}");
    assert_eq!(env.config_text().await, stored, "a dry run writes nothing");
    let layers_after = env
        .lambda
        .list_layer_versions()
        .layer_name("faultline-x86_64")
        .send()
        .await
        .expect("versions")
        .layer_versions()
        .len();
    assert_eq!(layers_after, layers_before, "a dry run publishes nothing");

    // With --config the secret is replaced, and the experiment that goes is named.
    let (code, out, err) = env.deployer(&["init", "--config", &one, "--dist", &dist]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("experiments removed by --config: slow"),
        "{out}"
    );
    let now = env.config_text().await;
    assert!(!now.contains("slow"), "{out}\n{now}");
}

#[tokio::test]
async fn a_customer_key_is_granted_by_its_arn_through_secrets_manager_only() {
    let env = Env::start().await;
    let config = faultline_testkit::aws_config(&env.moto.endpoint, "testing", "testing").await;
    let kms = aws_sdk_kms::Client::new(&config);
    let key = kms.create_key().send().await.expect("key");
    let key_arn = key
        .key_metadata()
        .and_then(|m| m.arn())
        .expect("key arn")
        .to_string();
    let key_id = key.key_metadata().map(|m| m.key_id()).expect("key id");
    kms.create_alias()
        .alias_name("alias/faultline-config")
        .target_key_id(key_id)
        .send()
        .await
        .expect("alias");
    // The team's secret already exists, encrypted with the key named by its alias.
    env.secrets
        .create_secret()
        .name("faultline-config")
        .kms_key_id("alias/faultline-config")
        .secret_string("experiments: []\n")
        .send()
        .await
        .expect("secret");
    let dist = env.dist().to_string_lossy().into_owned();
    let (code, out, err) = env.deployer(&["init", "--dist", &dist, "--output", "json"]);
    assert_eq!(code, 0, "{err}");
    let out: serde_json::Value = serde_json::from_str(&out).expect("json");
    let policy_arn = out["policy"]["arn"].as_str().expect("policy arn");
    let document = env.policy_document(policy_arn, "v1").await;
    let decrypt = document["Statement"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["Action"] == "kms:Decrypt"))
        .unwrap_or_else(|| panic!("no kms:Decrypt: {document}"));
    assert_eq!(
        decrypt["Resource"],
        key_arn.as_str(),
        "the key's ARN, not its alias"
    );
    assert_eq!(
        decrypt["Condition"]["StringEquals"]["kms:ViaService"],
        "secretsmanager.us-east-1.amazonaws.com"
    );
}

// The proxy runs on the runtime's other thread while the deployer process is waited for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deployer_works_behind_a_corporate_proxy() {
    let env = Env::start().await;
    let proxy = faultline_testkit::forward_proxy::ForwardProxy::start().await;
    let dist = env.dist().to_string_lossy().into_owned();
    let config = env.write("faultline.yaml", "experiments: []\n");
    let role = env.role("proxied-role").await;
    env.function("proxied", &role, &[], &[]).await;
    let through = [
        ("HTTPS_PROXY", proxy.url.as_str()),
        ("HTTP_PROXY", proxy.url.as_str()),
    ];
    for args in [
        vec!["init", "--config", &config, "--dist", &dist],
        vec!["enable", "proxied"],
        vec!["experiment", "start", "--flag", "egress", "--latency", "10"],
    ] {
        let before = proxy.carried();
        let (code, out, err) = env.deployer_with(&args, &through);
        assert_eq!(code, 0, "{args:?}: {out}\n{err}");
        assert!(proxy.carried() > before, "{args:?} went through the proxy");
    }
    // NO_PROXY covering the endpoint bypasses it (lower case works too).
    let before = proxy.carried();
    let (code, _, err) = env.deployer_with(
        &["experiment", "list"],
        &[
            ("https_proxy", proxy.url.as_str()),
            ("http_proxy", proxy.url.as_str()),
            ("no_proxy", "127.0.0.1"),
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(proxy.carried(), before, "NO_PROXY bypasses the proxy");
}

/// The committed iam/deployer-policy.json and the README's table are what `deployer iam-policy`
/// prints (one source: deployer/src/permissions.rs; `make render` rewrites the JSON).
#[test]
fn the_committed_deployer_policy_and_the_readme_table_match_the_source() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let run = |args: &[&str]| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_deployer"))
            .args(args)
            .output()
            .expect("run deployer");
        assert!(output.status.success());
        String::from_utf8(output.stdout).expect("utf-8")
    };
    let committed = std::fs::read_to_string(root.join("iam/deployer-policy.json"))
        .expect("iam/deployer-policy.json");
    assert_eq!(
        committed,
        run(&["iam-policy"]),
        "iam/deployer-policy.json is stale: run `make render`"
    );
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    let table = run(&["iam-policy", "--table"]);
    assert!(
        readme.contains(&format!(
            "<!-- iam-policy-table -->\n{table}<!-- /iam-policy-table -->"
        )),
        "the README's table differs from `deployer iam-policy --table`:\n{table}"
    );
}

/// Lambda answers an update racing another with ResourceConflictException. `enable` then reads
/// the function again and plans anew: the other change survives (a stale plan sent again would
/// have dropped it), and `disable` restores the function as the other change left it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_function_changed_during_enable_is_read_again_and_planned_anew() {
    use aws_sdk_lambda::types::Environment;
    use faultline_testkit::forward_proxy::{ForwardProxy, Meanwhile};
    let env = Env::start().await;
    env.init();
    let role = env.role("racing-role").await;
    env.function("racing", &role, &[], &[("TABLE", "orders")])
        .await;
    let lambda = env.lambda.clone();
    let meanwhile: Meanwhile = std::sync::Arc::new(move || {
        let lambda = lambda.clone();
        Box::pin(async move {
            lambda
                .update_function_configuration()
                .function_name("racing")
                .environment(
                    Environment::builder()
                        .variables("TABLE", "orders")
                        .variables("ADDED_MEANWHILE", "yes")
                        .build(),
                )
                .send()
                .await
                .expect("the concurrent change");
        })
    });
    let proxy = ForwardProxy::start_with_conflict(
        "PUT",
        "/2015-03-31/functions/racing/configuration",
        meanwhile,
    )
    .await;
    let through = [
        ("HTTP_PROXY", proxy.url.as_str()),
        ("HTTPS_PROXY", proxy.url.as_str()),
    ];
    let (code, out, err) = env.deployer_with(&["enable", "racing"], &through);
    assert_eq!(code, 0, "{out}\n{err}");
    let (_, vars) = env.state("racing").await;
    assert_eq!(
        vars.get("ADDED_MEANWHILE").map(String::as_str),
        Some("yes"),
        "the concurrent change was lost: {vars:?}"
    );
    assert!(vars.contains_key("AWS_LAMBDA_EXEC_WRAPPER"), "{vars:?}");

    let (code, out, err) = env.deployer(&["disable", "racing", "--yes"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let (_, vars) = env.state("racing").await;
    let expected: std::collections::BTreeMap<String, String> = [
        ("ADDED_MEANWHILE".to_string(), "yes".to_string()),
        ("TABLE".to_string(), "orders".to_string()),
    ]
    .into();
    assert_eq!(vars, expected);
}

/// `init --store s3` makes a private, versioned, encrypted bucket holding the config; ten
/// concurrent `experiment start`s lose no edit (moto's log shows S3 refusing stale `If-Match`
/// writes, 412, which were redone); `enable` wires the object's ARN and the read policy grants
/// GetObject on exactly it.
#[tokio::test]
async fn an_s3_store_is_private_and_versioned_and_loses_no_concurrent_edit() {
    let env = Env::start_logged().await;
    let config = env.write(
        "faultline.yaml",
        &format!("team_private_key: \"{SECRET_MARKER}\"\nexperiments: []\n"),
    );
    let dist = env.dist().to_string_lossy().into_owned();
    let (code, out, err) = env.deployer(&[
        "init", "--store", "s3", "--config", &config, "--dist", &dist,
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    let bucket = "faultline-config-123456789012-us-east-1";
    assert!(
        out.contains(&format!("arn:aws:s3:::{bucket}/faultline.yaml (created)")),
        "{out}"
    );
    env.assert_private_versioned_bucket(bucket).await;
    let s3 = env.s3().await;
    // A second init changes nothing.
    let (code, out, err) = env.deployer(&["init", "--store", "s3", "--dist", &dist]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("(kept:"), "{out}");

    concurrent_starts(&env, &[], &[("FAULTLINE_STORE", "s3")]).await;
    let (code, out, err) =
        env.deployer(&["experiment", "list", "--store", "s3", "--output", "json"]);
    assert_eq!(code, 0, "{err}");
    let listed: serde_json::Value = serde_json::from_str(&out).expect("json");
    let names = listed["experiments"].as_array().map_or(0, Vec::len);
    assert_eq!(names, 10, "a concurrent edit was lost: {out}");
    let refused = env
        .moto
        .requests()
        .iter()
        .filter(|r| r.contains(&format!("PUT /{bucket}/faultline.yaml")) && r.contains("\" 412 "))
        .count();
    assert!(
        refused > 0,
        "no write was refused: {:?}",
        env.moto.requests()
    );
    let text = s3
        .get_object()
        .bucket(bucket)
        .key("faultline.yaml")
        .send()
        .await
        .expect("object")
        .body
        .collect()
        .await
        .expect("body")
        .into_bytes();
    assert!(String::from_utf8_lossy(&text).contains(SECRET_MARKER));
    // Without --store, the store that exists is found; the other one is not there.
    let (code, out, err) = env.deployer(&["experiment", "list", "--output", "json"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("\"name\""), "{out}");
    let (code, _, err) = env.deployer(&["experiment", "list", "--store", "secretsmanager"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("run `deployer init` first"), "{err}");
    // Both stores: which one the functions read is not guessed.
    env.secrets
        .create_secret()
        .name("faultline-config")
        .secret_string("experiments: []\n")
        .send()
        .await
        .expect("a second store");
    let (code, _, err) = env.deployer(&["experiment", "list"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("both S3 object") && err.contains("--store"),
        "{err}"
    );
    env.secrets
        .delete_secret()
        .secret_id("faultline-config")
        .force_delete_without_recovery(true)
        .send()
        .await
        .expect("the second store goes");

    let role = env.role("s3-store-role").await;
    env.function("s3-store-fn", &role, &[], &[]).await;
    let (code, out, err) = env.deployer(&["enable", "s3-store-fn", "--store", "s3", "--yes"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let (_, vars) = env.state("s3-store-fn").await;
    assert_eq!(
        vars.get("GREMLIN_CONFIG_ARN").map(String::as_str),
        Some(format!("arn:aws:s3:::{bucket}/faultline.yaml").as_str())
    );
    let document = env
        .policy_document(
            "arn:aws:iam::123456789012:policy/faultline-read-config-us-east-1",
            "v1",
        )
        .await
        .to_string();
    assert!(document.contains("s3:GetObject"), "{document}");
    assert!(!document.contains("secretsmanager"), "{document}");

    // status names the store and what reading it costs at the config's interval.
    let (code, out, err) = env.deployer(&["status", "s3-store-fn", "--store", "s3"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(&format!(
            "config: S3 arn:aws:s3:::{bucket}/faultline.yaml (refresh_interval 30s: 86400 reads \
             per busy environment-month, about $0.035 at S3 prices)"
        )),
        "{out}"
    );
}

/// A config kept in one account and read from another: `init --reader-accounts` in the config
/// account (moto serves each account apart; its credentials come from STS) makes the store and
/// the role the workload account assumes; `init --config-arn --config-role` in the workload
/// account makes a read policy that may assume exactly that role and makes no store; `enable`
/// wires both variables, and `disable` restores the function exactly.
#[tokio::test]
async fn a_config_in_one_account_is_read_from_another_through_its_reader_role() {
    let env = Env::start().await;
    let central = env.assume("arn:aws:iam::222222222222:role/platform").await;
    let dist = env.dist().to_string_lossy().into_owned();

    // The config account.
    let (code, out, err) = env.deployer_in(
        &central,
        &[
            "init",
            "--store",
            "s3",
            "--reader-accounts",
            "123456789012",
            "--dist",
            &dist,
        ],
    );
    assert_eq!(code, 0, "{out}\n{err}");
    let object = "arn:aws:s3:::faultline-config-222222222222-us-east-1/faultline.yaml";
    let role = "arn:aws:iam::222222222222:role/faultline-config-reader";
    assert!(out.contains(&format!("role    {role} (created;")), "{out}");
    let central_iam = aws_sdk_iam::Client::new(&central.sdk);
    let trust = central_iam
        .get_role()
        .role_name("faultline-config-reader")
        .send()
        .await
        .expect("the reader role")
        .role
        .and_then(|r| r.assume_role_policy_document)
        .unwrap_or_default();
    let trust = percent_encoding::percent_decode_str(&trust).decode_utf8_lossy();
    assert!(trust.contains("arn:aws:iam::123456789012:root"), "{trust}");
    let reads = central_iam
        .get_role_policy()
        .role_name("faultline-config-reader")
        .policy_name("read-faultline-config")
        .send()
        .await
        .expect("the role's policy")
        .policy_document;
    let reads = percent_encoding::percent_decode_str(&reads).decode_utf8_lossy();
    assert!(
        reads.contains("s3:GetObject") && reads.contains(object),
        "{reads}"
    );
    assert!(!reads.contains("DescribeAlarms"), "{reads}");

    // The workload account.
    let (code, out, err) = env.deployer(&[
        "init",
        "--config-arn",
        object,
        "--config-role",
        role,
        "--dist",
        &dist,
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("kept in another account"), "{out}");
    let policy = env.read_policy_text("faultline").await;
    assert!(
        policy.contains("sts:AssumeRole") && policy.contains(role),
        "{policy}"
    );
    assert!(!policy.contains("s3:GetObject"), "{policy}");
    let iam_role = env.role("orders-role").await;
    env.function("orders", &iam_role, &[], &[]).await;
    let before = env.state("orders").await;
    let (code, out, err) = env.deployer(&[
        "enable",
        "orders",
        "--config-arn",
        object,
        "--config-role",
        role,
        "--yes",
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    let (_, vars) = env.state("orders").await;
    assert_eq!(vars["GREMLIN_CONFIG_ARN"], object);
    assert_eq!(vars["GREMLIN_CONFIG_ARN_ROLE"], role);
    let (code, _, err) = env.deployer(&["enable", "orders", "--config-role", "not-a-role"]);
    assert_eq!(code, 2, "{err}");
    let (code, out, err) = env.deployer(&["disable", "orders", "--yes"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(env.state("orders").await, before, "disable restored it");
}

/// Ten `experiment start` processes at once (`e0` to `e9`, a latency on ingress, `extra`
/// options), with `vars` in their environment; each must succeed.
async fn concurrent_starts(env: &Env, extra: &[&str], vars: &[(&str, &str)]) {
    let mut children = Vec::new();
    for i in 0..10 {
        let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_deployer"))
            .args([
                "experiment",
                "start",
                "--flag",
                "ingress",
                "--latency",
                "10",
            ])
            .args(["--experiment", &format!("e{i}")])
            .args(extra)
            .envs(vars.iter().copied())
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ENDPOINT_URL", &env.moto.endpoint)
            .output();
        children.push(child);
    }
    for child in children {
        let output = child.await.expect("deployer ran");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// `--store appconfig`: init creates the application, environment, freeform profile and an
/// immediate deployment strategy on the AppConfig stand-in (moto has no environments, strategies
/// or deployments), writes and deploys the first version, and the read policy grants the data
/// plane's two calls on exactly that configuration. Concurrent `experiment start`s lose nothing:
/// AppConfig's locking token refuses a stale write (409), which is redone, and the data plane
/// serves the last deployment with every experiment. The store is never guessed.
// The stand-in serves from the runtime's workers while the test waits on the deployer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_appconfig_store_is_deployed_and_loses_no_concurrent_edit() {
    let env = Env::start().await;
    let appconfig = faultline_testkit::appconfig::AppConfigData::start().await;
    let standin = [("AWS_ENDPOINT_URL_APPCONFIG", appconfig.endpoint.as_str())];
    let config = env.write(
        "faultline.yaml",
        &format!("team_private_key: \"{SECRET_MARKER}\"\nexperiments: []\n"),
    );
    let dist = env.dist().to_string_lossy().into_owned();
    // A dry run creates nothing.
    let (code, out, err) = env.deployer_with(
        &["init", "--store", "appconfig", "--dist", &dist, "--dry-run"],
        &standin,
    );
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("would be created"), "{out}");
    assert!(
        !appconfig.log().iter().any(|l| l.starts_with("Create")),
        "{:?}",
        appconfig.log()
    );
    let (code, out, err) = env.deployer_with(
        &[
            "init",
            "--store",
            "appconfig",
            "--config",
            &config,
            "--dist",
            &dist,
        ],
        &standin,
    );
    assert_eq!(code, 0, "{out}\n{err}");
    let arn = out
        .split_whitespace()
        .find(|w| w.starts_with("appconfig:"))
        .unwrap_or_default()
        .to_string();
    assert!(out.contains(&format!("{arn} (created)")), "{out}");
    let ids = arn.trim_start_matches("appconfig:").to_string();
    let log = appconfig.log();
    for operation in [
        "CreateApplication 201",
        "CreateEnvironment 201",
        "CreateConfigurationProfile 201",
        "CreateDeploymentStrategy 201",
        "CreateHostedConfigurationVersion 201",
        "StartDeployment 201",
    ] {
        assert!(log.iter().any(|l| l == operation), "{operation}: {log:?}");
    }
    assert!(
        appconfig
            .deployed("faultline/rehearsals/faultline")
            .is_some_and(|c| c.contains(SECRET_MARKER))
    );
    let policy = env.read_policy_text("faultline").await;
    let (app, rest) = ids.split_once('/').unwrap_or_default();
    let (environment, profile) = rest.split_once('/').unwrap_or_default();
    let configuration = format!(
        "arn:aws:appconfig:us-east-1:123456789012:application/{app}/environment/{environment}/configuration/{profile}"
    );
    assert!(
        policy.contains("appconfig:StartConfigurationSession")
            && policy.contains("appconfig:GetLatestConfiguration")
            && policy.contains(&configuration),
        "{policy}"
    );
    // A second init keeps it.
    let (code, out, err) =
        env.deployer_with(&["init", "--store", "appconfig", "--dist", &dist], &standin);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&format!("{arn} (kept")), "{out}");

    let edits: Vec<_> = (0..8)
        .map(|i| {
            let name = format!("edit-{i}");
            let endpoint = appconfig.endpoint.clone();
            let env = &env;
            async move {
                let vars = [("AWS_ENDPOINT_URL_APPCONFIG", endpoint.as_str())];
                env.deployer_with(
                    &[
                        "--store",
                        "appconfig",
                        "experiment",
                        "start",
                        "--experiment",
                        &name,
                        "--flag",
                        "ingress",
                        "--latency",
                        "5",
                    ],
                    &vars,
                )
            }
        })
        .collect();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::scope(|scope| {
        for edit in edits {
            let tx = tx.clone();
            scope.spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                let _ = tx.send(runtime.block_on(edit));
            });
        }
    });
    drop(tx);
    for (code, out, err) in rx {
        assert_eq!(code, 0, "{out}\n{err}");
    }
    let served = appconfig
        .deployed(&ids)
        .expect("the data plane serves the configuration");
    for i in 0..8 {
        assert!(
            served.contains(&format!("edit-{i}")),
            "edit-{i} lost: {served}"
        );
    }
    assert!(served.contains(SECRET_MARKER));
    let log = appconfig.log();
    assert!(
        log.iter()
            .any(|l| l == "CreateHostedConfigurationVersion 409"),
        "no stale write was refused: {log:?}"
    );
    // status names the store and what reading it costs.
    let (code, out, err) = env.deployer_with(&["--store", "appconfig", "status"], &standin);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("AppConfig"), "{out}");
    // The store is never guessed: without --store the S3 default is asked for.
    let (code, _, err) = env.deployer_with(&["experiment", "list"], &standin);
    assert_eq!(code, 2, "{err}");
    // enable wires the ids; iam-policy --store appconfig grants the AppConfig calls, only then.
    let role = env.role("ac-role").await;
    env.function("ac-fn", &role, &[], &[]).await;
    let (code, out, err) = env.deployer_with(
        &["--store", "appconfig", "enable", "ac-fn", "--yes"],
        &standin,
    );
    assert_eq!(code, 0, "{out}\n{err}");
    let (_, vars) = env.state("ac-fn").await;
    assert_eq!(vars.get("GREMLIN_CONFIG_ARN"), Some(&arn));
    let (_, with_appconfig, _) = env.deployer(&["--store", "appconfig", "iam-policy"]);
    assert!(with_appconfig.contains("appconfig:CreateHostedConfigurationVersion"));
    assert!(!with_appconfig.contains("s3:PutObject"));
    let (_, default, _) = env.deployer(&["iam-policy"]);
    assert!(!default.contains("appconfig:"), "{default}");
}

/// Two moto accounts, the second reached through STS, with faultline installed in the first's
/// us-east-1 and eu-west-1 and in the second's us-east-1, and one function in each of those:
/// orders-east, orders-west and billing-east.
struct TwoAccounts {
    sdk: aws_config::SdkConfig,
    second: support::Assumed,
}

/// The fleet options that reach all four targets.
const FLEET: [&str; 6] = [
    "--regions",
    "us-east-1,eu-west-1",
    "--accounts",
    "123456789012,222222222222",
    "--role-name",
    "faultline-deployer",
];

impl TwoAccounts {
    async fn set_up(env: &Env) -> TwoAccounts {
        let accounts = TwoAccounts {
            sdk: faultline_testkit::aws_config(&env.moto.endpoint, "testing", "testing").await,
            second: env.assume("arn:aws:iam::222222222222:role/setup").await,
        };
        let dist = env.dist().to_string_lossy().into_owned();
        for region in ["us-east-1", "eu-west-1"] {
            let (code, out, err) = env.deployer(&["init", "--region", region, "--dist", &dist]);
            assert_eq!(code, 0, "{out}\n{err}");
        }
        let (code, out, err) = env.deployer_in(
            &accounts.second,
            &["init", "--region", "us-east-1", "--dist", &dist],
        );
        assert_eq!(code, 0, "{out}\n{err}");
        for (in_second, region, function) in [
            (false, "us-east-1", "orders-east"),
            (false, "eu-west-1", "orders-west"),
            (true, "us-east-1", "billing-east"),
        ] {
            accounts.function(in_second, region, function, &[]).await;
        }
        accounts
    }

    /// The SDK's config in the first or second account, in `region`.
    fn config(&self, in_second: bool, region: &str) -> aws_config::SdkConfig {
        if in_second {
            self.second.config(region)
        } else {
            self.sdk
                .to_builder()
                .region(aws_config::Region::new(region.to_string()))
                .build()
        }
    }

    /// A function (with its role) using `layers`.
    async fn function(&self, in_second: bool, region: &str, name: &str, layers: &[String]) {
        let config = self.config(in_second, region);
        let role =
            support::lambda_role(&aws_sdk_iam::Client::new(&config), &format!("{name}-role")).await;
        aws_sdk_lambda::Client::new(&config)
            .create_function()
            .function_name(name)
            .runtime(aws_sdk_lambda::types::Runtime::Python313)
            .role(role)
            .handler("handler.handler")
            .code(
                aws_sdk_lambda::types::FunctionCode::builder()
                    .zip_file(aws_sdk_lambda::primitives::Blob::new(support::EMPTY_ZIP))
                    .build(),
            )
            .set_layers(Some(layers.to_vec()))
            .send()
            .await
            .expect("function");
    }
}

/// `status` across two accounts and two Regions: each account reached through the role assumed
/// there, every target run side by side, every function listed with its account and Region (a
/// target with no install says so). A target that fails (a named function it lacks) fails
/// alone: named with its account and Region, the others reported, and the exit code says so.
#[tokio::test]
async fn status_across_accounts_and_regions_names_what_failed_and_reports_the_rest() {
    let env = Env::start().await;
    TwoAccounts::set_up(&env).await;
    let status = |extra: &[&str]| {
        let mut args = vec!["status"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&FLEET);
        env.deployer(&args)
    };
    let (code, out, err) = status(&["--output", "json"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let report: serde_json::Value = serde_json::from_str(&out).expect("json");
    let mut functions: Vec<(String, String, String)> = report["functions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| {
            let field = |k: &str| f[k].as_str().unwrap_or_default().to_string();
            (field("account"), field("region"), field("function"))
        })
        .collect();
    functions.sort();
    assert_eq!(
        functions,
        [
            (
                "123456789012".into(),
                "eu-west-1".into(),
                "orders-west".into()
            ),
            (
                "123456789012".into(),
                "us-east-1".into(),
                "orders-east".into()
            ),
            (
                "222222222222".into(),
                "us-east-1".into(),
                "billing-east".into()
            ),
        ]
    );
    let targets = report["targets"].as_array().cloned().unwrap_or_default();
    assert_eq!(targets.len(), 4, "{report}");
    let uninstalled = targets
        .iter()
        .find(|t| t["account"] == "222222222222" && t["region"] == "eu-west-1")
        .expect("the target without an install");
    assert!(
        uninstalled["problem"]
            .as_str()
            .is_some_and(|p| p.contains("run `deployer init` first")),
        "{uninstalled}"
    );
    let (_, text, _) = status(&[]);
    assert!(text.contains("billing-east"), "{text}");
    assert!(
        text.contains("222222222222 us-east-1       config S3"),
        "{text}"
    );

    // One function by name: the targets without it fail, each named; the one with it reports.
    let (code, out, err) = status(&["orders-east", "--output", "json"]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(err.contains("3 of 4 targets failed"), "{err}");
    for target in [
        "123456789012 eu-west-1",
        "222222222222 us-east-1",
        "222222222222 eu-west-1",
    ] {
        assert!(err.contains(target), "{target} in {err}");
    }
    assert!(err.contains("orders-east"), "{err}");
    let report: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(
        report["functions"][0]["function"], "orders-east",
        "{report}"
    );
    assert_eq!(report["functions"][0]["account"], "123456789012");
    // Bad input: exit 2, named.
    let (code, _, err) = env.deployer(&["status", "--accounts", "12", "--role-name", "x"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--accounts"), "{err}");
}

/// `enable --all` and `disable --all` across two accounts and two Regions: every function wired
/// in every installed target, and restored exactly. A function refused in one target (six
/// layers would be too many) does not stop the others, and the summary names it with its
/// account and Region; so is the target without an install (enabling needs its store).
#[tokio::test]
async fn enable_and_disable_across_accounts_and_regions() {
    let env = Env::start().await;
    let accounts = TwoAccounts::set_up(&env).await;
    // A function that already has five layers: enabling it is refused.
    let lambda = aws_sdk_lambda::Client::new(&accounts.config(true, "us-east-1"));
    let mut layers = Vec::new();
    for i in 0..5 {
        let layer = lambda
            .publish_layer_version()
            .layer_name(format!("own-{i}"))
            .content(
                aws_sdk_lambda::types::LayerVersionContentInput::builder()
                    .zip_file(aws_sdk_lambda::primitives::Blob::new(support::EMPTY_ZIP))
                    .build(),
            )
            .send()
            .await
            .expect("layer");
        layers.push(layer.layer_version_arn().unwrap_or_default().to_string());
    }
    accounts
        .function(true, "us-east-1", "crowded", &layers)
        .await;
    let state = |in_second: bool, region: &str, name: &str| {
        let lambda = aws_sdk_lambda::Client::new(&accounts.config(in_second, region));
        let name = name.to_string();
        async move {
            let config = lambda
                .get_function_configuration()
                .function_name(&name)
                .send()
                .await
                .expect("configuration");
            let vars = config
                .environment()
                .and_then(|e| e.variables())
                .cloned()
                .unwrap_or_default();
            let layers: Vec<String> = config
                .layers()
                .iter()
                .filter_map(|l| l.arn().map(str::to_string))
                .collect();
            (layers, vars)
        }
    };
    let functions = [
        (false, "us-east-1", "orders-east"),
        (false, "eu-west-1", "orders-west"),
        (true, "us-east-1", "billing-east"),
        (true, "us-east-1", "crowded"),
    ];
    let mut before = Vec::new();
    for (in_second, region, name) in functions {
        before.push(state(in_second, region, name).await);
    }

    let mut args = vec!["enable", "--all", "--yes"];
    args.extend_from_slice(&FLEET);
    let (code, out, err) = env.deployer(&args);
    assert_eq!(code, 1, "one function and one target fail:\n{out}\n{err}");
    let crowded_line = err
        .lines()
        .find(|l| l.contains("crowded"))
        .unwrap_or_default();
    assert!(
        crowded_line.starts_with("222222222222 us-east-1: error:"),
        "{err}"
    );
    assert!(err.contains("222222222222 eu-west-1: error:"), "{err}");
    for target in [
        "# 123456789012 us-east-1",
        "# 123456789012 eu-west-1",
        "# 222222222222 us-east-1",
        "# 222222222222 eu-west-1",
    ] {
        assert!(out.contains(target), "{target} in {out}");
    }
    for (in_second, region, name) in &functions[..3] {
        let (_, vars) = state(*in_second, region, name).await;
        assert!(
            vars.contains_key("FAULTLINE_SAVED"),
            "{name} enabled: {vars:?}"
        );
        let account = if *in_second {
            "222222222222"
        } else {
            "123456789012"
        };
        assert!(
            vars.get("GREMLIN_CONFIG_ARN")
                .is_some_and(|arn| arn.contains(&format!("faultline-config-{account}-{region}"))),
            "{name}: the store of its own account and Region: {vars:?}"
        );
    }
    let (_, crowded) = state(true, "us-east-1", "crowded").await;
    assert!(!crowded.contains_key("FAULTLINE_SAVED"), "{crowded:?}");

    let mut args = vec!["disable", "--all", "--yes"];
    args.extend_from_slice(&FLEET);
    let (code, out, err) = env.deployer(&args);
    // Nothing to disable where nothing was enabled: every target succeeds.
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("# 123456789012 eu-west-1"), "{out}");
    for ((in_second, region, name), before) in functions.iter().zip(&before) {
        assert_eq!(
            &state(*in_second, region, name).await,
            before,
            "{name} restored exactly"
        );
    }
}

/// `experiment` and `report` across two accounts and two Regions: an experiment started in every
/// target's own store (the target without an install named, the others started), listed and
/// stopped there; a report of all the targets' functions, each named with its account and
/// Region, over the earliest to the latest of their windows; and `enable --dry-run` showing
/// every target's plan while changing nothing.
#[tokio::test]
async fn experiments_reports_and_plans_across_accounts_and_regions() {
    let env = Env::start().await;
    let accounts = TwoAccounts::set_up(&env).await;
    let fleet = |command: &[&str]| {
        let mut args = command.to_vec();
        args.extend_from_slice(&FLEET);
        env.deployer(&args)
    };
    let installed = [
        "123456789012 us-east-1",
        "123456789012 eu-west-1",
        "222222222222 us-east-1",
    ];
    let (code, out, err) = fleet(&[
        "experiment",
        "start",
        "--flag",
        "ingress",
        "--latency",
        "5",
        "--experiment",
        "game-day",
        "--output",
        "json",
    ]);
    assert_eq!(
        code, 1,
        "the target without an install fails:\n{out}\n{err}"
    );
    assert!(err.contains("1 of 4 targets failed"), "{err}");
    assert!(err.contains("222222222222 eu-west-1: "), "{err}");
    let started: serde_json::Value = serde_json::from_str(&out).expect("json");
    let started_in: Vec<String> = started["targets"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| t["report"]["started"] == "game-day")
        .map(|t| {
            format!(
                "{} {}",
                t["account"].as_str().unwrap_or(""),
                t["region"].as_str().unwrap_or("")
            )
        })
        .collect();
    assert_eq!(started_in, installed, "{started}");
    // Each store has it: read with the SDK, as the extension would.
    for (in_second, region) in [
        (false, "us-east-1"),
        (false, "eu-west-1"),
        (true, "us-east-1"),
    ] {
        let account = if in_second {
            "222222222222"
        } else {
            "123456789012"
        };
        let object = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&accounts.config(in_second, region))
                .force_path_style(true)
                .build(),
        )
        .get_object()
        .bucket(format!("faultline-config-{account}-{region}"))
        .key("faultline.yaml")
        .send()
        .await
        .expect("the target's config object");
        let bytes = object.body.collect().await.expect("body").into_bytes();
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.contains("game-day"), "{account} {region}: {text}");
    }
    let (code, out, err) = fleet(&["experiment", "list"]);
    assert_eq!(code, 1, "{out}\n{err}");
    for target in installed {
        let part = out.split(&format!("# {target}")).nth(1).unwrap_or_default();
        assert!(part.contains("game-day"), "{target} lists it:\n{out}");
    }

    // Metrics in two of the targets, 20 to 10 minutes ago.
    let now = chrono::Utc::now();
    let from = now - chrono::Duration::minutes(20);
    for (in_second, region, function, errors) in [
        (false, "us-east-1", "orders-east", 2.0),
        (true, "us-east-1", "billing-east", 5.0),
    ] {
        let cloudwatch = aws_sdk_cloudwatch::Client::new(&accounts.config(in_second, region));
        for (metric, value) in [("Invocations", 100.0), ("Errors", errors)] {
            cloudwatch
                .put_metric_data()
                .namespace("AWS/Lambda")
                .metric_data(
                    aws_sdk_cloudwatch::types::MetricDatum::builder()
                        .metric_name(metric)
                        .dimensions(
                            aws_sdk_cloudwatch::types::Dimension::builder()
                                .name("FunctionName")
                                .value(function)
                                .build(),
                        )
                        .timestamp(aws_sdk_cloudwatch::primitives::DateTime::from_secs(
                            (from + chrono::Duration::minutes(5)).timestamp(),
                        ))
                        .value(value)
                        .unit(aws_sdk_cloudwatch::types::StandardUnit::Count)
                        .build(),
                )
                .send()
                .await
                .expect("put metric data");
        }
    }
    let (from_text, to_text) = (
        from.to_rfc3339(),
        (now - chrono::Duration::minutes(10)).to_rfc3339(),
    );
    let (code, out, err) = fleet(&[
        "report", "--all", "--from", &from_text, "--to", &to_text, "--format", "json", "--out", "-",
    ]);
    assert_eq!(code, 0, "{err}");
    let report: serde_json::Value = serde_json::from_str(&out).expect("json report");
    let mut names: Vec<&str> = report["functions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["name"].as_str())
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "123456789012 eu-west-1 orders-west",
            "123456789012 us-east-1 orders-east",
            "222222222222 us-east-1 billing-east",
        ]
    );
    let during = |name: &str| {
        report["functions"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|f| f["name"] == name)
            .and_then(|f| f["figures"].as_array().cloned())
            .unwrap_or_default()
            .into_iter()
            .find(|f| f["phase"] == "during")
            .unwrap_or_default()
    };
    let billing = during("222222222222 us-east-1 billing-east");
    assert_eq!(billing["invocations"], 100.0, "{billing}");
    assert_eq!(billing["errors"], 5.0, "{billing}");
    assert_eq!(during("123456789012 us-east-1 orders-east")["errors"], 2.0);
    // The experiment's own window: read in each store; the target without one is named.
    let (code, out, err) = fleet(&[
        "report",
        "--all",
        "--experiment",
        "game-day",
        "--format",
        "md",
        "--out",
        "-",
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("222222222222 eu-west-1: "), "{err}");
    assert!(
        out.contains("## 222222222222 us-east-1 billing-east"),
        "{out}"
    );

    // A dry run: every installed target's plan, nothing changed.
    let (code, out, err) = fleet(&["enable", "--all", "--dry-run", "--output", "json"]);
    assert_eq!(code, 1, "the target without an install:\n{out}\n{err}");
    let plans: serde_json::Value = serde_json::from_str(&out).expect("json");
    let planned: Vec<String> = plans["targets"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|t| {
            t["report"]["functions"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter(|f| {
                    f["changed"] == true && f["diff"].as_array().is_some_and(|d| !d.is_empty())
                })
                .filter_map(|f| f["function"].as_str().map(str::to_string))
        })
        .collect();
    assert_eq!(
        planned,
        ["orders-east", "orders-west", "billing-east"],
        "{plans}"
    );
    assert!(
        plans["targets"]
            .as_array()
            .into_iter()
            .flatten()
            .all(|t| t["report"]["dry_run"] != false)
    );
    let (_, vars) = {
        let config = aws_sdk_lambda::Client::new(&accounts.config(true, "us-east-1"))
            .get_function_configuration()
            .function_name("billing-east")
            .send()
            .await
            .expect("configuration");
        (
            (),
            config
                .environment()
                .and_then(|e| e.variables())
                .cloned()
                .unwrap_or_default(),
        )
    };
    assert!(
        !vars.contains_key("FAULTLINE_SAVED"),
        "a dry run changes nothing: {vars:?}"
    );

    let (code, out, err) = fleet(&["experiment", "stop", "game-day"]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(err.contains("1 of 4 targets failed"), "{err}");
    let (_, out, _) = fleet(&["experiment", "list"]);
    assert!(!out.contains("game-day"), "stopped everywhere: {out}");
}

/// Targets found rather than listed: `--accounts-from-org` takes every active account under an
/// organizational unit and the units beneath it (not the ones elsewhere in the organization),
/// and `--regions all-enabled` each account's own enabled Regions (an opt-in Region only where
/// the account enabled it). On a terminal, each target has its own progress line, ending with
/// what happened there; without one, none is drawn.
#[tokio::test]
async fn accounts_from_the_organization_and_their_enabled_regions_each_with_a_line() {
    let env = Env::start().await;
    let sdk = faultline_testkit::aws_config(&env.moto.endpoint, "testing", "testing").await;
    let org = aws_sdk_organizations::Client::new(&sdk);
    org.create_organization()
        .feature_set(aws_sdk_organizations::types::OrganizationFeatureSet::All)
        .send()
        .await
        .expect("organization");
    let roots = org.list_roots().send().await.expect("roots");
    let root = roots.roots()[0].id().unwrap_or_default().to_string();
    let unit = |parent: String, name: &'static str| {
        let org = org.clone();
        async move {
            org.create_organizational_unit()
                .parent_id(parent)
                .name(name)
                .send()
                .await
                .expect("unit")
                .organizational_unit
                .and_then(|u| u.id)
                .unwrap_or_default()
        }
    };
    let game_day = unit(root.clone(), "game-day").await;
    let team = unit(game_day.clone(), "team").await;
    let mut accounts = Vec::new();
    for (i, parent) in [&game_day, &team, &root].into_iter().enumerate() {
        let account = org
            .create_account()
            .email(format!("member{i}@example.com"))
            .account_name(format!("member-{i}"))
            .send()
            .await
            .expect("account")
            .create_account_status
            .and_then(|s| s.account_id)
            .unwrap_or_default();
        if *parent != root {
            org.move_account()
                .account_id(&account)
                .source_parent_id(&root)
                .destination_parent_id(parent)
                .send()
                .await
                .expect("move");
        }
        accounts.push(account);
    }
    // The second member opts in to Cape Town, as itself.
    let member = env
        .assume(&format!("arn:aws:iam::{}:role/setup", accounts[1]))
        .await;
    aws_sdk_account::Client::new(&member.sdk)
        .enable_region()
        .region_name("af-south-1")
        .send()
        .await
        .expect("enable region");

    let args = [
        "status",
        "--accounts-from-org",
        game_day.as_str(),
        "--role-name",
        "faultline-deployer",
        "--regions",
        "all-enabled",
        "--output",
        "json",
    ];
    let (code, out, err) = env.deployer(&args);
    // Nothing is installed in the members: every target says so, and lists its functions.
    assert_eq!(code, 0, "{out}\n{err}");
    let report: serde_json::Value = serde_json::from_str(&out).expect("json");
    let mut targets: Vec<(String, String)> = report["targets"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| {
            (
                t["account"].as_str().unwrap_or_default().to_string(),
                t["region"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    targets.sort();
    let by_default = [
        "ap-northeast-1",
        "ap-northeast-2",
        "ap-northeast-3",
        "ap-south-1",
        "ap-southeast-1",
        "ap-southeast-2",
        "ca-central-1",
        "eu-central-1",
        "eu-north-1",
        "eu-west-1",
        "eu-west-2",
        "eu-west-3",
        "sa-east-1",
        "us-east-1",
        "us-east-2",
        "us-west-1",
        "us-west-2",
    ];
    let mut wanted: Vec<(String, String)> = Vec::new();
    for account in &accounts[..2] {
        for region in by_default {
            wanted.push((account.clone(), region.to_string()));
        }
    }
    wanted.push((accounts[1].clone(), "af-south-1".to_string()));
    wanted.sort();
    assert_eq!(targets, wanted);
    assert!(
        !err.contains("function(s)") && !err.contains("reading"),
        "no progress lines without a terminal: {err}"
    );
    // Bad ids are refused before anything is read.
    let (code, _, err) = env.deployer(&[
        "status",
        "--accounts-from-org",
        "111111111111",
        "--role-name",
        "x",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--accounts-from-org"), "{err}");
    let (code, _, err) = env.deployer(&["status", "--regions", "all-enabled,us-east-1"]);
    assert_eq!(code, 2, "{err}");

    // On a terminal (`script` gives the deployer one): one line per target, each ending with what
    // happened there. Two Regions of the second member: one installed, one not.
    let dist = env.dist().to_string_lossy().into_owned();
    let (code, out, err) =
        env.deployer_in(&member, &["init", "--region", "eu-west-1", "--dist", &dist]);
    assert_eq!(code, 0, "{out}\n{err}");
    let command = format!(
        "{} status --accounts {} --role-name faultline-deployer --regions eu-west-1,us-west-2",
        env!("CARGO_BIN_EXE_deployer"),
        accounts[1]
    );
    let output = env
        .command_as("script", &support::Keys::testing(), &[("TERM", "xterm")])
        .args(["-qec", &command, "/dev/null"])
        .output()
        .expect("script");
    let screen = String::from_utf8_lossy(&output.stdout);
    let member_id = &accounts[1];
    let lines: Vec<&str> = screen
        .split(['\r', '\n'])
        .filter(|l| l.contains(member_id.as_str()))
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l.contains(&format!("{member_id} eu-west-1")) && l.contains("0 function(s)")),
        "the installed target's line: {screen}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains(&format!("{member_id} us-west-2"))
                && l.contains("0 function(s), no config store")),
        "the target without an install: {screen}"
    );
}
