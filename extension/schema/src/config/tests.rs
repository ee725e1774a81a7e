use super::*;
use proptest::prelude::*;

const FULL: &str = r#"
debug: true
service_name: checkout
labels: {team: payments, tier: 1}
lambda_proxy_enabled: true
lambda_proxy_port: localhost:5033
dependency_proxy_enabled: false
dependency_proxy_port: 127.0.0.1:6034
sdk_endpoint_enabled: true
sdk_endpoint_port: "[::1]:5032"
https_proxy: http://corp-proxy:3128
refresh_interval: 45s
request_timeout: 250ms
team_id: team-123
team_certificate: "-----BEGIN CERTIFICATE-----"
team_private_key: "-----BEGIN PRIVATE KEY----- s3cr3t"
experiments:
  - name: slow-orders-api
    flag: dependency-api.example.com
    selector: {function-name: [checkout], method: POST}
    rate: 25%
    start: 2026-11-21T10:00:00Z
    duration: 15m
    effect:
      latency: {ms: 2000, jitter: 500}
  - name: broken
    flag: ingress
    effect:
      exception: {message: "orders down", errorType: OrdersUnavailable}
      httpResponse: {code: 503, body: aGVsbG8=, headers: {Content-Type: text/plain}}
"#;

#[test]
fn parses_every_key_of_the_schema() {
    let config = Config::parse_strict(FULL).expect("valid");
    assert!(config.debug);
    assert_eq!(config.service_name.as_deref(), Some("checkout"));
    assert_eq!(config.labels["tier"], "1");
    assert!(!config.dependency_proxy_enabled);
    assert_eq!(config.dependency_proxy_port.socket_addr().port(), 6034);
    assert!(config.sdk_endpoint_port.socket_addr().is_ipv6());
    assert_eq!(config.refresh_interval, Duration::from_secs(45));
    assert_eq!(config.request_timeout, Duration::from_millis(250));
    assert_eq!(
        config.https_proxy.as_ref().map(|u| u.to_string()),
        Some("http://corp-proxy:3128/".into())
    );
    let slow = &config.experiments[0];
    assert_eq!(slow.rate.value(), 0.25);
    assert_eq!(
        slow.effect.latency,
        Some(LatencyEffect {
            ms: 2000,
            jitter_ms: 500
        })
    );
    assert_eq!(slow.selector["method"], vec!["POST".to_string()]);
    let end = slow.end.expect("end from duration");
    assert_eq!(end.to_rfc3339(), "2026-11-21T10:15:00+00:00");
    let broken = &config.experiments[1];
    assert_eq!(broken.rate, Rate::ALWAYS);
    let response = broken.effect.http_response.as_ref().expect("httpResponse");
    assert_eq!(response.body, b"hello");
    assert_eq!(response.headers["content-type"], "text/plain");
    assert_eq!(
        broken
            .effect
            .exception
            .as_ref()
            .map(|e| e.error_type.as_str()),
        Some("OrdersUnavailable")
    );
}

#[test]
fn empty_document_gives_defaults() {
    let config = Config::parse("").expect("empty is fine");
    assert_eq!(config, Config::default());
    assert!(config.lambda_proxy_enabled);
    assert_eq!(config.lambda_proxy_port.to_string(), "localhost:5033");
    assert_eq!(config.request_timeout, DEFAULT_REQUEST_TIMEOUT);
}

#[test]
fn secrets_never_show_in_debug_output() {
    let config = Config::parse(FULL).expect("valid");
    let debug = format!("{config:?}");
    assert!(!debug.contains("s3cr3t"), "{debug}");
    assert!(!debug.contains("team-123"), "{debug}");
    assert!(debug.contains("<redacted>"));
    let with_proxy =
        Config::parse("https_proxy: http://svc:p%40ss-w0rd@corp.example:3128\n").expect("valid");
    let debug = format!("{with_proxy:?}");
    assert!(!debug.contains("w0rd") && !debug.contains("svc"), "{debug}");
    assert!(debug.contains("***@corp.example:3128"), "{debug}");
}

