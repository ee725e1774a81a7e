use super::*;

const OURS: &str = "arn:aws:lambda:eu-west-1:123456789012:layer:faultline-x86_64";

fn target(version: u32) -> EnableTarget {
    EnableTarget {
        layer: OurLayer {
            layer_arn: OURS.into(),
            version_arn: format!("{OURS}:{version}"),
        },
        config_arn: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:faultline-config-AbCdEf"
            .into(),
        aws_endpoints: Vec::new(),
        tls_origination_env: Vec::new(),
        init_faults: false,
        config_role: None,
    }
}

fn with_services(names: &str) -> EnableTarget {
    let services = faultline_schema::aws_services::parse_list(names).unwrap();
    EnableTarget {
        aws_endpoints: services
            .iter()
            .map(|s| (s.endpoint_variable(), s.origination_url("eu-west-1")))
            .collect(),
        ..target(7)
    }
}

fn function(layers: &[&str], env: &[(&str, &str)]) -> FunctionConfig {
    FunctionConfig {
        name: "checkout".into(),
        runtime: Some("python3.13".into()),
        arch: Arch::X86_64,
        layers: layers.iter().map(|l| l.to_string()).collect(),
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        is_image: false,
        env_error: None,
    }
}

fn apply(current: &FunctionConfig, plan: &Plan) -> FunctionConfig {
    FunctionConfig {
        layers: plan.layers.clone(),
        env: plan.env.clone(),
        ..current.clone()
    }
}

#[test]
fn enable_chains_what_was_there_and_disable_restores_it() {
    let before = function(
        &[
            "arn:aws:lambda:eu-west-1:1:layer:otel:3",
            "arn:aws:lambda:eu-west-1:1:layer:utils:1",
        ],
        &[
            ("TABLE", "orders"),
            ("AWS_LAMBDA_EXEC_WRAPPER", "/opt/otel-instrument"),
            ("HTTPS_PROXY", "http://corp:3128"),
            ("NO_PROXY", "internal.example.com"),
        ],
    );
    let plan = plan_enable(&before, &target(7)).expect("plan");
    assert_eq!(plan.layers.len(), 3);
    assert_eq!(plan.layers[2], format!("{OURS}:7"));
    assert_eq!(plan.env["AWS_LAMBDA_EXEC_WRAPPER"], WRAPPER);
    assert_eq!(plan.env["FAULTLINE_NEXT_WRAPPER"], "/opt/otel-instrument");
    assert_eq!(plan.env["FAULTLINE_UPSTREAM_PROXY"], "http://corp:3128");
    assert_eq!(plan.env["HTTPS_PROXY"], DEPENDENCY_PROXY);
    assert_eq!(
        plan.env["NO_PROXY"],
        "internal.example.com,localhost,127.0.0.1,169.254.169.254"
    );
    assert_eq!(plan.env["TABLE"], "orders");
    let enabled = apply(&before, &plan);

    // Enabling again changes nothing.
    let again = plan_enable(&enabled, &target(7)).expect("plan");
    assert!(!again.changes(&enabled), "{again:?}");

    // Someone adds a variable meanwhile; disable keeps it and restores the rest exactly.
    let mut edited = enabled.clone();
    edited.env.insert("NEW".into(), "kept".into());
    let undo = plan_disable(&edited, |l| target(7).layer.owns(l)).expect("plan");
    let mut expected = before.env.clone();
    expected.insert("NEW".into(), "kept".into());
    assert_eq!(undo.env, expected);
    assert_eq!(undo.layers, before.layers);
}

#[test]
fn an_older_version_of_ours_is_replaced_in_place_and_restored() {
    let before = function(
        &[
            &format!("{OURS}:3"),
            "arn:aws:lambda:eu-west-1:1:layer:utils:1",
        ],
        &[],
    );
    let plan = plan_enable(&before, &target(4)).expect("plan");
    assert_eq!(plan.layers[0], format!("{OURS}:4"));
    let enabled = apply(&before, &plan);
    // Upgrading an enabled function only moves the layer version.
    let upgrade = plan_enable(&enabled, &target(5)).expect("plan");
    assert_eq!(upgrade.layers[0], format!("{OURS}:5"));
    assert_eq!(upgrade.env, enabled.env);
    let undo = plan_disable(&apply(&enabled, &upgrade), |l| target(5).layer.owns(l)).expect("plan");
    assert_eq!(undo.layers, before.layers);
    assert_eq!(undo.env, before.env);
}

