//! Cold-start benchmark: what the layer adds to a cold start, from the start of the execution
//! environment to the first event the runtime gets, with ratios against the same cold start
//! without the layer measured in the same run.
//!
//! Each cold start gets a fresh Lambda emulator (the project's, which ends INIT as Lambda does:
//! when the runtime and every extension asked for their next event) with one invocation queued.
//! The runtime is a minimal one whose own init takes 10 ms (a provided runtime's), started as
//! Lambda starts it: at once without the layer, once every extension registered with it. The
//! config lives in Secrets Manager (moto server) behind a proxy that holds each connection
//! 50 ms, as a store read from a cold environment takes.
//!
//! Three paths, interleaved, their order rotated each round: no layer; the layer (faultline and
//! its Runtime API proxy); the layer opted in to cold-start faults (FAULTLINE_INIT_FAULTS), which
//! reads the config during INIT. `cargo bench --bench cold_start` writes
//! target/bench-cold-start.md; without `--bench` (cargo test) it does a quick smoke pass.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure is the report

mod support;

use bytes::Bytes;
use faultline_extension::net::client::new_client;
use faultline_testkit::MotoServer;
use faultline_testkit::lambda_emulator::Emulator;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{micros, percentile, repo_root, run_invocation};

/// A provided runtime's own init (Go, Rust).
const RUNTIME_INIT: Duration = Duration::from_millis(10);
/// How long the config store takes to answer from a cold environment.
const STORE_DELAY: Duration = Duration::from_millis(50);
/// The goal: added p50 without the opt-in.
const GOAL_MS: f64 = 5.0;

const CONFIG: &str = "experiments:
  - {name: other-function, flag: ingress, selector: {function-name: other}, effect: {latency: 100}}
";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Path {
    NoLayer,
    Layer,
    LayerOptedIn,
}

impl Path {
    fn label(self) -> &'static str {
        match self {
            Path::NoLayer => "no layer",
            Path::Layer => "layer",
            Path::LayerOptedIn => "layer, opted in to cold-start faults (FAULTLINE_INIT_FAULTS)",
        }
    }
}

/// A loopback proxy to `target` that holds every connection `delay` before relaying it.
async fn delaying_proxy(target: SocketAddr, delay: Duration) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    addr
}

/// The extension, killed when dropped.
struct Extension {
    child: std::process::Child,
    _dir: tempfile::TempDir,
}

