//! Config-read benchmark (issue 26): what reading the config costs per store, and how a fleet's
//! reads spread after a cold-start burst.
//!
//! 1. Measured: one faultline process per store (S3, Secrets Manager and SSM on moto server, each
//!    logging its requests; AppConfig on the testkit's stand-in for its data plane) reads its
//!    config every second for a while, with one change half-way. Counted: the requests each store
//!    served, the reads faultline made (its log lines), the configs it parsed and the bytes.
//! 2. Simulated with the extension's own scheduling rule (`first_read_backdated`): 1,000
//!    environments cold-starting over 10 s, then refreshing every 30 s for an hour, with and
//!    without the first read's jitter. Reported: the peak read rate over any second against the
//!    steady rate (1,000 / 30 s).
//! 3. The cost: requests per read (1) × reads per busy environment-month × each store's price
//!    (`faultline_schema::cost`), plus AppConfig's price per change received.
//!
//! `cargo bench --bench config_reads` writes target/bench-config-reads.md; without `--bench`
//! (cargo test) it does a quick smoke pass.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure is the report

mod support;

use faultline_extension::config::refresh::first_read_backdated;
use faultline_schema::cost;
use faultline_testkit::MotoServer;
use faultline_testkit::appconfig::AppConfigData;
use faultline_testkit::lambda_emulator::Emulator;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use support::repo_root;

const CONFIG_ONE: &str = "refresh_interval: 1s\nmax_stale: 1h\nexperiments:\n  - {name: slow-orders, flag: dependency-orders.example.com, rate: 0.5, effect: {latency: 100}}\n  - {name: broken-ingress, flag: ingress, selector: {event-source: sqs}, effect: {exception: down}}\n";
const CONFIG_TWO: &str = "refresh_interval: 1s\nmax_stale: 1h\nexperiments:\n  - {name: slow-orders, flag: dependency-orders.example.com, rate: 0.5, effect: {latency: 200}}\n";

/// One store under measurement: how faultline names it and how its requests are counted.
struct Measured {
    store: cost::Store,
    requests: usize,
    reads: usize,
    parsed: usize,
    bytes_parsed: usize,
}

/// Starts faultline reading `arn` at `endpoint`, its log going to a file.
fn faultline(emulator: &Emulator, endpoint: &str, arn: &str, log: &std::path::Path) -> Child {
    let dir = tempfile::tempdir().expect("tempdir");
    Command::new(env!("CARGO_BIN_EXE_faultline"))
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", emulator.runtime_api())
        .env("AWS_LAMBDA_FUNCTION_NAME", "bench")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("GREMLIN_LAMBDA_ENABLED", "true")
        .env("GREMLIN_CONFIG_ARN", arn)
        .env("GREMLIN_DEBUG", "true")
        .env("GREMLIN_LAMBDA_API_PROXY_PORT", "127.0.0.1:0")
        .env("FAULTLINE_DEPENDENCY_PROXY_PORT", "127.0.0.1:0")
        .env("GREMLIN_SIDECAR_PORT", "0")
        .env("FAULTLINE_READY_FILE", dir.path().join("ready"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).expect("log file"))
        .spawn()
        .expect("start faultline")
}

/// Reads and parses in faultline's log: (reads, parsed).
fn reads_in(log: &std::path::Path) -> (usize, usize) {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let parsed = text.matches("config loaded from").count();
    let unchanged = text.matches("not parsed again").count();
    (parsed + unchanged, parsed)
}

async fn sdk(endpoint: &str) -> aws_config::SdkConfig {
    faultline_testkit::aws_config(endpoint, "testing", "testing").await
}

/// Runs faultline against one store for `seconds`, changing the config half-way with `change`.
async fn measure<F, Fut>(
    store: cost::Store,
    endpoint: &str,
    arn: &str,
    seconds: u64,
    served: impl Fn() -> usize,
    change: F,
) -> Measured
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let emulator = Emulator::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("faultline.log");
    let before = served();
    let mut child = faultline(&emulator, endpoint, arn, &log);
    tokio::time::sleep(Duration::from_secs(seconds / 2)).await;
    let before_change = served();
    change().await;
    let change_requests = served() - before_change;
    tokio::time::sleep(Duration::from_secs(seconds - seconds / 2)).await;
    let _ = child.kill();
    let _ = child.wait();
    let requests = served() - before - change_requests;
    let (reads, parsed) = reads_in(&log);
    // The first config parsed, and then the second.
    let bytes_parsed = if parsed > 0 {
        CONFIG_ONE.len() + (parsed - 1) * CONFIG_TWO.len()
    } else {
        0
    };
    Measured {
        store,
        requests,
        reads,
        parsed,
        bytes_parsed,
    }
}