#[test]
fn userinfo_is_masked_whole() {
    for (text, masked) in [
        ("http://user:p@ss-w0rd@corp:3128", "http://***@corp:3128"),
        ("http://user:p%40ss@corp:3128/", "http://***@corp:3128/"),
        ("http://corp:3128", "http://corp:3128"),
        ("user:secret@corp:3128", "***@corp:3128"),
        ("not a url", "not a url"),
    ] {
        assert_eq!(mask_userinfo(text), masked, "{text}");
    }
}

fn invalid_path(yaml: &str) -> (String, String) {
    match Config::parse_strict(yaml) {
        Err(ConfigError::Invalid { path, reason }) => (path, reason),
        other => panic!("expected an invalid-key error, got {other:?}"),
    }
}

#[test]
fn errors_name_the_key_path() {
    let (path, reason) = invalid_path("experiements: []\n");
    assert_eq!(path, "experiements");
    assert!(reason.contains("unknown field"), "{reason}");

    let (path, reason) = invalid_path("refresh_interval: 30\n");
    assert_eq!(path, "refresh_interval");
    assert!(reason.starts_with("`30` has no unit"), "{reason}");

    let (path, reason) = invalid_path("lambda_proxy_port: 0.0.0.0:5033\n");
    assert_eq!(path, "lambda_proxy_port");
    assert!(reason.contains("loopback"), "{reason}");

    let (path, _) = invalid_path("https_proxy: socks5://x:1\n");
    assert_eq!(path, "https_proxy");

    let (path, reason) = invalid_path(
        "experiments:\n  - name: a\n    flag: ingress\n    rate: 250\n    effect: {latency: 10}\n",
    );
    assert_eq!(path, "experiments[0].rate");
    assert!(
        reason.contains("\"25%\""),
        "a bare number above 1 is refused: {reason}"
    );
    for (rate, ok) in [
        ("0.25", true),
        ("'25%'", true),
        ("1", true),
        ("2", false),
        ("'250%'", false),
        ("-0.1", false),
        ("'x%'", false),
    ] {
        let yaml = format!(
            "experiments: [{{name: a, flag: ingress, rate: {rate}, effect: {{latency: 1}}}}]\n"
        );
        assert_eq!(Config::parse_strict(&yaml).is_ok(), ok, "rate: {rate}");
    }
    assert_eq!(Rate::parse("25%").map(Rate::value), Ok(0.25));

    let (path, _) = invalid_path(
        "experiments:\n  - name: a\n    flag: ingress\n    effect: {latency: {ms: fast}}\n",
    );
    assert_eq!(path, "experiments[0].effect.latency");

    let (path, _) = invalid_path(
        "experiments:\n  - name: a\n    flag: ingress\n    effect: {httpResponse: {code: 503, body: '***'}}\n",
    );
    assert_eq!(path, "experiments[0].effect.httpResponse.body");

    let (path, _) = invalid_path("experiments:\n  - name: a\n    flag: ingress\n    effect: {}\n");
    assert_eq!(path, "experiments[0].effect");

    let (path, _) = invalid_path(
        "experiments:\n  - name: a\n    flag: ingress\n    duration: 5m\n    effect: {latency: 1}\n",
    );
    assert_eq!(path, "experiments[0].duration");
}

#[test]
fn syntax_errors_give_a_line() {
    match Config::parse("debug: true\nlabels: {team: a\n") {
        Err(ConfigError::Syntax { line, .. }) => assert!(line.is_some()),
        other => panic!("expected a syntax error, got {other:?}"),
    }
}

