//! `deployer report` against moto server: Lambda's metrics and faultline's put with
//! PutMetricData (moto does not produce Lambda's itself), an experiment's window read from the
//! config store, the HTML with its charts, shaded window and verdicts, the Markdown and JSON
//! saying the same, figures CloudWatch refuses (moto answers 500 to percentile statistics and to
//! DescribeAlarmHistory) shown as "no data" with the reason, and the exit codes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure is the report

mod support;

use aws_sdk_cloudwatch::primitives::DateTime as SdkTime;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use chrono::{DateTime, Duration, Utc};
use support::Env;

fn minute_of(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(at.timestamp() / 60 * 60, 0).unwrap_or(at)
}

async fn put(
    env: &Env,
    namespace: &str,
    metric: &str,
    dimensions: &[(&str, &str)],
    at: DateTime<Utc>,
    value: f64,
    unit: StandardUnit,
) {
    let datum = MetricDatum::builder()
        .metric_name(metric)
        .set_dimensions(Some(
            dimensions
                .iter()
                .map(|(k, v)| Dimension::builder().name(*k).value(*v).build())
                .collect(),
        ))
        .timestamp(SdkTime::from_secs(at.timestamp()))
        .value(value)
        .unit(unit)
        .build();
    env.cloudwatch
        .put_metric_data()
        .namespace(namespace)
        .metric_data(datum)
        .send()
        .await
        .expect("put metric data");
}

/// A rehearsal 40 to 30 minutes ago on function `orders`: 100 invocations a minute throughout,
/// no errors before and after, 3 a minute during, faults injected during.
async fn rehearsal(env: &Env, from: DateTime<Utc>) {
    for minute in -10..25 {
        let at = from + Duration::minutes(minute) + Duration::seconds(5);
        let during = (0..10).contains(&minute);
        let function = [("FunctionName", "orders")];
        put(
            env,
            "AWS/Lambda",
            "Invocations",
            &function,
            at,
            100.0,
            StandardUnit::Count,
        )
        .await;
        put(
            env,
            "AWS/Lambda",
            "Errors",
            &function,
            at,
            if during { 3.0 } else { 0.0 },
            StandardUnit::Count,
        )
        .await;
        put(
            env,
            "AWS/Lambda",
            "Duration",
            &function,
            at,
            if during { 650.0 } else { 120.0 },
            StandardUnit::Milliseconds,
        )
        .await;
        if during {
            put(
                env,
                "faultline",
                "FaultsInjected",
                &[("function-name", "orders"), ("flag", "ingress")],
                at,
                40.0,
                StandardUnit::Count,
            )
            .await;
            put(
                env,
                "faultline",
                "FaultsInjected",
                &[("experiment", "rehearsal")],
                at,
                40.0,
                StandardUnit::Count,
            )
            .await;
        }
    }
}