/// Every store, one after the other.
async fn measure_stores(seconds: u64) -> Vec<Measured> {
    let mut results = Vec::new();

    let moto = MotoServer::start_logged().await;
    let config = sdk(&moto.endpoint).await;
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build(),
    );
    s3.create_bucket()
        .bucket("bench")
        .send()
        .await
        .expect("bucket");
    let put = |text: &'static str| {
        let s3 = s3.clone();
        async move {
            s3.put_object()
                .bucket("bench")
                .key("faultline.yaml")
                .body(text.as_bytes().to_vec().into())
                .send()
                .await
                .expect("put object");
        }
    };
    put(CONFIG_ONE).await;
    let gets = || {
        moto.requests()
            .iter()
            .filter(|r| r.contains("GET /bench/faultline.yaml"))
            .count()
    };
    results.push(
        measure(
            cost::Store::S3,
            &moto.endpoint,
            "arn:aws:s3:::bench/faultline.yaml",
            seconds,
            gets,
            || put(CONFIG_TWO),
        )
        .await,
    );
    drop(moto);

    let moto = MotoServer::start_logged().await;
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk(&moto.endpoint).await);
    let arn = secrets
        .create_secret()
        .name("bench")
        .secret_string(CONFIG_ONE)
        .send()
        .await
        .expect("secret")
        .arn
        .expect("arn");
    let posts = || {
        moto.requests()
            .iter()
            .filter(|r| r.contains("POST /"))
            .count()
    };
    results.push(
        measure(
            cost::Store::SecretsManager,
            &moto.endpoint,
            &arn,
            seconds,
            posts,
            || async {
                secrets
                    .put_secret_value()
                    .secret_id(&arn)
                    .secret_string(CONFIG_TWO)
                    .send()
                    .await
                    .expect("new version");
            },
        )
        .await,
    );
    drop(moto);

    let moto = MotoServer::start_logged().await;
    let ssm = aws_sdk_ssm::Client::new(&sdk(&moto.endpoint).await);
    let put_parameter = |text: &'static str, overwrite: bool| {
        let ssm = ssm.clone();
        async move {
            ssm.put_parameter()
                .name("/bench/faultline")
                .value(text)
                .overwrite(overwrite)
                .r#type(aws_sdk_ssm::types::ParameterType::String)
                .send()
                .await
                .expect("parameter");
        }
    };
    put_parameter(CONFIG_ONE, false).await;
    let posts = || {
        moto.requests()
            .iter()
            .filter(|r| r.contains("POST /"))
            .count()
    };
    results.push(
        measure(
            cost::Store::Ssm,
            &moto.endpoint,
            "arn:aws:ssm:us-east-1:123456789012:parameter/bench/faultline",
            seconds,
            posts,
            || put_parameter(CONFIG_TWO, true),
        )
        .await,
    );
    drop(moto);

    let appconfig = AppConfigData::start().await;
    appconfig.lenient();
    appconfig.deploy("bench/prod/faultline", CONFIG_ONE);
    let served = || appconfig.log().len();
    results.push(
        measure(
            cost::Store::AppConfig,
            &appconfig.endpoint,
            "appconfig:bench/prod/faultline",
            seconds,
            served,
            || async { appconfig.deploy("bench/prod/faultline", CONFIG_TWO) },
        )
        .await,
    );
    results
}

/// Reads per second of a fleet: `environments` cold-starting evenly over `burst`, each reading
/// at its start and then every `interval` (its first refresh sooner by the extension's jitter
/// when `jitter`), over `span`.
struct Fleet {
    /// The most refresh reads (cold-start reads left out) in any one second.
    refresh_peak: usize,
    /// The most reads of either kind in any one second.
    peak: usize,
    /// Reads per second once spread: environments / interval.
    steady: f64,
}