#[test]
fn invalid_experiments_are_dropped_not_fatal() {
    let yaml = r#"
experiments:
  - name: good
    flag: ingress
    effect: {latency: "2s"}
  - name: bad
    flag: "dependency-[.com"
    effect: {latency: 1}
  - name: good
    flag: response
    effect: {exception: boom}
"#;
    let config = Config::parse(yaml).expect("document is valid");
    assert_eq!(config.experiments.len(), 1);
    assert_eq!(
        config.experiments[0].effect.latency,
        Some(LatencyEffect {
            ms: 2000,
            jitter_ms: 0
        })
    );
    let reasons: Vec<String> = config
        .rejected_experiments
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert!(reasons[0].contains("experiments[1].flag"), "{reasons:?}");
    assert!(reasons[1].contains("duplicate"), "{reasons:?}");
    assert!(Config::parse_strict(yaml).is_err());
}

#[test]
fn latency_and_exception_shorthands() {
    let yaml = r#"
experiments:
  - {name: a, flag: ingress, effect: {latency: 2000}}
  - {name: b, flag: ingress, effect: {latency: "2000"}}
  - {name: c, flag: ingress, effect: {exception: "down"}, rate: "50%"}
"#;
    let config = Config::parse_strict(yaml).expect("valid");
    assert_eq!(
        config.experiments[0].effect.latency.map(|l| l.ms),
        Some(2000)
    );
    assert_eq!(
        config.experiments[1].effect.latency.map(|l| l.ms),
        Some(2000)
    );
    let c = &config.experiments[2];
    assert_eq!(c.rate.value(), 0.5);
    assert_eq!(
        c.effect.exception.as_ref().map(|e| e.error_type.as_str()),
        Some(experiment::DEFAULT_ERROR_TYPE)
    );
}

#[test]
fn stop_conditions_and_the_dead_man() {
    let config = Config::parse_strict(
        "refresh_interval: 10s
max_stale: 2m
stop_on_alarms: [orders-5xx, 'arn:aws:cloudwatch:eu-west-1:123456789012:alarm:p99 latency']
experiments:
  - {name: a, flag: ingress, stop_on_alarms: [checkout-errors], effect: {latency: 10}}
",
    )
    .expect("valid");
    assert_eq!(config.max_stale, Duration::from_secs(120));
    assert_eq!(config.stop_on_alarms.len(), 2);
    assert_eq!(alarm_name(&config.stop_on_alarms[1]), "p99 latency");
    assert_eq!(alarm_name("orders-5xx"), "orders-5xx");
    assert_eq!(config.experiments[0].stop_on_alarms, ["checkout-errors"]);
    assert_eq!(Config::default().max_stale, DEFAULT_MAX_STALE);
    let (path, reason) = invalid_path("refresh_interval: 1m\nmax_stale: 30s\n");
    assert_eq!(path, "max_stale");
    assert!(reason.contains("refresh interval"), "{reason}");
    let (path, _) = invalid_path("stop_on_alarms: ['arn:aws:sns:eu-west-1:1:topic']\n");
    assert_eq!(path, "stop_on_alarms[0]");
    let (path, _) = invalid_path(
        "experiments: [{name: a, flag: ingress, stop_on_alarms: [''], effect: {latency: 1}}]\n",
    );
    assert_eq!(path, "experiments[0].stop_on_alarms[0]");
}

#[test]
fn a_huge_duration_is_refused_with_its_key() {
    for duration in ["300000y", "367d", "9999999999s"] {
        let yaml = format!(
            "experiments:\n  - {{name: long, flag: ingress, start: '2026-01-01T00:00:00Z', duration: {duration}, effect: {{latency: 10}}}}\n"
        );
        let err = Config::parse_strict(&yaml).expect_err(duration);
        assert_eq!(err.path(), Some("experiments[0].duration"), "{err}");
        let config = Config::parse(&yaml).expect("the document parses");
        assert!(config.experiments.is_empty());
    }
    // Near the end of time: within the bound, but past what a time can hold.
    let err = Config::parse_strict(
        "experiments:\n  - {name: late, flag: ingress, start: '9999-12-31T00:00:00Z', duration: 2d, effect: {latency: 10}}\n",
    )
    .expect_err("ends after 9999");
    assert_eq!(err.path(), Some("experiments[0].duration"), "{err}");
    let err = Config::parse("refresh_interval: 300000y").expect_err("too long");
    assert_eq!(err.path(), Some("refresh_interval"));
}

