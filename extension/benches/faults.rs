//! Fault-path benchmark, one run, ratios against baselines measured in the same run.
//!
//! * matcher cost with 100 experiments (ns per evaluation), in process;
//! * dependency proxy: small HTTP request p50/p99, direct vs through the faultline process (one
//!   kept-alive connection each), and CONNECT throughput vs a direct TCP connection;
//! * SDK lookup p50/p99 with a new connection per lookup (as the Python SDK does), against the
//!   faultline process, and a minimal hyper server answering the same JSON as the baseline.
//!
//! The faultline process runs with 100 experiments, none selecting the benchmark's traffic, so
//! what is measured is the cost of looking. `cargo bench --bench faults` writes
//! target/bench-faults.md; without `--bench` (cargo test) it does a quick smoke pass.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure is the report

mod support;

use bytes::Bytes;
use chrono::Utc;
use faultline_extension::net::client::full_body;
use faultline_schema::config::Config;
use faultline_schema::{labels::Labels, matcher::ExperimentSet};
use faultline_testkit::{free_port, wait_port};
use http_body_util::BodyExt;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::fmt::Write as _;
use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::floor::start_floor;
use support::{
    Upstream, cpu_time_ns, micros, percentile, repo_root, rss_kib, serve_on_thread,
    start_extension, start_upstream,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// 100 experiments: exact and glob dependency flags, SDK flags with selectors, ingress.
fn hundred_experiments() -> String {
    let mut yaml = String::from("experiments:\n");
    for i in 0..40 {
        let _ = writeln!(
            yaml,
            "  - {{name: dep-{i}, flag: dependency-svc{i}.example.com, selector: {{method: [POST]}}, rate: 0.5, effect: {{latency: 100}}}}"
        );
    }
    for i in 0..30 {
        let _ = writeln!(
            yaml,
            "  - {{name: glob-{i}, flag: \"dependency-*.svc{i}.internal\", selector: {{function-name: [\"orders-*\"]}}, effect: {{exception: down}}}}"
        );
    }
    for i in 0..29 {
        let _ = writeln!(
            yaml,
            "  - {{name: sdk-{i}, flag: checkout-{i}, selector: {{tier: [gold, platinum], region: [\"eu-*\"]}}, effect: {{latency: {{ms: 10, jitter: 5}}}}}}"
        );
    }
    yaml.push_str("  - {name: lookup-hit, flag: bench-lookup, effect: {latency: 1}}\n");
    yaml
}

fn labels() -> Labels {
    [
        ("function-name", "checkout"),
        ("function-version", "$LATEST"),
        ("region", "eu-west-1"),
        ("service", "checkout"),
        ("team", "payments"),
        ("host", "api.example.com"),
        ("port", "443"),
        ("scheme", "https"),
        ("method", "GET"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// Nanoseconds per call of `f`, best of five rounds of `n`.
fn nanos_per(n: u32, mut f: impl FnMut()) -> f64 {
    (0..5)
        .map(|_| {
            let started = Instant::now();
            for _ in 0..n {
                f();
            }
            started.elapsed().as_nanos() as f64 / f64::from(n)
        })
        .fold(f64::INFINITY, f64::min)
}

/// A minimal HTTP server on its own thread answering `body` to everything.
fn start_fixed_server(body: &'static str, content_type: &'static str) -> SocketAddr {
    serve_on_thread(move |stream| async move {
        let service = service_fn(
            move |request: http::Request<hyper::body::Incoming>| async move {
                let _ = request.into_body().collect().await;
                Ok::<_, Infallible>(
                    http::Response::builder()
                        .header("content-type", content_type)
                        .body(full_body(body))
                        .unwrap_or_default(),
                )
            },
        );
        let _ = http1::Builder::new()
            .serve_connection(TokioIo::new(stream), service)
            .await;
    })
}

/// A TCP sink on its own thread: reads until EOF, then writes the byte count (8 bytes, BE).
fn start_sink() -> SocketAddr {
    serve_on_thread(|mut stream| async move {
        let mut buf = vec![0u8; 256 * 1024];
        let mut total: u64 = 0;
        while let Ok(n) = stream.read(&mut buf).await {
            if n == 0 {
                break;
            }
            total += n as u64;
        }
        let _ = stream.write_all(&total.to_be_bytes()).await;
    })
}

/// Small GETs on one kept-alive connection to `connect_to`, with `target` as the request URI
/// (origin form direct, absolute form through the proxy).
async fn small_requests(
    connect_to: SocketAddr,
    target: &str,
    host: &str,
    n: usize,
) -> Vec<Duration> {
    let stream = TcpStream::connect(connect_to).await.expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(connection);
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let request = http::Request::get(target)
            .header("host", host)
            .body(full_body(Bytes::new()))
            .expect("request");
        let started = Instant::now();
        let response = sender.send_request(request).await.expect("response");
        let _ = response.into_body().collect().await.expect("body");
        times.push(started.elapsed());
    }
    times
}

/// Sends `bytes` to the sink, directly or through a CONNECT tunnel; returns MB/s.
async fn throughput(sink: SocketAddr, proxy: Option<SocketAddr>, bytes: usize) -> f64 {
    let mut stream = TcpStream::connect(proxy.unwrap_or(sink))
        .await
        .expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    if proxy.is_some() {
        let head = format!("CONNECT {sink} HTTP/1.1\r\nHost: {sink}\r\n\r\n");
        stream.write_all(head.as_bytes()).await.expect("connect");
        let mut answer = Vec::new();
        let mut byte = [0u8; 1];
        while !answer.ends_with(b"\r\n\r\n") {
            stream.read_exact(&mut byte).await.expect("connect answer");
            answer.push(byte[0]);
        }
        assert!(answer.starts_with(b"HTTP/1.1 200"), "tunnel refused");
    }
    let chunk = vec![0x5a_u8; 64 * 1024];
    let started = Instant::now();
    let mut sent = 0;
    while sent < bytes {
        let n = chunk.len().min(bytes - sent);
        stream.write_all(&chunk[..n]).await.expect("write");
        sent += n;
    }
    stream.shutdown().await.expect("shutdown");
    let mut count = [0u8; 8];
    stream.read_exact(&mut count).await.expect("count");
    assert_eq!(u64::from_be_bytes(count), bytes as u64);
    bytes as f64 / 1e6 / started.elapsed().as_secs_f64()
}

/// One SDK lookup on a new connection, as the Python SDK does with urllib.
async fn lookup(addr: SocketAddr) -> Duration {
    let body = r#"{"name":"bench-lookup","labels":{"failure-flags-sdk-version":"python-1.1.0"}}"#;
    let started = Instant::now();
    let stream = TcpStream::connect(addr).await.expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(connection);
    let request = http::Request::post("/experiment")
        .header("host", addr.to_string())
        .header("content-type", "application/json")
        .body(full_body(body))
        .expect("request");
    let response = sender.send_request(request).await.expect("lookup");
    let answer = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    let elapsed = started.elapsed();
    assert!(answer.starts_with(b"["), "not a list");
    elapsed
}

fn row(out: &mut String, label: &str, direct: &mut [Duration], proxied: &mut [Duration]) {
    direct.sort();
    proxied.sort();
    let (d50, d99) = (percentile(direct, 0.5), percentile(direct, 0.99));
    let (p50, p99) = (percentile(proxied, 0.5), percentile(proxied, 0.99));
    let _ = writeln!(
        out,
        "| {label} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {:.2} |",
        micros(d50),
        micros(d99),
        micros(p50),
        micros(p99),
        micros(p50.saturating_sub(d50)),
        micros(p50) / micros(d50).max(1e-9),
    );
}

fn main() {
    support::floor::run_if_floor();
    let full = std::env::args().any(|a| a == "--bench");
    let (matcher_n, requests, lookups, tunnel_bytes) = if full {
        (200_000, 5_000, 5_000, 512 * 1024 * 1024)
    } else {
        (1_000, 50, 50, 4 * 1024 * 1024)
    };
    let mut report = String::from("# faultline fault-path benchmark\n\n");
    let _ = writeln!(
        report,
        "Run: {} on {} cores. Ratios compare with a baseline measured in the same run.\n",
        Utc::now().format("%Y-%m-%d %H:%M UTC"),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );

    // Matcher, in process.
    let yaml = hundred_experiments();
    let config = Config::parse_strict(&yaml).expect("benchmark config is valid");
    let set = ExperimentSet::compile(&config.experiments);
    assert_eq!(set.len(), 100);
    let labels = labels();
    let now = Utc::now();
    let miss = nanos_per(matcher_n, || {
        black_box(set.select(black_box("dependency-api.example.com"), &labels, now, 0.3));
    });
    let glob_hit = nanos_per(matcher_n, || {
        black_box(set.select(black_box("dependency-db.svc7.internal"), &labels, now, 0.3));
    });
    let sdk_hit = nanos_per(matcher_n, || {
        black_box(set.active(black_box("bench-lookup"), &labels, now).count());
    });
    let decide = nanos_per(matcher_n, || {
        black_box(faultline_extension::inject::decide(
            &set,
            black_box("egress"),
            &labels,
        ));
    });
    let _ = writeln!(
        report,
        "## Matcher, 100 experiments, 9 labels (ns per evaluation, best of 5 × {matcher_n})\n\n\
         | case | ns |\n|---|---|\n\
         | flag matched by no experiment (`dependency-api.example.com`) | {miss:.0} |\n\
         | glob flag candidates, selector refuses (`dependency-db.svc7.internal`) | {glob_hit:.0} |\n\
         | SDK lookup match (`bench-lookup`, rate not applied) | {sdk_hit:.0} |\n\
         | `Fault::decide` (clock + random draw + match, `egress`) | {decide:.0} |\n"
    );

    // The faultline process with the same 100 experiments.
    let dir = tempfile::tempdir().expect("tempdir");
    let config_path = dir.path().join("faultline.yaml");
    std::fs::write(&config_path, &yaml).expect("write config");
    let dependency_port = free_port();
    let sdk_port = free_port();
    let upstream = Arc::new(Upstream::with_payload(16));
    let upstream_addr = start_upstream(Arc::clone(&upstream));
    let (extension, _) = start_extension(
        upstream_addr,
        &[
            (
                "GREMLIN_CONFIG_FILE",
                config_path.to_string_lossy().into_owned(),
            ),
            (
                "FAULTLINE_DEPENDENCY_PROXY_PORT",
                format!("127.0.0.1:{dependency_port}"),
            ),
            ("GREMLIN_SIDECAR_PORT", sdk_port.to_string()),
            ("AWS_LAMBDA_FUNCTION_NAME", "checkout".to_string()),
        ],
    );
    let proxy_addr: SocketAddr = format!("127.0.0.1:{dependency_port}")
        .parse()
        .expect("proxy addr");
    let sdk_addr: SocketAddr = format!("127.0.0.1:{sdk_port}").parse().expect("sdk addr");
    let pid = extension.child.id();

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        wait_port(dependency_port, "dependency proxy").await;
        wait_port(sdk_port, "SDK endpoint").await;
        let web = start_fixed_server("ok", "text/plain");
        let absolute = format!("http://{web}/small");
        let host = web.to_string();

        // Dependency proxy: small requests, interleaved blocks.
        let (mut direct, mut proxied) = (Vec::new(), Vec::new());
        small_requests(web, "/small", &host, 200).await;
        small_requests(proxy_addr, &absolute, &host, 200).await;
        let block = 500.min(requests);
        for _ in 0..requests / block {
            direct.extend(small_requests(web, "/small", &host, block).await);
            proxied.extend(small_requests(proxy_addr, &absolute, &host, block).await);
        }
        let _ = writeln!(
            report,
            "## Dependency proxy, small HTTP GET on a kept-alive connection ({requests} each)\n\n\
             | request | direct p50 µs | direct p99 µs | proxied p50 µs | proxied p99 µs | added p50 µs | ratio p50 |\n\
             |---|---|---|---|---|---|---|"
        );
        row(&mut report, "GET, 2-byte answer", &mut direct, &mut proxied);

        // CONNECT throughput: direct TCP, through the floor's copy relay and through faultline,
        // three rounds, the order rotated each round; CPU of each relay process per GB.
        let sink = start_sink();
        let floor = start_floor(sink);
        let floor_addr: SocketAddr = floor.addr.parse().expect("floor address");
        let floor_pid = floor.child.id();
        let paths: [(Option<SocketAddr>, Option<u32>); 3] = [
            (None, None),
            (Some(floor_addr), Some(floor_pid)),
            (Some(proxy_addr), Some(pid)),
        ];
        let mut mbs: [Vec<f64>; 3] = Default::default();
        let mut cpu = [Duration::ZERO; 3];
        for round in 0..3 {
            for k in 0..3 {
                let i = (k + round) % 3;
                let (via, relay) = paths[i];
                let before = relay.and_then(cpu_time_ns).unwrap_or_default();
                mbs[i].push(throughput(sink, via, tunnel_bytes).await);
                cpu[i] += relay
                    .and_then(cpu_time_ns)
                    .unwrap_or_default()
                    .saturating_sub(before);
            }
        }
        drop(floor);
        let gb = 3.0 * tunnel_bytes as f64 / 1e9;
        let median = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[1]
        };
        let [direct_mbs, floor_mbs, tunnel_mbs] = &mut mbs;
        let (direct_median, floor_median, tunnel_median) =
            (median(direct_mbs), median(floor_mbs), median(tunnel_mbs));
        let (floor_ms_gb, ours_ms_gb) = (
            cpu[1].as_secs_f64() * 1e3 / gb,
            cpu[2].as_secs_f64() * 1e3 / gb,
        );
        let _ = writeln!(
            report,
            "\n## CONNECT throughput ({} MiB upload, median of 3, order rotated)\n\n\
             | path | MB/s | relay CPU ms per GB |\n|---|---|---|\n\
             | direct TCP | {direct_median:.0} | |\n\
             | floor copy relay | {floor_median:.0} | {floor_ms_gb:.0} |\n\
             | faultline CONNECT tunnel | {tunnel_median:.0} | {ours_ms_gb:.0} |\n\n\
             faultline / floor throughput: **{:.2}** (goal ≥ 0.95); faultline / direct: {:.2}. \
             faultline CPU per GB: {:.2} × the floor's (at 1 Gbit/s, {:.1} % of one core).\n",
            tunnel_bytes / (1024 * 1024),
            tunnel_median / floor_median,
            tunnel_median / direct_median,
            ours_ms_gb / floor_ms_gb.max(0.001),
            ours_ms_gb * 0.125 / 10.0
        );

        // SDK lookups with a new connection each, vs a minimal server answering the same JSON.
        let baseline = start_fixed_server(
            r#"[{"name":"lookup-hit","flag":"bench-lookup","rate":1.0,"effect":{"latency":{"ms":1,"jitter":0}}}]"#,
            "application/json",
        );
        let (mut base, mut ours) = (Vec::new(), Vec::new());
        for _ in 0..50 {
            lookup(baseline).await;
            lookup(sdk_addr).await;
        }
        let block = 500.min(lookups);
        for _ in 0..lookups / block {
            for _ in 0..block {
                base.push(lookup(baseline).await);
            }
            for _ in 0..block {
                ours.push(lookup(sdk_addr).await);
            }
        }
        let _ = writeln!(
            report,
            "## SDK lookup, new connection per lookup ({lookups} each; goal p99 < 1000 µs)\n\n\
             | endpoint | minimal server p50 µs | p99 µs | faultline p50 µs | p99 µs | added p50 µs | ratio p50 |\n\
             |---|---|---|---|---|---|---|"
        );
        row(&mut report, "POST /experiment", &mut base, &mut ours);
    });
    let rss = rss_kib(pid).map_or_else(|| "?".to_string(), |kib| kib.to_string());
    let _ = writeln!(report, "\nfaultline RSS after the run: {rss} KiB\n");
    drop(extension);

    print!("{report}");
    if full {
        let out = repo_root().join("target/bench-faults.md");
        std::fs::write(&out, &report).expect("write report");
        println!("report written to {}", out.display());
    }
}