impl Drop for Extension {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One cold start on `path`: the time from the environment's start to the runtime's first event.
async fn cold_start(path: Path, secret_arn: &str, store: SocketAddr) -> Duration {
    let emulator = Arc::new(Emulator::start().await);
    let invocation = {
        let emulator = Arc::clone(&emulator);
        tokio::spawn(async move {
            emulator
                .try_invoke(Bytes::from_static(b"{}"), Duration::from_secs(30))
                .await
        })
    };
    let started = Instant::now();
    let (api, extension) = if path == Path::NoLayer {
        (emulator.runtime_api(), None)
    } else {
        let dir = tempfile::tempdir().expect("tempdir");
        let ready = dir.path().join("ready");
        let mut command = Command::new(env!("CARGO_BIN_EXE_faultline"));
        command
            .env_clear()
            .env("AWS_LAMBDA_RUNTIME_API", emulator.runtime_api())
            .env("AWS_LAMBDA_FUNCTION_NAME", "bench")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_ENDPOINT_URL", format!("http://{store}"))
            .env("GREMLIN_LAMBDA_ENABLED", "true")
            .env("GREMLIN_CONFIG_ARN", secret_arn)
            .env("GREMLIN_LAMBDA_API_PROXY_PORT", "127.0.0.1:0")
            .env("FAULTLINE_DEPENDENCY_PROXY_PORT", "127.0.0.1:0")
            .env("GREMLIN_SIDECAR_PORT", "0")
            .env("FAULTLINE_READY_FILE", &ready)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if path == Path::LayerOptedIn {
            command.env("FAULTLINE_INIT_FAULTS", "true");
        }
        let child = command.spawn().expect("spawn faultline");
        let extension = Extension { child, _dir: dir };
        // Lambda starts the runtime once every extension registered.
        let deadline = Instant::now() + Duration::from_secs(10);
        while emulator.registrations().is_empty() {
            assert!(Instant::now() < deadline, "faultline did not register");
            tokio::time::sleep(Duration::from_micros(100)).await;
        }
        // The ready file is written before registering: its first word is the proxy address.
        let text = std::fs::read_to_string(&ready).expect("ready file");
        let addr = text.split_whitespace().next().expect("address").to_string();
        (addr, Some(extension))
    };
    // The runtime: its own init, then its first /next.
    tokio::time::sleep(RUNTIME_INIT).await;
    let client = new_client();
    let arrived = run_invocation(&client, &api, &Bytes::from_static(b"{}")).await;
    let delivered = arrived.duration_since(started);
    assert!(
        invocation.await.expect("task").is_some(),
        "the invocation completed"
    );
    drop(extension);
    delivered
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let rounds = if full { 40 } else { 2 };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("bench runtime");
    let paths = [Path::NoLayer, Path::Layer, Path::LayerOptedIn];
    let times: Vec<Vec<Duration>> = runtime.block_on(async {
        let moto = MotoServer::start().await;
        let config = faultline_testkit::aws_config(&moto.endpoint, "testing", "testing").await;
        let secrets = aws_sdk_secretsmanager::Client::new(&config);
        let arn = secrets
            .create_secret()
            .name("faultline-config")
            .secret_string(CONFIG)
            .send()
            .await
            .expect("secret")
            .arn()
            .expect("arn")
            .to_string();
        let target: SocketAddr = moto
            .endpoint
            .trim_start_matches("http://")
            .parse()
            .expect("moto address");
        let store = delaying_proxy(target, STORE_DELAY).await;
        // Warm-up: one of each.
        for path in paths {
            cold_start(path, &arn, store).await;
        }
        let mut times = vec![Vec::with_capacity(rounds); paths.len()];
        for round in 0..rounds {
            for k in 0..paths.len() {
                let i = (k + round) % paths.len();
                times[i].push(cold_start(paths[i], &arn, store).await);
            }
        }
        for t in &mut times {
            t.sort();
        }
        times
    });

    let ms = |d: Duration| micros(d) / 1000.0;
    let base = percentile(&times[0], 0.5);
    let mut report = format!(
        "# Cold-start benchmark\n\nmode: {}, {} cores\n\n\
         From the start of the execution environment to the first event the runtime gets: a \
         fresh Lambda emulator per cold start (INIT ends when the runtime and every extension \
         asked for their next event), a runtime whose own init takes {} ms, the config in \
         Secrets Manager (moto server) behind a proxy holding each connection {} ms. {rounds} \
         cold starts a path, interleaved, their order rotated each round, after one warm-up \
         each.\n\n\
         | path | p50 ms | p90 ms | added p50 ms |\n|---|---|---|---|\n",
        if full { "full" } else { "smoke (cargo test)" },
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        RUNTIME_INIT.as_millis(),
        STORE_DELAY.as_millis(),
    );
    for (path, t) in paths.iter().zip(&times) {
        let p50 = percentile(t, 0.5);
        report.push_str(&format!(
            "| {} | {:.1} | {:.1} | {} |\n",
            path.label(),
            ms(p50),
            ms(percentile(t, 0.9)),
            if *path == Path::NoLayer {
                String::new()
            } else {
                format!("{:+.1}", ms(p50) - ms(base))
            }
        ));
    }
    let added = ms(percentile(&times[1], 0.5)) - ms(base);
    report.push_str(&format!(
        "\nthe layer adds {added:+.1} ms at p50 to a cold start without the opt-in (goal: ≤ \
         {GOAL_MS} ms): {}\n",
        if added <= GOAL_MS { "met" } else { "MISSED" }
    ));
    print!("{report}");
    if full {
        let out = repo_root().join("target/bench-cold-start.md");
        if let Err(err) = std::fs::write(&out, &report) {
            eprintln!("cannot write {}: {err}", out.display());
        } else {
            println!("\nwritten to {}", out.display());
        }
    }
}