proptest! {
    #[test]
    fn windows_never_panic(
        start_secs in -100_000_000_000i64..300_000_000_000i64,
        end_secs in proptest::option::of(-100_000_000_000i64..300_000_000_000i64),
        duration in proptest::option::of("[0-9]{1,12}(ms|s|m|h|d|w|M|y)"),
    ) {
        let time = |secs: i64| {
            chrono::DateTime::from_timestamp(secs, 0)
                .map_or_else(|| format!("{secs}"), |t| t.to_rfc3339())
        };
        let mut yaml = format!(
            "experiments:\n  - name: x\n    flag: ingress\n    start: '{}'\n    effect: {{latency: 1}}\n",
            time(start_secs)
        );
        if let Some(end) = end_secs {
            yaml.push_str(&format!("    end: '{}'\n", time(end)));
        }
        if let Some(duration) = duration {
            yaml.push_str(&format!("    duration: {duration}\n"));
        }
        let _ = Config::parse(&yaml);
    }

    #[test]
    fn numeric_keys_never_panic(
        refresh in "[0-9]{1,20}(ms|s|m|h|d|y)",
        timeout in "[0-9]{1,20}(ms|s|m|h|d|y)",
        ms in "[0-9]{1,25}",
        jitter in "[0-9]{1,25}",
        rate in "[0-9]{1,30}(\\.[0-9]{1,5})?%?",
        code in "[0-9]{1,12}",
        port in "[0-9]{1,12}",
    ) {
        let yaml = format!(
            "refresh_interval: {refresh}\nrequest_timeout: {timeout}\nlambda_proxy_port: {port}\n\
             experiments:\n  - name: x\n    flag: egress\n    rate: '{rate}'\n    \
             effect: {{latency: {{ms: {ms}, jitter: {jitter}}}, httpResponse: {{code: {code}}}}}\n"
        );
        let _ = Config::parse(&yaml);
    }

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,400}") {
        let _ = Config::parse(&text);
    }

    #[test]
    fn arbitrary_experiment_values_never_panic(
        rate in any::<f64>(),
        ms in any::<i64>(),
        code in any::<u32>(),
        flag in "[a-z*?\\[\\]{}.-]{0,20}",
    ) {
        let yaml = format!(
            "experiments:\n  - name: x\n    flag: '{flag}'\n    rate: {rate}\n    effect: {{latency: {ms}, httpResponse: {{code: {code}}}}}\n"
        );
        let _ = Config::parse(&yaml);
    }
}

#[test]
fn aws_errors_and_tls_origination() {
    let config = Config::parse_strict(
        r#"
tls_origination: [api.example.com, "*.payments.test"]
experiments:
  - {name: a, flag: aws-dynamodb, effect: {awsError: {code: ProvisionedThroughputExceededException}}}
  - {name: b, flag: aws-s3, effect: {awsError: {code: SlowDown, message: later}}}
  - {name: c, flag: "aws-*", effect: {awsError: {code: Custom, status: 418}}}
"#,
    )
    .expect("valid");
    assert_eq!(
        config.tls_origination,
        ["api.example.com", "*.payments.test"]
    );
    let errors: Vec<_> = config
        .experiments
        .iter()
        .map(|e| e.effect.aws_error.clone().expect("awsError"))
        .collect();
    assert_eq!(
        (errors[0].status, errors[0].message.as_str()),
        (
            400,
            "ProvisionedThroughputExceededException injected by faultline"
        )
    );
    assert_eq!(
        (errors[1].status, errors[1].message.as_str()),
        (503, "later")
    );
    assert_eq!(errors[2].status, 418);
    assert_eq!(default_aws_error_status("InternalServerError"), 500);
    assert_eq!(default_aws_error_status("TooManyRequestsException"), 429);

    for (yaml, path, words) in [
        (
            "experiments: [{name: a, flag: egress, effect: {awsError: {code: X}}}]",
            "experiments[0].effect.awsError",
            "aws-<service>",
        ),
        (
            "experiments: [{name: a, flag: aws-s3, effect: {awsError: {code: \"no spaces\"}}}]",
            "experiments[0].effect.awsError.code",
            "not an AWS error code",
        ),
        (
            "experiments: [{name: a, flag: aws-s3, effect: {awsError: {code: X, status: 200}}}]",
            "experiments[0].effect.awsError.status",
            "400..599",
        ),
        (
            "tls_origination: [\"https://api.example.com\"]",
            "tls_origination[0]",
            "not a host name",
        ),
    ] {
        let (got_path, reason) = invalid_path(yaml);
        assert_eq!(got_path, path, "{yaml}");
        assert!(reason.contains(words), "{reason}");
    }
}