#[test]
fn refusals_name_the_function() {
    let five: Vec<String> = (0..5)
        .map(|i| format!("arn:aws:lambda:eu-west-1:1:layer:l{i}:1"))
        .collect();
    let refs: Vec<&str> = five.iter().map(String::as_str).collect();
    let err = plan_enable(&function(&refs, &[]), &target(1)).expect_err("six layers");
    assert_eq!(
        err,
        PlanError::TooManyLayers {
            function: "checkout".into(),
            count: 6
        }
    );
    let mut image = function(&[], &[]);
    image.is_image = true;
    assert!(matches!(
        plan_enable(&image, &target(1)),
        Err(PlanError::Image { .. })
    ));
    let big = "x".repeat(4000);
    let err = plan_enable(&function(&[], &[("BIG", &big)]), &target(1)).expect_err("too big");
    assert!(err.to_string().contains("checkout"));
    let broken = function(&[], &[(SAVED, "{")]);
    assert!(matches!(
        plan_disable(&broken, |_| false),
        Err(PlanError::BadSaved { .. })
    ));
}

#[test]
fn os_only_runtimes_get_a_warning_and_disabled_functions_no_change() {
    let mut custom = function(&[], &[]);
    custom.runtime = Some("provided.al2023".into());
    let plan = plan_enable(&custom, &target(1)).expect("plan");
    assert_eq!(plan.warnings.len(), 1);
    assert!(plan.warnings[0].contains("bootstrap"));
    let plain = function(&["arn:aws:lambda:eu-west-1:1:layer:utils:1"], &[("A", "b")]);
    assert!(
        !plan_disable(&plain, |_| false)
            .expect("plan")
            .changes(&plain)
    );
    assert!(
        OurLayer {
            layer_arn: OURS.into(),
            version_arn: String::new()
        }
        .owns(&format!("{OURS}:12"))
    );
    assert!(
        !OurLayer {
            layer_arn: OURS.into(),
            version_arn: String::new()
        }
        .owns(&format!("{OURS}-other:12"))
    );
}

#[test]
fn lower_case_proxy_variables_are_handled_like_upper_case_ones() {
    let before = function(
        &[],
        &[
            ("https_proxy", "http://corp:3128"),
            ("http_proxy", "http://corp:3128"),
            ("no_proxy", "internal.example.com"),
        ],
    );
    let plan = plan_enable(&before, &target(1)).expect("plan");
    assert_eq!(plan.env["https_proxy"], DEPENDENCY_PROXY);
    assert_eq!(plan.env["http_proxy"], DEPENDENCY_PROXY);
    assert_eq!(plan.env["HTTPS_PROXY"], DEPENDENCY_PROXY);
    assert_eq!(plan.env["FAULTLINE_UPSTREAM_PROXY"], "http://corp:3128");
    assert!(plan.env["no_proxy"].starts_with("internal.example.com,"));
    assert!(plan.env["no_proxy"].contains("169.254.169.254"));
    let enabled = apply(&before, &plan);
    let undo = plan_disable(&enabled, |l| target(1).layer.owns(l)).expect("plan");
    let restored = apply(&enabled, &undo);
    assert_eq!(
        restored, before,
        "disable gives back exactly what was there"
    );
}

#[test]
fn an_unreadable_environment_is_refused_not_replaced() {
    let mut before = function(&[], &[]);
    before.env_error = Some("KMSAccessDeniedException: no access to key k1".into());
    let err = plan_enable(&before, &target(1)).expect_err("refused");
    assert!(matches!(err, PlanError::EnvironmentUnreadable { .. }));
    assert!(
        err.to_string().contains("KMSAccessDeniedException"),
        "{err}"
    );
    assert!(err.to_string().contains("checkout"), "{err}");
    assert!(plan_disable(&before, |_| false).is_err());
}