fn simulate(
    environments: usize,
    burst: Duration,
    interval: Duration,
    span: Duration,
    jitter: bool,
    seed: u64,
) -> Fleet {
    let mut rng = fastrand::Rng::with_seed(seed);
    let seconds = span.as_secs() as usize + 1;
    let (mut starts, mut refreshes) = (vec![0usize; seconds], vec![0usize; seconds]);
    let every = interval.as_secs_f64();
    for i in 0..environments {
        let start = burst.as_secs_f64() * i as f64 / environments as f64;
        starts[start as usize] += 1;
        let backdated = if jitter {
            first_read_backdated(interval, rng.f64()).as_secs_f64()
        } else {
            0.0
        };
        let mut at = start + every - backdated;
        while at < span.as_secs_f64() {
            refreshes[at as usize] += 1;
            at += every;
        }
    }
    Fleet {
        refresh_peak: refreshes.iter().copied().max().unwrap_or(0),
        peak: starts
            .iter()
            .zip(&refreshes)
            .map(|(a, b)| a + b)
            .max()
            .unwrap_or(0),
        steady: environments as f64 / every,
    }
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let seconds = if full { 20 } else { 4 };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let measured = runtime.block_on(measure_stores(seconds));

    let interval = Duration::from_secs(30);
    let burst = Duration::from_secs(10);
    let span = Duration::from_secs(3600);
    let seeds: Vec<u64> = (1..=if full { 9 } else { 2 }).collect();
    let mut with_jitter: Vec<Fleet> = seeds
        .iter()
        .map(|seed| simulate(1000, burst, interval, span, true, *seed))
        .collect();
    with_jitter.sort_by_key(|f| f.refresh_peak);
    let without_jitter = simulate(1000, burst, interval, span, false, 0);
    let steady = without_jitter.steady;

    let mut report = format!(
        "# Config-read benchmark\n\nmode: {}\n\n\
         Measured: one faultline process per store, `refresh_interval: 1s`, {seconds} s, one \
         change half-way (S3, Secrets Manager and SSM on moto server, counted from its request \
         log; AppConfig on the testkit's stand-in for its data plane, counted from its log).\n\n\
         | store | requests | reads | requests per read | configs parsed | bytes parsed |\n\
         |---|---|---|---|---|---|\n",
        if full { "full" } else { "smoke (cargo test)" }
    );
    for m in &measured {
        report.push_str(&format!(
            "| {} | {} | {} | {:.2} | {} | {} |\n",
            m.store.name(),
            m.requests,
            m.reads,
            m.requests as f64 / m.reads.max(1) as f64,
            m.parsed,
            m.bytes_parsed
        ));
    }
    report.push_str(&format!(
        "\nCost per busy environment-month at the default `refresh_interval` (30 s: {:.0} \
         reads, plus the requests measured beyond one per read, which an environment makes once: \
         AppConfig's session), one change received a month:\n\n\
         | store | requests a month | dollars per busy environment-month | 1,000 busy environments |\n\
         |---|---|---|---|\n",
        cost::reads_per_month(interval)
    ));
    for m in &measured {
        // Requests beyond one per read are made once per environment (AppConfig's session).
        let requests = cost::reads_per_month(interval) + m.requests.saturating_sub(m.reads) as f64;
        let dollars = requests * m.store.per_request() + m.store.per_change_received();
        report.push_str(&format!(
            "| {} | {requests:.0} | ${dollars:.4} | ${:.2} |\n",
            m.store.name(),
            dollars * 1000.0
        ));
    }
    let ratio = |peak: usize| peak as f64 / steady;
    let middle = &with_jitter[with_jitter.len() / 2];
    report.push_str(&format!(
        "\nA fleet, simulated with the extension's scheduling rule: 1,000 environments \
         cold-starting evenly over 10 s, each reading at its start and every 30 s after, for an \
         hour. Steady rate {steady:.1} reads/s. The most reads in any one second:\n\n\
         | first refresh | refresh reads | against the steady rate | all reads (cold-start reads too) |\n\
         |---|---|---|---|\n\
         | at the interval (no jitter) | {} | {:.2} × | {} |\n\
         | sooner by a random fraction of it (faultline), median of {} seeds | {} | {:.2} × (seeds: {}) | {} |\n",
        without_jitter.refresh_peak,
        ratio(without_jitter.refresh_peak),
        without_jitter.peak,
        with_jitter.len(),
        middle.refresh_peak,
        ratio(middle.refresh_peak),
        with_jitter
            .iter()
            .map(|f| format!("{:.2}", ratio(f.refresh_peak)))
            .collect::<Vec<_>>()
            .join(", "),
        middle.peak
    ));
    report.push_str(
        "\nThe cold-start reads are one per new environment, 100 a second while 1,000 start in \
         10 s: that is Lambda's scaling rate, which no refresh rule changes. The goal (a peak at \
         most 1.5 × the steady rate) is judged on the refresh reads, which the rule decides.\n",
    );
    print!("{report}");
    let path = repo_root().join("target/bench-config-reads.md");
    std::fs::write(&path, &report).expect("write report");
    println!("written to {}", path.display());
}