#[test]
fn corrupt_applies_to_the_functions_answer_only_and_is_one_of_two_forms() {
    let config = Config::parse_strict(
        "experiments:\n\
         - {name: cut, flag: response, effect: {corrupt: {truncate: 0.5}}}\n\
         - {name: flip, flag: response, effect: {corrupt: {mangle: true}}}\n",
    )
    .expect("valid");
    assert_eq!(
        config.experiments[0].effect.corrupt,
        Some(CorruptEffect::Truncate(0.5))
    );
    assert_eq!(
        config.experiments[1].effect.corrupt,
        Some(CorruptEffect::Mangle)
    );
    for (effect, key) in [
        ("{corrupt: {truncate: 1.0}}", "effect.corrupt.truncate"),
        ("{corrupt: {truncate: -0.1}}", "effect.corrupt.truncate"),
        ("{corrupt: {truncate: 0.5, mangle: true}}", "effect.corrupt"),
        ("{corrupt: {}}", "effect.corrupt"),
        ("{corrupt: {mangle: false}}", "effect.corrupt"),
        ("{corrupt: {cut: 1}}", "corrupt"),
    ] {
        let text = format!("experiments:\n- {{name: x, flag: response, effect: {effect}}}\n");
        let err = Config::parse_strict(&text).expect_err(effect).to_string();
        assert!(err.contains(key), "{effect}: {err}");
    }
    let err = Config::parse_strict(
        "experiments:\n- {name: x, flag: ingress, effect: {corrupt: {mangle: true}}}\n",
    )
    .expect_err("ingress")
    .to_string();
    assert!(
        err.contains("effect.corrupt") && err.contains("`response`"),
        "{err}"
    );
}

#[test]
fn timeout_applies_to_events_only_and_leaves_at_most_lambdas_longest_timeout() {
    let config = Config::parse_strict(
        "experiments:\n\
         - {name: hold, flag: ingress, effect: {timeout: {}}}\n\
         - {name: hurry, flag: http-ingress, effect: {timeout: {buffer_ms: 300}}}\n",
    )
    .expect("valid");
    assert_eq!(
        config.experiments[0].effect.timeout,
        Some(TimeoutEffect { buffer_ms: None })
    );
    assert_eq!(
        config.experiments[1].effect.timeout,
        Some(TimeoutEffect {
            buffer_ms: Some(300)
        })
    );
    for (flag, effect, key) in [
        ("response", "{timeout: {}}", "effect.timeout"),
        ("egress", "{timeout: {}}", "effect.timeout"),
        (
            "ingress",
            "{timeout: {buffer_ms: 900001}}",
            "effect.timeout.buffer_ms",
        ),
        ("ingress", "{timeout: {buffer: 3}}", "timeout"),
    ] {
        let text = format!("experiments:\n- {{name: x, flag: {flag}, effect: {effect}}}\n");
        let err = Config::parse_strict(&text).expect_err(effect).to_string();
        assert!(err.contains(key), "{flag} {effect}: {err}");
    }
}

