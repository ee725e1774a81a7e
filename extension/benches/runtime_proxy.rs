//! Runtime API proxy benchmark, one run, ratios against a baseline measured in the same run.
//!
//! * per-invocation time (GET /next + POST /response) direct against a minimal Runtime API vs
//!   through the faultline process, 1 KiB and 1 MiB payloads, interleaved in blocks;
//! * time from exec to the register call;
//! * RSS of the extension before and after 10,000 proxied invocations;
//! * stripped binary and layer zip sizes (from `make layer`, when built).
//!
//! `cargo bench --bench runtime_proxy` writes target/bench-report.md. Run by `cargo test` (no
//! `--bench` argument) it does a quick smoke pass so the code stays working.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure is the report

mod support;

use support::{
    Upstream, cpu_time, micros, percentile, repo_root, rss_kib, start_extension, start_upstream,
};

use bytes::Bytes;
use faultline_extension::net::client::{HttpClient, full_body, new_client};
use http_body_util::BodyExt;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One invocation as a runtime does it: fetch the event, post a response of the same size.
async fn invocation(client: &HttpClient, api: &str, payload: &Bytes) -> Duration {
    let started = Instant::now();
    let next = client
        .request(
            http::Request::get(format!("http://{api}/2018-06-01/runtime/invocation/next"))
                .body(full_body(Bytes::new()))
                .expect("request"),
        )
        .await
        .expect("next");
    let _event = next.into_body().collect().await.expect("event").to_bytes();
    let response = client
        .request(
            http::Request::post(format!(
                "http://{api}/2018-06-01/runtime/invocation/bench-request/response"
            ))
            .body(full_body(payload.clone()))
            .expect("request"),
        )
        .await
        .expect("response");
    let _ = response.into_body().collect().await;
    started.elapsed()
}

struct Comparison {
    label: String,
    direct_p50: Duration,
    direct_p99: Duration,
    proxy_p50: Duration,
    proxy_p99: Duration,
}

async fn compare(
    upstream: &Upstream,
    upstream_addr: &str,
    proxy_addr: &str,
    size: usize,
    iterations: usize,
) -> Comparison {
    upstream.payload.store(size, Ordering::Relaxed);
    let payload = Bytes::from(vec![b'y'; size]);
    let client = new_client();
    let (mut direct, mut proxied) = (Vec::new(), Vec::new());
    for _ in 0..iterations.min(200) {
        invocation(&client, upstream_addr, &payload).await;
        invocation(&client, proxy_addr, &payload).await;
    }
    // Interleaved blocks, so both sides see the same machine noise.
    let block = 50;
    let mut done = 0;
    while done < iterations {
        let n = block.min(iterations - done);
        for _ in 0..n {
            direct.push(invocation(&client, upstream_addr, &payload).await);
        }
        for _ in 0..n {
            proxied.push(invocation(&client, proxy_addr, &payload).await);
        }
        done += n;
    }
    direct.sort();
    proxied.sort();
    Comparison {
        label: if size >= 1024 * 1024 {
            format!("{} MiB", size / (1024 * 1024))
        } else {
            format!("{} KiB", size / 1024)
        },
        direct_p50: percentile(&direct, 0.5),
        direct_p99: percentile(&direct, 0.99),
        proxy_p50: percentile(&proxied, 0.5),
        proxy_p99: percentile(&proxied, 0.99),
    }
}