#[test]
fn node_and_java_functions_are_told_to_use_the_proxy() {
    let mut node = function(&[], &[("TABLE", "orders")]);
    node.runtime = Some("nodejs22.x".into());
    let plan = plan_enable(&node, &target(1)).expect("plan");
    assert_eq!(plan.env["NODE_USE_ENV_PROXY"], "1");
    let mut old_node = node.clone();
    old_node.runtime = Some("nodejs20.x".into());
    assert!(
        !plan_enable(&old_node, &target(1))
            .expect("plan")
            .env
            .contains_key("NODE_USE_ENV_PROXY")
    );

    let mut java = function(
        &[],
        &[("JAVA_TOOL_OPTIONS", "-XX:+UseSerialGC -Dhttp.proxyHost=old")],
    );
    java.runtime = Some("java21".into());
    let plan = plan_enable(&java, &target(1)).expect("plan");
    let options = &plan.env["JAVA_TOOL_OPTIONS"];
    assert!(options.starts_with("-XX:+UseSerialGC "), "{options}");
    assert!(!options.contains("=old"), "{options}");
    assert!(options.contains("-Dhttps.proxyPort=5034"), "{options}");
    assert!(
        options.contains("-Dhttp.nonProxyHosts=localhost|127.0.0.1|169.254.169.254"),
        "{options}"
    );
    let enabled = apply(&java, &plan);
    // Enabling again changes nothing; disabling restores the function's own options exactly.
    assert!(
        !plan_enable(&enabled, &target(1))
            .expect("plan")
            .changes(&enabled)
    );
    let undo = plan_disable(&enabled, |l| target(1).layer.owns(l)).expect("plan");
    assert_eq!(apply(&enabled, &undo), java);
}

#[test]
fn aws_endpoints_are_set_recorded_and_given_back() {
    let own_s3 = "https://s3.example.internal";
    let before = function(&[], &[("AWS_ENDPOINT_URL_S3", own_s3)]);
    let disable = |f: &FunctionConfig| plan_disable(f, |l| target(7).layer.owns(l)).unwrap();

    let plan = plan_enable(&before, &with_services("dynamodb,s3")).unwrap();
    assert_eq!(
        plan.env["AWS_ENDPOINT_URL_DYNAMODB"],
        "http://dynamodb.eu-west-1.amazonaws.com:443"
    );
    assert_eq!(
        plan.env["AWS_ENDPOINT_URL_S3"], own_s3,
        "the function's own is kept"
    );
    assert!(
        plan.warnings
            .iter()
            .any(|w| w.contains("AWS_ENDPOINT_URL_S3") && w.contains("kept")),
        "{:?}",
        plan.warnings
    );
    let enabled = apply(&before, &plan);

    // A re-run adds SQS and drops DynamoDB: exactly the set asked for, each recorded.
    let plan = plan_enable(&enabled, &with_services("sqs")).unwrap();
    assert!(!plan.env.contains_key("AWS_ENDPOINT_URL_DYNAMODB"));
    assert_eq!(
        plan.env["AWS_ENDPOINT_URL_SQS"],
        "http://sqs.eu-west-1.amazonaws.com:443"
    );
    let enabled = apply(&enabled, &plan);
    assert_eq!(
        disable(&enabled).env,
        before.env,
        "disable restores exactly"
    );

    // A re-run with no service gives every endpoint back, and is then a no-op.
    let plan = plan_enable(&enabled, &target(7)).unwrap();
    assert!(!plan.env.contains_key("AWS_ENDPOINT_URL_SQS"));
    let again = apply(&enabled, &plan);
    assert!(!plan_enable(&again, &target(7)).unwrap().changes(&again));
    assert_eq!(disable(&again).env, before.env);
}

#[test]
fn a_global_endpoint_of_the_function_keeps_every_service_direct() {
    let before = function(&[], &[("AWS_ENDPOINT_URL", "http://localstack:4566")]);
    let plan = plan_enable(&before, &with_services("all")).unwrap();
    assert!(
        !plan.env.keys().any(|k| k.starts_with("AWS_ENDPOINT_URL_")),
        "{:?}",
        plan.env
    );
    assert!(
        plan.warnings
            .iter()
            .any(|w| w.contains("AWS_ENDPOINT_URL=http://localstack:4566")),
        "{:?}",
        plan.warnings
    );
}

#[test]
fn node_functions_get_aws_endpoints_from_node_24_on() {
    let mut before = function(&[], &[]);
    before.runtime = Some("nodejs22.x".into());
    let plan = plan_enable(&before, &with_services("dynamodb")).unwrap();
    assert!(!plan.env.contains_key("AWS_ENDPOINT_URL_DYNAMODB"));
    assert!(
        plan.warnings.iter().any(|w| w.contains("nodejs24.x")),
        "{:?}",
        plan.warnings
    );
    for runtime in ["nodejs24.x", "nodejs26.x"] {
        before.runtime = Some(runtime.into());
        let plan = plan_enable(&before, &with_services("dynamodb")).unwrap();
        assert!(
            plan.env.contains_key("AWS_ENDPOINT_URL_DYNAMODB"),
            "{runtime}"
        );
    }
}