#[test]
fn batch_item_failures_apply_to_the_answer_with_a_rate() {
    let config = Config::parse_strict(
        "experiments:\n- {name: b, flag: response, effect: {batchItemFailures: {rate: 20%}}}\n",
    )
    .expect("valid");
    let batch = config.experiments[0]
        .effect
        .batch_item_failures
        .expect("batchItemFailures");
    assert!((batch.rate.value() - 0.2).abs() < 1e-9);
    for (flag, effect, key) in [
        (
            "ingress",
            "{batchItemFailures: {rate: 0.2}}",
            "effect.batchItemFailures",
        ),
        (
            "response",
            "{batchItemFailures: {rate: 3}}",
            "effect.batchItemFailures.rate",
        ),
        ("response", "{batchItemFailures: {}}", "batchItemFailures"),
    ] {
        let text = format!("experiments:\n- {{name: x, flag: {flag}, effect: {effect}}}\n");
        let err = Config::parse_strict(&text).expect_err(effect).to_string();
        assert!(err.contains(key), "{flag} {effect}: {err}");
    }
}

#[test]
fn event_paths_in_selectors_are_checked() {
    let config = Config::parse_strict(
        "experiments:\n- {name: p, flag: ingress, selector: {event.requestContext.stage: prod, \
         event.headers.x-chaos: exists}, effect: {latency: 1}}\n",
    )
    .expect("valid");
    let set = crate::matcher::ExperimentSet::compile(&config.experiments);
    let keys: Vec<&str> = set.event_paths().iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        ["event.headers.x-chaos", "event.requestContext.stage"]
    );
    let mut labels = crate::labels::Labels::new();
    let now = chrono::Utc::now();
    assert!(
        set.could_apply("ingress", &labels, &[], now),
        "event labels are per request"
    );
    assert!(set.select("ingress", &labels, now, 0.0).is_empty());
    labels.insert("event.requestContext.stage".into(), "prod".into());
    assert!(
        set.select("ingress", &labels, now, 0.0).is_empty(),
        "the header must exist"
    );
    labels.insert("event.headers.x-chaos".into(), "anything".into());
    assert_eq!(set.select("ingress", &labels, now, 0.0).len(), 1);
    for bad in ["event.", "event.a..b", "event.a."] {
        let text = format!(
            "experiments:\n- {{name: x, flag: ingress, selector: {{\"{bad}\": x}}, effect: {{latency: 1}}}}\n"
        );
        let err = Config::parse_strict(&text).expect_err(bad).to_string();
        assert!(err.contains(&format!("selector.{bad}")), "{bad}: {err}");
    }
}

#[test]
fn a_cold_start_is_delayed_or_failed_and_nothing_else() {
    let config = Config::parse_strict(
        "experiments:\n\
         - {name: slow, flag: init, effect: {latency: 800}}\n\
         - {name: crash, flag: init, effect: {exception: {message: boom, errorType: Crash}}}\n",
    )
    .expect("valid");
    assert_eq!(config.experiments.len(), 2);
    for (effect, key) in [
        ("{httpResponse: {code: 503}}", "effect.httpResponse"),
        ("{corrupt: {mangle: true}}", "effect.corrupt"),
        ("{timeout: {}}", "effect.timeout"),
        ("{batchItemFailures: {rate: 1}}", "effect.batchItemFailures"),
        ("{awsError: {code: Throttling}}", "effect.awsError"),
    ] {
        let text = format!("experiments:\n- {{name: x, flag: init, effect: {effect}}}\n");
        let err = Config::parse_strict(&text).expect_err(effect).to_string();
        assert!(err.contains(key), "{effect}: {err}");
    }
}