#[tokio::test]
async fn an_experiments_report_has_charts_figures_and_verdicts_in_three_formats() {
    let env = Env::start().await;
    let from = minute_of(Utc::now() - Duration::minutes(40));
    let to = from + Duration::minutes(10);
    let config = env.write(
        "faultline.yaml",
        &format!(
            "experiments:\n  - {{name: rehearsal, flag: ingress, start: '{}', end: '{}', stop_on_alarms: [orders-5xx], effect: {{latency: 100}}}}\n",
            from.to_rfc3339(),
            to.to_rfc3339()
        ),
    );
    let dist = env.dist().to_string_lossy().into_owned();
    let (code, out, err) = env.deployer(&["init", "--config", &config, "--dist", &dist]);
    assert_eq!(code, 0, "{out}\n{err}");
    rehearsal(&env, from).await;

    let dir = tempfile::tempdir().expect("tempdir");
    let html_path = dir.path().join("report.html");
    let html_out = html_path.to_string_lossy().into_owned();
    let common = [
        "report",
        "--experiment",
        "rehearsal",
        "orders",
        "--slo-error-rate",
        "1%",
        "--slo-p99",
        "800ms",
    ];
    let mut args = common.to_vec();
    args.extend(["--out", &html_out]);
    let (code, out, err) = env.deployer(&args);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("orders: error rate <= 1%: missed (3.0 %)"),
        "{out}"
    );
    let html = std::fs::read_to_string(&html_path).expect("the report");
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(!html.contains("<script"), "no script needed to read it");
    assert!(
        !html.contains(" src=") && !html.contains(" href="),
        "nothing is loaded from elsewhere"
    );
    assert_eq!(
        html.matches("<svg").count(),
        2,
        "two charts for the one function"
    );
    assert!(
        html.contains("experiment window"),
        "the shaded window's legend"
    );
    assert!(html.contains("faults injected") && html.contains("errors"));
    assert!(
        html.contains("class=\"missed\">error rate &lt;= 1%: missed (3.0 %)"),
        "{html}"
    );
    // moto answers 500 to GetMetricData with percentiles: the p99 says so, the rest stands.
    assert!(
        html.contains("p99 &lt;= 800 ms: no data (CloudWatch GetMetricData failed: HTTP 500"),
        "{html}"
    );
    assert!(html.contains("Stop alarms: orders-5xx."));
    assert!(
        html.contains("<td>during</td><td>1000</td><td>30</td><td>3.00 %</td>"),
        "{html}"
    );
    assert!(
        html.contains("<td>before</td><td>1000</td><td>0</td><td>0.00 %</td>"),
        "{html}"
    );

    screenshot(&html_path);

    // Markdown and JSON say the same.
    let (code, md, err) =
        env.deployer(&[common.as_slice(), &["--format", "md", "--out", "-"]].concat());
    assert_eq!(code, 0, "{err}");
    assert!(
        md.contains("- error rate <= 1%: **missed (3.0 %)**"),
        "{md}"
    );
    assert!(md.contains("| during | 1000 | 30 | 3.00 % |"), "{md}");
    let (code, json, err) =
        env.deployer(&[common.as_slice(), &["--format", "json", "--out", "-"]].concat());
    assert_eq!(code, 0, "{err}");
    let json: serde_json::Value = serde_json::from_str(&json).expect("json");
    let orders = &json["functions"][0];
    assert_eq!(orders["verdicts"][0]["verdict"], "missed");
    assert_eq!(orders["verdicts"][1]["verdict"], "no_data");
    assert_eq!(orders["figures"][1]["error_rate"], 3.0);
    assert_eq!(json["experiment"], "rehearsal");

    // A pipeline gates on it.
    let (code, _, err) =
        env.deployer(&[common.as_slice(), &["--out", &html_out, "--fail-on-miss"]].concat());
    assert_eq!(code, 3, "{err}");
    // Met when the objective allows it.
    let (code, out, err) = env.deployer(&[
        "report",
        "--experiment",
        "rehearsal",
        "orders",
        "--slo-error-rate",
        "5%",
        "--out",
        &html_out,
        "--fail-on-miss",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("error rate <= 5%: met (3.0 %)"), "{out}");
}

#[tokio::test]
async fn no_data_an_unknown_experiment_and_bad_input_are_said_plainly() {
    let env = Env::start().await;
    env.init();
    // A window with nothing in it.
    let (code, md, err) = env.deployer(&[
        "report",
        "--from",
        "2026-01-01T10:00:00Z",
        "--to",
        "2026-01-01T10:30:00Z",
        "quiet",
        "--slo-error-rate",
        "1%",
        "--format",
        "md",
        "--out",
        "-",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        md.contains("no data (no invocations in the window)"),
        "{md}"
    );
    assert!(
        md.contains("| during | no data | no data | no data |"),
        "{md}"
    );
    // An experiment the config does not have.
    let (code, _, err) = env.deployer(&["report", "--experiment", "nothing", "orders"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no experiment named nothing"), "{err}");
    for bad in [
        vec!["report", "--from", "yesterday", "--to", "today", "f"],
        vec![
            "report",
            "--experiment",
            "x",
            "f",
            "--slo-error-rate",
            "lots",
        ],
        vec!["report", "f"],
        vec!["report", "--experiment", "x", "f", "--period", "7s"],
    ] {
        let (code, _, err) = env.deployer(&bad);
        assert_eq!(code, 2, "{bad:?}: {err}");
    }
}

/// Opens the page in headless Chromium and screenshots it (target/report-screenshot.png, kept
/// for CI): it must render with no console message, and the picture must hold the charts (many
/// pixels neither white nor the page's grey).
fn screenshot(page: &std::path::Path) {
    let png = faultline_testkit::repo_root().join("target/report-screenshot.png");
    let _ = std::fs::remove_file(&png);
    let profile = tempfile::tempdir().expect("a profile folder");
    let output = std::process::Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=900,1500",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium (Debian's chromium package; .ci/run installs it)");
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{log}");
    assert!(
        !log.contains(":CONSOLE"),
        "the page logged to the console: {log}"
    );
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(&png).expect("the screenshot"),
    ));
    let mut reader = decoder.read_info().expect("a PNG");
    let mut pixels = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut pixels).expect("a frame");
    assert_eq!((info.width, info.height), (900, 1500));
    let channels = info.color_type.samples();
    let coloured = pixels[..info.buffer_size()]
        .chunks(channels)
        .filter(|p| {
            let (r, g, b) = (i32::from(p[0]), i32::from(p[1]), i32::from(p[2]));
            (r - g).abs() > 20 || (g - b).abs() > 20 || (r - b).abs() > 20
        })
        .count();
    assert!(
        coloured > 5_000,
        "too few coloured pixels ({coloured}): did the charts render?"
    );
}