#[test]
fn urls_named_for_tls_origination_are_rewritten_and_given_back() {
    let before = function(
        &[],
        &[
            ("PAYMENTS_URL", "https://api.payments.example/v2?k=1"),
            ("LEDGER_URL", "https://ledger.example:443"),
            ("ODD_URL", "https://odd.example:8443/x"),
        ],
    );
    let asked = |names: &[&str]| EnableTarget {
        tls_origination_env: names.iter().map(|n| n.to_string()).collect(),
        ..target(7)
    };
    let plan = plan_enable(
        &before,
        &asked(&["PAYMENTS_URL", "LEDGER_URL", "ODD_URL", "MISSING"]),
    )
    .unwrap();
    assert_eq!(
        plan.env["PAYMENTS_URL"],
        "http://api.payments.example:443/v2?k=1"
    );
    assert_eq!(plan.env["LEDGER_URL"], "http://ledger.example:443");
    assert_eq!(plan.env["ODD_URL"], "https://odd.example:8443/x");
    assert_eq!(plan.env[enable::ORIGINATION_ENV], "PAYMENTS_URL,LEDGER_URL");
    for name in ["ODD_URL", "MISSING"] {
        assert!(
            plan.warnings.iter().any(|w| w.contains(name)),
            "{name}: {:?}",
            plan.warnings
        );
    }
    let enabled = apply(&before, &plan);
    // Re-run: the same plan (rewritten from the value before faultline, not twice).
    let again = plan_enable(&enabled, &asked(&["PAYMENTS_URL", "LEDGER_URL"])).unwrap();
    assert!(!again.changes(&enabled), "{:?}", again.env);
    // Re-run without LEDGER_URL: it goes back.
    let plan = plan_enable(&enabled, &asked(&["PAYMENTS_URL"])).unwrap();
    assert_eq!(plan.env["LEDGER_URL"], "https://ledger.example:443");
    assert_eq!(plan.env[enable::ORIGINATION_ENV], "PAYMENTS_URL");
    let enabled = apply(&enabled, &plan);
    let disabled = plan_disable(&enabled, |l| target(7).layer.owns(l)).unwrap();
    assert_eq!(disabled.env, before.env, "disable restores exactly");
}

#[test]
fn the_cold_start_opt_in_is_set_taken_back_and_restored() {
    const INIT: &str = faultline_schema::wiring::INIT_FAULTS_ENV;
    for own in [None, Some("false")] {
        let env: Vec<(&str, &str)> = own.iter().map(|v| (INIT, *v)).collect();
        let before = function(&[], &env);
        let opted_in = EnableTarget {
            init_faults: true,
            ..target(7)
        };
        let plan = plan_enable(&before, &opted_in).unwrap();
        assert_eq!(plan.env[INIT], "true");
        let enabled = apply(&before, &plan);
        assert!(
            !plan_enable(&enabled, &opted_in).unwrap().changes(&enabled),
            "a re-run with it changes nothing"
        );
        // A re-run without --init-faults takes the opt-in back, to the function's own value.
        let plan = plan_enable(&enabled, &target(7)).unwrap();
        assert_eq!(plan.env.get(INIT).map(String::as_str), own);
        let again = apply(&enabled, &plan);
        let plan = plan_enable(&again, &opted_in).unwrap();
        let enabled = apply(&again, &plan);
        let disabled = plan_disable(&enabled, |l| target(7).layer.owns(l)).unwrap();
        assert_eq!(disabled.env, before.env, "disable restores exactly");
    }
}

#[test]
fn the_config_role_is_set_taken_back_and_restored() {
    const ROLE: &str = faultline_schema::wiring::CONFIG_ROLE_ENV;
    let before = function(&[], &[]);
    let with_role = EnableTarget {
        config_role: Some("arn:aws:iam::222222222222:role/faultline-config-reader".into()),
        ..target(7)
    };
    let plan = plan_enable(&before, &with_role).unwrap();
    assert_eq!(
        plan.env[ROLE],
        "arn:aws:iam::222222222222:role/faultline-config-reader"
    );
    let enabled = apply(&before, &plan);
    assert!(!plan_enable(&enabled, &with_role).unwrap().changes(&enabled));
    let plan = plan_enable(&enabled, &target(7)).unwrap();
    assert_eq!(
        plan.env.get(ROLE),
        None,
        "a re-run without it takes it back"
    );
    let enabled = apply(&enabled, &plan_enable(&enabled, &with_role).unwrap());
    let disabled = plan_disable(&enabled, |l| target(7).layer.owns(l)).unwrap();
    assert_eq!(disabled.env, before.env, "disable restores exactly");
}