#[test]
fn environment_effects_are_bounded_and_on_their_own_flag() {
    let config = Config::parse_strict(
        "experiments:\n\
         - {name: full, flag: environment, effect: {disk: {fill_mb: 400}}}\n\
         - {name: tight, flag: environment, effect: {disk: {leave_free_mb: 10}, cpu: {percent: 50}}}\n\
         - {name: hog, flag: environment, effect: {memory: {mb: 512, allow_oom: true}}}\n",
    )
    .expect("valid");
    let effects: Vec<&Effect> = config.experiments.iter().map(|e| &e.effect).collect();
    assert_eq!(effects[0].disk, Some(DiskEffect::Fill(400)));
    assert_eq!(effects[1].disk, Some(DiskEffect::LeaveFree(10)));
    assert_eq!(effects[1].cpu, Some(CpuEffect { percent: 50 }));
    assert_eq!(
        effects[2].memory,
        Some(MemoryEffect {
            mb: 512,
            allow_oom: true
        })
    );
    for (flag, effect, key) in [
        ("ingress", "{disk: {fill_mb: 1}}", "effect.disk"),
        ("*", "{memory: {mb: 1}}", "effect.memory"),
        ("environment", "{cpu: {percent: 0}}", "effect.cpu.percent"),
        ("environment", "{cpu: {percent: 101}}", "effect.cpu.percent"),
        ("environment", "{disk: {fill_mb: 0}}", "effect.disk.fill_mb"),
        (
            "environment",
            "{disk: {fill_mb: 10241}}",
            "effect.disk.fill_mb",
        ),
        ("environment", "{disk: {}}", "effect.disk"),
        (
            "environment",
            "{disk: {fill_mb: 1, leave_free_mb: 1}}",
            "effect.disk",
        ),
        ("environment", "{memory: {mb: 20000}}", "effect.memory.mb"),
        ("environment", "{latency: 100}", "effect"),
        ("environment", "{latency: 100, cpu: {percent: 5}}", "effect"),
    ] {
        let text = format!("experiments:\n- {{name: x, flag: \"{flag}\", effect: {effect}}}\n");
        let err = Config::parse_strict(&text).expect_err(effect).to_string();
        assert!(err.contains(key), "{flag} {effect}: {err}");
    }
}

#[test]
fn a_guard_is_read_at_the_top_and_per_experiment() {
    let config = Config::parse_strict(
        "guard: {max_error_rate: 50%}\n\
         experiments:\n\
         - {name: a, flag: ingress, effect: {latency: 100}}\n\
         - {name: b, flag: ingress, guard: {max_error_rate: 0.1, min_invocations: 5, window: 10s}, effect: {latency: 100}}\n",
    )
    .expect("valid");
    let top = config.guard.expect("top-level guard");
    assert_eq!(top.max_error_rate.value(), 0.5);
    assert_eq!(top.min_invocations, DEFAULT_GUARD_MIN_INVOCATIONS);
    assert_eq!(top.window, DEFAULT_GUARD_WINDOW);
    assert_eq!(config.guard_of(&config.experiments[0]), Some(top));
    let own = config.guard_of(&config.experiments[1]).expect("own");
    assert_eq!(own.min_invocations, 5);
    assert_eq!(own.window, std::time::Duration::from_secs(10));
    for (guard, key) in [
        ("{max_error_rate: 0}", "guard.max_error_rate"),
        ("{max_error_rate: 150%}", "guard.max_error_rate"),
        (
            "{max_error_rate: 0.5, min_invocations: 0}",
            "guard.min_invocations",
        ),
        ("{max_error_rate: 0.5, window: 2h}", "guard.window"),
        ("{min_invocations: 3}", "guard"),
    ] {
        let top = Config::parse_strict(&format!("guard: {guard}\n"))
            .expect_err(guard)
            .to_string();
        assert!(top.contains(key), "{guard}: {top}");
        let text = format!(
            "experiments:\n- {{name: x, flag: ingress, guard: {guard}, effect: {{latency: 1}}}}\n"
        );
        let own = Config::parse_strict(&text).expect_err(guard).to_string();
        assert!(own.contains(key), "{guard}: {own}");
    }
}
