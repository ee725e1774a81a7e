//! `make demo`: faultline end to end on this machine, against moto server (as AWS) and the
//! project's Lambda Runtime/Extensions API emulator (as Lambda). The deployer sets up and wires a
//! Python function in moto exactly as it would on AWS; the function then runs locally on
//! awslambdaric with the layer's wrapper and extension, unpacked from the very zip the deployer
//! published, and with the environment the deployer wrote. Experiments are started and stopped
//! with `deployer experiment`; every step prints what happened and how long it took.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure is the report

use anyhow::{Context, Result, bail};
use aws_sdk_cloudwatch::types::StateValue;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{FunctionCode, Runtime};
use faultline_testkit::cloudwatch_feed;
use faultline_testkit::lambda_emulator::{Emulator, Outcome};
use faultline_testkit::process::Proc;
use faultline_testkit::{
    MotoServer, aws_config, free_port, lambda_command, put_alarm, repo_root, venv_bin,
};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

const FUNCTION: &str = "demo-fn";

/// An API Gateway HTTP API (payload 2.0) request for GET /orders.
const EVENT: &str = r#"{"version":"2.0","routeKey":"GET /orders","rawPath":"/orders","rawQueryString":"","headers":{"host":"demo.execute-api.us-east-1.amazonaws.com"},"requestContext":{"http":{"method":"GET","path":"/orders","protocol":"HTTP/1.1","sourceIp":"127.0.0.1","userAgent":"demo"},"requestId":"demo","routeKey":"GET /orders","stage":"$default"},"isBase64Encoded":false}"#;

/// The steps so far, printed as they happen and as a table at the end.
struct Report {
    started: Instant,
    rows: Vec<(String, String, Duration)>,
}

impl Report {
    fn step(&mut self, what: &str, result: &str, took: Duration) {
        println!(
            "{:>3}. {what:<58} {:>8}  {result}",
            self.rows.len() + 1,
            ms(took)
        );
        self.rows.push((what.into(), result.into(), took));
    }

    /// The steps as a Markdown table, the README's form of it.
    fn markdown(&self) -> String {
        let mut table = String::from("| # | step | took | result |\n|---|---|---:|---|\n");
        for (i, (what, result, took)) in self.rows.iter().enumerate() {
            table.push_str(&format!(
                "| {} | {what} | {} | {result} |\n",
                i + 1,
                ms(*took)
            ));
        }
        table
    }

    fn table(&self) {
        println!("\n{}", self.markdown());
        println!(
            "Whole demo: {:.1} s (every process it started is stopped on exit).",
            self.started.elapsed().as_secs_f64()
        );
    }
}

/// The README's demo table: from the line after [`README_TABLE_INTRO`] to the first blank line.
const README_TABLE_INTRO: &str = "What one run printed here";

/// Where the README's table starts and ends (byte offsets), and its step column.
fn readme_table(readme: &str) -> Result<(usize, usize, Vec<String>)> {
    let intro = readme
        .find(README_TABLE_INTRO)
        .context("README has no demo table intro")?;
    let start = intro
        + readme[intro..]
            .find("\n\n")
            .context("no table after the intro")?
        + 2;
    let end = start + readme[start..].find("\n\n").unwrap_or(readme.len() - start) + 1;
    let steps = readme[start..end]
        .lines()
        .skip(2)
        .filter_map(|row| row.split('|').nth(2).map(|s| s.trim().to_string()))
        .collect();
    Ok((start, end, steps))
}

/// `--check-readme README`: the README's table has this run's steps, in order (`make test`).
/// `--write-readme README`: replaces the README's table with this run's.
fn readme(report: &Report) -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    for (flag, write) in [("--check-readme", false), ("--write-readme", true)] {
        let Some(path) = args
            .iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
        else {
            continue;
        };
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
        let (start, end, steps) = readme_table(&text)?;
        if write {
            let text = format!("{}{}{}", &text[..start], report.markdown(), &text[end..]);
            std::fs::write(path, text).with_context(|| format!("writing {path}"))?;
            println!("wrote the demo table into {path}");
            continue;
        }
        let ran: Vec<&str> = report
            .rows
            .iter()
            .map(|(what, _, _)| what.as_str())
            .collect();
        if steps != ran {
            bail!(
                "{path}'s demo table lists {} steps, this run had {}: regenerate it with \
                 `make demo-readme`\nREADME: {steps:?}\nran:    {ran:?}",
                steps.len(),
                ran.len()
            );
        }
        println!("{path}'s demo table lists this run's {} steps", ran.len());
    }
    Ok(())
}