fn file_size(path: &Path) -> Option<u64> {
    std::fs::metadata(path).ok().map(|m| m.len())
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (small_iterations, large_iterations, rss_iterations, spawns) = if full {
        (5000, 400, 10_000, 30)
    } else {
        (20, 4, 50, 2)
    };

    let upstream = Arc::new(Upstream {
        payload: AtomicUsize::new(1024),
        connections: AtomicUsize::new(0),
        registered: Mutex::new(None),
    });
    let upstream_addr = start_upstream(Arc::clone(&upstream));

    // Exec to registration.
    let mut registration = Vec::new();
    for _ in 0..spawns {
        *upstream.registered.lock().expect("lock") = None;
        let (extension, started) = start_extension(upstream_addr, &[]);
        let deadline = Instant::now() + Duration::from_secs(10);
        let registered = loop {
            if let Some(at) = *upstream.registered.lock().expect("lock") {
                break at;
            }
            assert!(Instant::now() < deadline, "no registration");
            std::thread::sleep(Duration::from_micros(200));
        };
        registration.push(registered.duration_since(started));
        drop(extension);
    }
    registration.sort();

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("bench runtime");
    let (extension, _) = start_extension(upstream_addr, &[]);
    let upstream_str = upstream_addr.to_string();
    let (small, large, rss_before, rss_after, proxy_cpu, loop_wall, connections) = runtime
        .block_on(async {
            let small = compare(
                &upstream,
                &upstream_str,
                &extension.proxy,
                1024,
                small_iterations,
            )
            .await;
            let large = compare(
                &upstream,
                &upstream_str,
                &extension.proxy,
                1024 * 1024,
                large_iterations,
            )
            .await;
            upstream.payload.store(1024, Ordering::Relaxed);
            let connections_before = upstream.connections.load(Ordering::Relaxed);
            let rss_before = rss_kib(extension.child.id());
            let cpu_before = cpu_time(extension.child.id());
            let client = new_client();
            let payload = Bytes::from(vec![b'y'; 1024]);
            let started = Instant::now();
            for _ in 0..rss_iterations {
                invocation(&client, &extension.proxy, &payload).await;
            }
            let wall = started.elapsed();
            let connections = upstream.connections.load(Ordering::Relaxed) - connections_before;
            let cpu = cpu_time(extension.child.id())
                .zip(cpu_before)
                .map(|(after, before)| after.saturating_sub(before));
            (
                small,
                large,
                rss_before,
                rss_kib(extension.child.id()),
                cpu,
                wall,
                connections,
            )
        });
    drop(extension);

    let root = repo_root();
    let mut report = String::new();
    report.push_str(&format!(
        "# Runtime API proxy benchmark\n\nmode: {}, {} cores\n\n",
        if full { "full" } else { "smoke (cargo test)" },
        std::thread::available_parallelism().map_or(0, |n| n.get())
    ));
    report.push_str("| payload | direct p50 µs | direct p99 µs | proxied p50 µs | proxied p99 µs | p50 ratio | p50 added µs | p99 ratio |\n|---|---|---|---|---|---|---|---|\n");
    for c in [&small, &large] {
        report.push_str(&format!(
            "| {} | {:.0} | {:.0} | {:.0} | {:.0} | {:.2} | {:.0} | {:.2} |\n",
            c.label,
            micros(c.direct_p50),
            micros(c.direct_p99),
            micros(c.proxy_p50),
            micros(c.proxy_p99),
            micros(c.proxy_p50) / micros(c.direct_p50).max(0.001),
            micros(c.proxy_p50) - micros(c.direct_p50),
            micros(c.proxy_p99) / micros(c.direct_p99).max(0.001),
        ));
    }
    report.push_str(&format!(
        "\nexec → register: p50 {:.1} ms, p99 {:.1} ms ({} spawns)\n",
        micros(percentile(&registration, 0.5)) / 1000.0,
        micros(percentile(&registration, 0.99)) / 1000.0,
        registration.len()
    ));
    report.push_str(&format!(
        "RSS: {} KiB after start-up and the comparisons, {} KiB after {} more proxied invocations\n",
        rss_before.map_or("?".into(), |v| v.to_string()),
        rss_after.map_or("?".into(), |v| v.to_string()),
        rss_iterations
    ));
    report.push_str(&format!(
        "upstream connections opened by the proxy during those invocations: {connections}\n"
    ));
    if let Some(cpu) = proxy_cpu {
        report.push_str(&format!(
            "faultline CPU during those {} invocations: {:.0} µs per invocation (wall {:.0} µs per invocation)\n",
            rss_iterations,
            micros(cpu) / rss_iterations as f64,
            micros(loop_wall) / rss_iterations as f64
        ));
    }
    for arch in ["x86_64", "arm64"] {
        let zip = root.join(format!("dist/faultline-layer-{arch}.zip"));
        let bin = root.join(format!("dist/layer-{arch}/extensions/faultline"));
        match (file_size(&bin), file_size(&zip)) {
            (Some(b), Some(z)) => report.push_str(&format!(
                "{arch}: stripped extension {:.2} MB, layer zip {:.2} MB\n",
                b as f64 / 1e6,
                z as f64 / 1e6
            )),
            _ => report.push_str(&format!("{arch}: layer not built (run `make layer`)\n")),
        }
    }
    print!("{report}");
    if full {
        let out = root.join("target/bench-report.md");
        if let Err(err) = std::fs::write(&out, &report) {
            eprintln!("cannot write {}: {err}", out.display());
        } else {
            println!("\nwritten to {}", out.display());
        }
    }
}