fn ms(d: Duration) -> String {
    if d >= Duration::from_secs(10) {
        format!("{:.1} s", d.as_secs_f64())
    } else {
        format!("{} ms", d.as_millis())
    }
}

/// Lambda's name for this machine's architecture.
fn arch() -> Result<&'static str> {
    match std::env::consts::ARCH {
        "x86_64" => Ok("x86_64"),
        "aarch64" => Ok("arm64"),
        other => bail!("no faultline layer for {other}"),
    }
}

struct Deployer {
    bin: PathBuf,
    endpoint: String,
}

impl Deployer {
    /// Runs `deployer ARGS` against moto; stdout, or the error with both streams.
    async fn run(&self, args: &[&str]) -> Result<String> {
        let output = Command::new(&self.bin)
            .args(args)
            .env("AWS_ENDPOINT_URL", &self.endpoint)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .output()
            .await
            .with_context(|| format!("running {}", self.bin.display()))?;
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        if !output.status.success() {
            bail!(
                "deployer {} failed: {stdout}{}",
                args.join(" "),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(stdout)
    }
}

/// The function's code as a zip (written by Python's zipfile, from the project venv).
async fn function_zip(dir: &Path, out: &Path) -> Result<Vec<u8>> {
    let status = Command::new(venv_bin("python"))
        .args([
            "-c",
            "import sys, zipfile; z = zipfile.ZipFile(sys.argv[2], 'w'); z.write(sys.argv[1] + '/app.py', 'app.py'); z.close()",
        ])
        .arg(dir)
        .arg(out)
        .status()
        .await?;
    if !status.success() {
        bail!("could not zip the demo function");
    }
    Ok(std::fs::read(out)?)
}

/// The function's layers and environment as moto holds them.
async fn configuration(
    lambda: &aws_sdk_lambda::Client,
) -> Result<(Vec<String>, BTreeMap<String, String>)> {
    faultline_testkit::function_wiring(lambda, FUNCTION)
        .await
        .map_err(anyhow::Error::msg)
}

/// The experiments the SDK endpoint lists for `flag` (the extension's current view).
async fn sdk_lookup(port: u16, flag: &str) -> Result<usize> {
    let body = format!(r#"{{"name":"{flag}","labels":{{}}}}"#);
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    let request = format!(
        "POST /experiment HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await?;
    let json = answer.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    let list: serde_json::Value = serde_json::from_str(json).context("SDK endpoint answer")?;
    Ok(list.as_array().map_or(0, Vec::len))
}

/// Waits until the extension has re-read the secret and lists `count` experiments for `flag`.
/// The demo's stop alarm.
const ALARM: &str = "orders-errors";

async fn wait_for_experiments(port: u16, flag: &str, count: usize) -> Result<Duration> {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(15) {
        let seen = sdk_lookup(port, flag).await;
        if std::env::var_os("DEMO_DEBUG").is_some() {
            eprintln!("lookup {flag}: {seen:?}");
        }
        if seen.ok() == Some(count) {
            return Ok(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("the extension did not pick up the experiment change within 15 s")
}

/// One invocation: (what came back, how long it took).
async fn invoke(emulator: &Emulator) -> Result<(String, Duration)> {
    let start = Instant::now();
    let outcome = emulator
        .try_invoke(EVENT, Duration::from_secs(30))
        .await
        .context("the invocation did not finish within 30 s")?;
    let took = start.elapsed();
    let text = match &outcome {
        Outcome::Response { .. } => {
            let json = outcome.json();
            format!(
                "HTTP {} {}",
                json["statusCode"],
                json["body"].as_str().unwrap_or_default()
            )
        }
        Outcome::Error { error_type, .. } => format!(
            "function error {}: {}",
            error_type.as_deref().unwrap_or("?"),
            outcome.json()["errorMessage"].as_str().unwrap_or_default()
        ),
    };
    Ok((text, took))
}

/// Invokes the function with an SQS batch of ten orders; what came back as `batchItemFailures`.
async fn invoke_batch(emulator: &Emulator) -> Result<(String, Duration)> {
    let records: Vec<serde_json::Value> = (1..=10)
        .map(|i| {
            serde_json::json!({
                "messageId": format!("order-{i}"),
                "eventSource": "aws:sqs",
                "body": format!("{{\"order\": {i}}}"),
            })
        })
        .collect();
    let event = serde_json::json!({ "Records": records }).to_string();
    let start = Instant::now();
    let outcome = emulator
        .try_invoke(event, Duration::from_secs(30))
        .await
        .context("the invocation did not finish within 30 s")?;
    let took = start.elapsed();
    let failed: Vec<String> = outcome.json()["batchItemFailures"]
        .as_array()
        .map(|failures| {
            failures
                .iter()
                .filter_map(|f| f["itemIdentifier"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    Ok((
        format!(
            "batchItemFailures: {} of 10 records ({})",
            failed.len(),
            failed.join(", ")
        ),
        took,
    ))
}

/// A picture of the report, when Chromium is installed (the README's is one of these).
async fn screenshot(page: &Path, png: &Path) {
    let profile = tempfile::tempdir();
    let Ok(profile) = profile else {
        return;
    };
    let taken = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--window-size=820,1000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", page.display()))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .await;
    if taken.is_ok_and(|s| s.success()) {
        println!("screenshot of the report: {}", png.display());
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let root = repo_root();
    let arch = arch()?;
    let zip = root.join(format!("dist/faultline-layer-{arch}.zip"));
    if !zip.exists() {
        bail!(
            "{} not found: run `make layer ARCH={arch}` first (`make demo` does)",
            zip.display()
        );
    }
    let deployer_bin = std::env::var_os("FAULTLINE_DEPLOYER")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/debug/deployer"));
    if !deployer_bin.exists() {
        bail!(
            "{} not found: `cargo build -p faultline-deployer` first",
            deployer_bin.display()
        );
    }
    let demo_dir = root.join("testkit/demo");
    let work = tempfile::tempdir()?;
    let mut report = Report {
        started: Instant::now(),
        rows: Vec::new(),
    };
    println!("faultline demo: moto server as AWS, a local Lambda emulator as Lambda ({arch})\n");

    // AWS: moto server, and a function that knows nothing of faultline.
    let t = Instant::now();
    let moto = MotoServer::start().await;
    report.step(
        "start moto server (AWS API emulator)",
        &moto.endpoint,
        t.elapsed(),
    );

    let t = Instant::now();
    let sdk = aws_config(&moto.endpoint, "testing", "testing").await;
    let iam = aws_sdk_iam::Client::new(&sdk);
    let lambda = aws_sdk_lambda::Client::new(&sdk);
    let role = iam
        .create_role()
        .role_name("demo-fn-role")
        .assume_role_policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#)
        .send()
        .await
        .context("creating the role")?
        .role
        .map(|r| r.arn)
        .context("no role ARN")?;
    let code = function_zip(&demo_dir, &work.path().join("function.zip")).await?;
    lambda
        .create_function()
        .function_name(FUNCTION)
        .runtime(Runtime::from("python3.13"))
        .role(role)
        .handler("app.handler")
        .architectures(aws_sdk_lambda::types::Architecture::from(arch))
        .code(FunctionCode::builder().zip_file(Blob::new(code)).build())
        .send()
        .await
        .context("creating demo-fn")?;
    let before = configuration(&lambda).await?;
    report.step(
        "create demo-fn in moto (python3.13, no faultline)",
        "created",
        t.elapsed(),
    );

    // The deployer, as on AWS.
    let deployer = Deployer {
        bin: deployer_bin,
        endpoint: moto.endpoint.clone(),
    };
    let config = demo_dir.join("faultline.yaml");
    let (config, zip_arg) = (config.to_string_lossy(), zip.to_string_lossy());
    let t = Instant::now();
    deployer
        .run(&[
            "init",
            "--config",
            &config,
            "--arch",
            arch,
            "--layer-zip",
            &zip_arg,
        ])
        .await?;
    report.step(
        "deployer init",
        "bucket faultline-config-ACCOUNT-REGION, policy, layer",
        t.elapsed(),
    );

    let t = Instant::now();
    deployer.run(&["enable", FUNCTION, "--yes"]).await?;
    let (layers, env) = configuration(&lambda).await?;
    // `arn:aws:lambda:REGION:ACCOUNT:layer:NAME:VERSION` → `NAME:VERSION`
    let layer = layers
        .last()
        .and_then(|arn| arn.split_once(":layer:"))
        .map_or("", |(_, name_version)| name_version);
    report.step(
        "deployer enable demo-fn",
        &format!("{layer} + {} variables", env.len()),
        t.elapsed(),
    );

    // Lambda: the layer unpacked as /opt, the extension and the runtime with the function's
    // environment. Local changes: free loopback ports instead of 5033/5034/5032, a private ready
    // file, and the AWS endpoint of moto.
    let t = Instant::now();
    let opt = work.path().join("opt");
    let unzip = Command::new("unzip")
        .arg("-q")
        .arg(zip.as_os_str())
        .arg("-d")
        .arg(&opt)
        .status()
        .await
        .context("running unzip")?;
    if !unzip.success() {
        bail!("unzip {} failed", zip.display());
    }
    let emulator = Emulator::start().await;
    let ready = work.path().join("ready");
    let (dependency_port, sdk_port) = (free_port(), free_port());
    let mut vars = env.clone();
    for (key, value) in [
        ("AWS_LAMBDA_RUNTIME_API", emulator.runtime_api()),
        ("AWS_LAMBDA_FUNCTION_NAME", FUNCTION.into()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128".into()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_DEFAULT_REGION", "us-east-1".into()),
        ("AWS_ACCESS_KEY_ID", "testing".into()),
        ("AWS_SECRET_ACCESS_KEY", "testing".into()),
        ("AWS_ENDPOINT_URL", moto.endpoint.clone()),
        ("LAMBDA_TASK_ROOT", demo_dir.to_string_lossy().into_owned()),
        ("_HANDLER", "app.handler".into()),
        ("GREMLIN_LAMBDA_API_PROXY_PORT", "127.0.0.1:0".into()),
        ("FAULTLINE_READY_FILE", ready.to_string_lossy().into_owned()),
        (
            "FAULTLINE_DEPENDENCY_PROXY_PORT",
            format!("127.0.0.1:{dependency_port}"),
        ),
        ("HTTP_PROXY", format!("http://127.0.0.1:{dependency_port}")),
        ("HTTPS_PROXY", format!("http://127.0.0.1:{dependency_port}")),
        ("GREMLIN_SIDECAR_PORT", sdk_port.to_string()),
    ] {
        vars.insert(key.to_string(), value);
    }
    let command = |program: &Path| lambda_command(program, &vars, &demo_dir);
    emulator.probe_ready_file(ready.clone());
    let extension = Proc::spawn(command(&opt.join("extensions/faultline")));
    if !emulator.wait_registered(1, Duration::from_secs(10)).await {
        bail!("the extension did not register:\n{}", extension.log_text());
    }
    let proxy = std::fs::read_to_string(&ready).unwrap_or_default();
    report.step(
        "start the Lambda emulator and the layer's extension",
        &format!(
            "registered; Runtime API proxy on {}",
            proxy.split_whitespace().next().unwrap_or("?")
        ),
        t.elapsed(),
    );

    let wrapper = env
        .get("AWS_LAMBDA_EXEC_WRAPPER")
        .context("enable set no AWS_LAMBDA_EXEC_WRAPPER")?;
    let wrapper = opt.join(wrapper.trim_start_matches("/opt/"));
    let mut runtime_command = command(&wrapper);
    runtime_command
        .arg(venv_bin("python"))
        .args(["-m", "awslambdaric", "app.handler"]);
    let _runtime = Proc::spawn(runtime_command);
    let (result, took) = invoke(&emulator).await?;
    report.step(
        "first invocation (runtime starts via the wrapper)",
        &result,
        took,
    );
    let (result, took) = invoke(&emulator).await?;
    report.step("invoke, no experiment", &result, took);

    // The rehearsal's span, for the report at the end.
    let rehearsal_from = std::time::SystemTime::now();
    // Experiments, as an operator starts them; the last one on an SQS batch of ten orders,
    // about half of them reported failed after the handler answered, so that Lambda would
    // redeliver them.
    let experiments: [(&str, &[&str], bool); 4] = [
        (
            "slow-orders",
            &["--flag", "ingress", "--latency", "500"],
            false,
        ),
        (
            "broken-orders",
            &[
                "--flag",
                "ingress",
                "--exception",
                "orders database unavailable",
            ],
            false,
        ),
        (
            "throttled-orders",
            &["--flag", "response", "--http-status", "503"],
            false,
        ),
        (
            "redelivered-orders",
            &["--flag", "response", "--batch-item-failures", "50%"],
            true,
        ),
    ];
    for (name, args, batch) in experiments {
        let flag = args[1];
        let t = Instant::now();
        let mut start = vec!["experiment", "start", "--experiment", name];
        start.extend_from_slice(args);
        deployer.run(&start).await?;
        let picked = wait_for_experiments(sdk_port, flag, 1)
            .await
            .with_context(|| extension.log_text())?;
        report.step(
            &format!("deployer experiment start {}", args.join(" ")),
            &format!("extension applied it {} after the edit", ms(picked)),
            t.elapsed(),
        );
        if batch {
            let (result, took) = invoke_batch(&emulator).await?;
            let what = format!("invoke with an SQS batch of 10 under {name}");
            report.step(&what, &result, took);
        } else {
            let (result, took) = invoke(&emulator).await?;
            report.step(&format!("invoke under {name}"), &result, took);
        }
        let t = Instant::now();
        deployer.run(&["experiment", "stop", name]).await?;
        wait_for_experiments(sdk_port, flag, 0).await?;
        report.step(
            &format!("deployer experiment stop {name}"),
            "stopped",
            t.elapsed(),
        );
    }

    // An experiment that stops itself: a CloudWatch alarm as its stop condition.
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&sdk);
    put_alarm(&cloudwatch, ALARM, StateValue::Ok).await?;
    let t = Instant::now();
    deployer
        .run(&[
            "experiment",
            "start",
            "--experiment",
            "guarded-orders",
            "--flag",
            "ingress",
            "--latency",
            "500",
            "--stop-on-alarm",
            ALARM,
        ])
        .await?;
    let picked = wait_for_experiments(sdk_port, "ingress", 1)
        .await
        .with_context(|| extension.log_text())?;
    report.step(
        &format!("deployer experiment start --flag ingress --latency 500 --stop-on-alarm {ALARM}"),
        &format!(
            "extension read the alarm (OK) and applied it {} after the edit",
            ms(picked)
        ),
        t.elapsed(),
    );
    let (result, took) = invoke(&emulator).await?;
    report.step("invoke under guarded-orders", &result, took);
    let t = Instant::now();
    put_alarm(&cloudwatch, ALARM, StateValue::Alarm).await?;
    let halted = wait_for_experiments(sdk_port, "ingress", 0)
        .await
        .with_context(|| extension.log_text())?;
    report.step(
        &format!("SetAlarmState {ALARM} ALARM"),
        &format!("experiment halted {} later", ms(halted)),
        t.elapsed(),
    );
    let (result, took) = invoke(&emulator).await?;
    report.step("invoke, halted by its stop alarm", &result, took);
    deployer
        .run(&["experiment", "stop", "guarded-orders"])
        .await?;

    let (result, took) = invoke(&emulator).await?;
    report.step("invoke, no experiment", &result, took);
    let rehearsal_to = std::time::SystemTime::now() + Duration::from_secs(1);
    let audits = extension
        .logs()
        .iter()
        .filter(|l| l.contains("\"faultline\":\"fault-injected\""))
        .count();
    report.step(
        "audit lines the extension logged",
        &format!("{audits} (one per injected fault)"),
        Duration::ZERO,
    );

    // The evidence: CloudWatch fed as Lambda and CloudWatch Logs would feed it (moto does
    // neither), then `deployer report` over the rehearsal.
    let t = Instant::now();
    let emf: Vec<String> = extension
        .logs()
        .into_iter()
        .filter(|l| l.contains("\"_aws\""))
        .collect();
    cloudwatch_feed::put_lambda_metrics(&cloudwatch, FUNCTION, &emulator.finished()).await?;
    cloudwatch_feed::put_emf(&cloudwatch, &emf).await?;
    let report_path = root.join("target/demo-report.html");
    let report_arg = report_path.to_string_lossy().into_owned();
    let from = humantime::format_rfc3339_seconds(rehearsal_from).to_string();
    let to = humantime::format_rfc3339_seconds(rehearsal_to).to_string();
    let printed = deployer
        .run(&[
            "report",
            "--from",
            &from,
            "--to",
            &to,
            FUNCTION,
            "--before",
            "5s",
            "--after",
            "5s",
            "--period",
            "1s",
            "--slo-error-rate",
            "25%",
            "--out",
            &report_arg,
        ])
        .await?;
    let verdict = printed
        .lines()
        .find(|l| l.starts_with(FUNCTION))
        .unwrap_or("no verdict")
        .trim_start_matches(&format!("{FUNCTION}: "))
        .to_string();
    report.step(
        "deployer report demo-fn (target/demo-report.html)",
        &verdict,
        t.elapsed(),
    );
    screenshot(&report_path, &root.join("target/demo-report.png")).await;

    let t = Instant::now();
    deployer.run(&["disable", FUNCTION]).await?;
    let after = configuration(&lambda).await?;
    let restored = if after == before {
        "layers and environment exactly as before"
    } else {
        "NOT restored"
    };
    report.step("deployer disable demo-fn", restored, t.elapsed());

    emulator.shutdown_extensions();
    report.table();
    // One audit line per injected fault: slow, broken, throttled, redelivered and guarded.
    if after != before || audits != 5 {
        bail!("the demo did not go as expected (see above)");
    }
    readme(&report)
}
