//! Runtime API proxy benchmark, one run, ratios against a baseline measured in the same run.
//!
//! * per-invocation time (GET /next + POST /response) direct against a minimal Runtime API vs
//!   through the faultline process, 1 KiB and 1 MiB payloads, interleaved in blocks;
//! * a 256 KiB SQS batch on the same paths and on faultline with a `batchItemFailures` or an
//!   `event.` selector experiment applying to it (relay CPU per invocation against the floor);
//! * time from exec to the register call;
//! * RSS of the extension before and after 10,000 proxied invocations;
//! * stripped binary and layer zip sizes (from `make layer`, when built).
//!
//! `cargo bench --bench runtime_proxy` writes target/bench-report.md. Run by `cargo test` (no
//! `--bench` argument) it does a quick smoke pass so the code stays working.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure is the report

mod support;

use support::floor::start_floor;
use support::{
    EGRESS_ONLY, GUARDED, Upstream, cpu_time_ns, json_answer, micros, percentile, repo_root,
    rss_kib, run_invocation, sched_counts, start_binary, start_extension, start_upstream,
};

use bytes::Bytes;
use faultline_extension::net::client::{HttpClient, new_client};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// One invocation (GET /next, POST /response) and how long it took.
async fn invocation(client: &HttpClient, api: &str, payload: &Bytes) -> Duration {
    let started = Instant::now();
    run_invocation(client, api, payload).await;
    started.elapsed()
}

/// One way to the Runtime API: direct, through the floor relay, or through faultline.
struct Side {
    label: &'static str,
    addr: String,
    /// The relay process, whose CPU is counted (none for direct).
    pid: Option<u32>,
}

impl Side {
    /// Through the relay process `spawned`.
    fn of(label: &'static str, spawned: &support::Spawned) -> Side {
        Side {
            label,
            addr: spawned.addr.clone(),
            pid: Some(spawned.child.id()),
        }
    }
}

/// One payload size: per side, the sorted round-trip times and the relay's CPU per invocation.
struct Comparison {
    label: String,
    times: Vec<Vec<Duration>>,
    cpu_per_invocation: Vec<Option<Duration>>,
    /// Per side, the relay's CPU migrations and context switches per invocation.
    sched_per_invocation: Vec<Option<(f64, f64)>>,
}

/// Runs `iterations` invocations on every side, in blocks of 50, the order of the sides rotated
/// each round so none always follows another (a fixed order favours whoever comes first after
/// a pause); after a warm-up of 200 a side. The relays' CPU is read (to the nanosecond) before
/// and after the measured rounds.
async fn compare(
    upstream: &Upstream,
    sides: &[Side],
    size: usize,
    iterations: usize,
) -> Comparison {
    upstream.payload.store(size, Ordering::Relaxed);
    let label = if size >= 1024 * 1024 {
        format!("{} MiB", size / (1024 * 1024))
    } else {
        format!("{} KiB", size / 1024)
    };
    measure(sides, label, &json_answer(size), iterations).await
}

/// The rounds of [`compare`] with the upstream's events as they are set, each answered with
/// `payload`.
async fn measure(sides: &[Side], label: String, payload: &Bytes, iterations: usize) -> Comparison {
    let client = new_client();
    for _ in 0..iterations.min(200) {
        for side in sides {
            invocation(&client, &side.addr, payload).await;
        }
    }
    let cpu_before: Vec<Option<Duration>> =
        sides.iter().map(|s| s.pid.and_then(cpu_time_ns)).collect();
    let sched_before: Vec<Option<(u64, u64)>> =
        sides.iter().map(|s| s.pid.and_then(sched_counts)).collect();
    let mut times: Vec<Vec<Duration>> = vec![Vec::with_capacity(iterations); sides.len()];
    let block = 50;
    let (mut done, mut round) = (0, 0);
    while done < iterations {
        let n = block.min(iterations - done);
        for k in 0..sides.len() {
            let i = (k + round) % sides.len();
            for _ in 0..n {
                times[i].push(invocation(&client, &sides[i].addr, payload).await);
            }
        }
        done += n;
        round += 1;
    }
    let cpu_per_invocation = sides
        .iter()
        .zip(cpu_before)
        .map(|(side, before)| {
            let after = side.pid.and_then(cpu_time_ns)?;
            Some(after.saturating_sub(before?) / iterations as u32)
        })
        .collect();
    let sched_per_invocation = sides
        .iter()
        .zip(sched_before)
        .map(|(side, before)| {
            let (m1, s1) = side.pid.and_then(sched_counts)?;
            let (m0, s0) = before?;
            let n = iterations as f64;
            Some((
                m1.saturating_sub(m0) as f64 / n,
                s1.saturating_sub(s0) as f64 / n,
            ))
        })
        .collect();
    for t in &mut times {
        t.sort();
    }
    Comparison {
        label,
        times,
        cpu_per_invocation,
        sched_per_invocation,
    }
}

/// The report's table for one comparison: direct, then each relay's added latency and CPU.
fn comparison_rows(report: &mut String, c: &Comparison, sides: &[Side]) {
    let direct = &c.times[0];
    let (d50, d99) = (percentile(direct, 0.5), percentile(direct, 0.99));
    report.push_str(&format!(
        "| {} | direct | {:.0} | {:.0} | | | |\n",
        c.label,
        micros(d50),
        micros(d99)
    ));
    for (i, side) in sides.iter().enumerate().skip(1) {
        let (p50, p99) = (percentile(&c.times[i], 0.5), percentile(&c.times[i], 0.99));
        report.push_str(&format!(
            "| {} | {} | {:.0} | {:.0} | {:+.0} | {:+.0} | {} |\n",
            c.label,
            side.label,
            micros(p50),
            micros(p99),
            micros(p50) - micros(d50),
            micros(p99) - micros(d99),
            c.cpu_per_invocation[i].map_or("?".into(), |cpu| format!("{:.1}", micros(cpu)))
        ));
    }
}

/// faultline against the floor for one comparison: (added p50 over the floor's in µs, CPU ratio).
fn against_floor(c: &Comparison) -> (f64, Option<f64>) {
    let added = micros(percentile(&c.times[2], 0.5)) - micros(percentile(&c.times[1], 0.5));
    let ratio = c.cpu_per_invocation[2]
        .zip(c.cpu_per_invocation[1])
        .map(|(ours, floor)| micros(ours) / micros(floor).max(0.001));
    (added, ratio)
}

/// The 1 KiB runs: the one with the median CPU ratio against the floor (its table is
/// reported), with every run's ratio.
struct Runs {
    median: Comparison,
    ratios: Vec<f64>,
    /// Per side, its CPU against the floor in each run, sorted.
    per_side: Vec<Vec<f64>>,
}

fn median_run(runs: Vec<Comparison>) -> Runs {
    let mut ranked: Vec<(f64, Comparison)> = runs
        .into_iter()
        .map(|run| (against_floor(&run).1.unwrap_or(f64::NAN), run))
        .collect();
    ranked.sort_by(|a, b| a.0.total_cmp(&b.0));
    let ratios: Vec<f64> = ranked.iter().map(|(ratio, _)| *ratio).collect();
    let middle = ranked.len() / 2;
    // Each faultline side's CPU against the floor in every run, for the spread between sides.
    let per_side: Vec<Vec<f64>> = (0..ranked[0].1.cpu_per_invocation.len())
        .map(|side| {
            let mut ratios: Vec<f64> = ranked
                .iter()
                .filter_map(|(_, run)| {
                    run.cpu_per_invocation[side]
                        .zip(run.cpu_per_invocation[1])
                        .map(|(ours, floor)| micros(ours) / micros(floor).max(0.001))
                })
                .collect();
            ratios.sort_by(f64::total_cmp);
            ratios
        })
        .collect();
    let median = ranked.swap_remove(middle).1;
    Runs {
        median,
        ratios,
        per_side,
    }
}

/// An SQS batch of about `size` bytes: records of 2 KiB bodies, as Lambda delivers them.
fn sqs_batch(size: usize) -> Bytes {
    let body = "b".repeat(2048);
    let mut records = Vec::new();
    let mut total = 20;
    let mut n = 0;
    while total < size {
        let record = serde_json::json!({
            "messageId": format!("059f36b4-87a3-44ab-83d2-{n:012x}"),
            "receiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a",
            "body": body,
            "attributes": {
                "ApproximateReceiveCount": "1",
                "SentTimestamp": "1545082649183",
                "SenderId": "AIDAIENQZJOLO23YVJ4VO",
                "ApproximateFirstReceiveTimestamp": "1545082649185"
            },
            "messageAttributes": {},
            "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:orders",
            "awsRegion": "us-east-1"
        });
        total += record.to_string().len() + 1;
        records.push(record);
        n += 1;
    }
    Bytes::from(serde_json::json!({ "Records": records }).to_string())
}

/// faultline with `yaml` as its config file.
fn start_with_config(
    upstream: std::net::SocketAddr,
    yaml: &str,
) -> (support::Spawned, tempfile::TempDir) {
    start_with_config_in(Path::new(env!("CARGO_BIN_EXE_faultline")), upstream, yaml)
}

/// [`start_with_config`] with the faultline binary at `binary`.
fn start_with_config_in(
    binary: &Path,
    upstream: std::net::SocketAddr,
    yaml: &str,
) -> (support::Spawned, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("faultline.yaml");
    std::fs::write(&config, yaml).expect("config file");
    let (spawned, _) = start_binary(
        binary,
        upstream,
        &[("GREMLIN_CONFIG_FILE", config.to_string_lossy().into_owned())],
    );
    (spawned, dir)
}

/// Set to an earlier faultline build, measured beside this one in the 1 KiB comparison (with
/// no config and with the guarded config): a change's effect told apart from run-to-run drift.
const BASE_ENV: &str = "FAULTLINE_BENCH_BASE";

/// The configs whose cost is told apart from the spread between processes: each is played by
/// every process in turn ([`rotated_roles`]).
const ROLES: [(&str, &str); 4] = [
    ("an empty config", "refresh_interval: 1s\nexperiments: []\n"),
    (
        "an empty config (A/A: the same role twice)",
        "refresh_interval: 1s\nexperiments: []\n",
    ),
    (
        "a config with an egress experiment",
        "refresh_interval: 1s\nexperiments:\n  - {name: bench-elsewhere, flag: egress, effect: {latency: 0}}\n",
    ),
    (
        "the same config with a guard (every invocation watched and judged)",
        "refresh_interval: 1s\nguard: {max_error_rate: 50%}\nexperiments:\n  - {name: bench-guarded, flag: egress, effect: {latency: 0}}\n",
    ),
];

/// Each role's CPU per invocation against the floor, once per rotation: process `i` plays role
/// `(i + r) % 4` in rotation `r` (its config file rewritten, then re-read within 1 s), so that
/// where a process happens to run weighs on every role alike.
async fn rotated_roles(
    upstream: &Upstream,
    floor: &Side,
    processes: &[(support::Spawned, tempfile::TempDir)],
    rotations: usize,
    iterations: usize,
) -> Vec<Vec<f64>> {
    upstream.payload.store(1024, Ordering::Relaxed);
    let mut per_role = vec![Vec::new(); ROLES.len()];
    for rotation in 0..rotations {
        for (i, (_, dir)) in processes.iter().enumerate() {
            let (_, yaml) = ROLES[(i + rotation) % ROLES.len()];
            std::fs::write(dir.path().join("faultline.yaml"), yaml).expect("config file");
        }
        tokio::time::sleep(Duration::from_millis(2500)).await;
        let mut sides = vec![Side {
            label: floor.label,
            addr: floor.addr.clone(),
            pid: floor.pid,
        }];
        sides.extend(
            processes
                .iter()
                .map(|(spawned, _)| Side::of("faultline", spawned)),
        );
        let run = measure(&sides, "roles".into(), &json_answer(1024), iterations).await;
        for i in 0..processes.len() {
            if let (Some(ours), Some(floor)) =
                (run.cpu_per_invocation[i + 1], run.cpu_per_invocation[0])
            {
                per_role[(i + rotation) % ROLES.len()]
                    .push(micros(ours) / micros(floor).max(0.001));
            }
        }
    }
    for ratios in &mut per_role {
        ratios.sort_by(f64::total_cmp);
    }
    per_role
}

fn file_size(path: &Path) -> Option<u64> {
    std::fs::metadata(path).ok().map(|m| m.len())
}

fn main() {
    support::floor::run_if_floor();
    let full = std::env::args().any(|a| a == "--bench");
    // Run under `taskset -c N` by scripts/bench-report.sh: every process on one CPU.
    let pinned = std::env::args().any(|a| a == "--pinned");
    let (small_iterations, large_iterations, rss_iterations, spawns) = if full {
        (6000, 400, 10_000, 30)
    } else {
        (20, 4, 50, 2)
    };
    let batch_iterations = if full { 1500 } else { 4 };
    // The 1 KiB comparison is measured this many times over: one run's CPU ratio swings with
    // where the scheduler puts the processes, so the median and the spread are reported.
    let repeats = if full { 7 } else { 2 };

    let upstream = Arc::new(Upstream::with_payload(1024));
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
    let floor = start_floor(upstream_addr);
    // A second faultline with an experiment that applies to every event (ingress, no delay):
    // each `/next` answer is read whole, the fault decided, and delivered as it came.
    let experiment_dir = tempfile::tempdir().expect("tempdir");
    let experiment_config = experiment_dir.path().join("faultline.yaml");
    std::fs::write(
        &experiment_config,
        "experiments:\n  - {name: bench-ingress, flag: ingress, effect: {latency: 0}}\n",
    )
    .expect("config file");
    let (with_experiment, _) = start_extension(
        upstream_addr,
        &[(
            "GREMLIN_CONFIG_FILE",
            experiment_config.to_string_lossy().into_owned(),
        )],
    );
    // One more with a guard active: a guarded experiment on dependency traffic, so that every
    // invocation is watched and every answer read and judged, and no fault applies here.
    // The same config without the guard: what a config costs that touches the Runtime API not.
    let (with_config, _config_dir) = start_with_config(upstream_addr, EGRESS_ONLY);
    let (with_guard, _guard_dir) = start_with_config(upstream_addr, GUARDED);
    let (twin, _) = start_extension(upstream_addr, &[]);
    let base = std::env::var_os(BASE_ENV).map(|binary| {
        let binary = std::path::PathBuf::from(binary);
        let (plain, _) = start_binary(&binary, upstream_addr, &[]);
        (plain, start_with_config_in(&binary, upstream_addr, GUARDED))
    });
    let direct = || Side {
        label: "direct",
        addr: upstream_addr.to_string(),
        pid: None,
    };
    let mut sides = vec![
        direct(),
        Side::of("floor relay", &floor),
        Side::of("faultline", &extension),
        Side::of(
            "faultline, an ingress experiment applying (event read whole)",
            &with_experiment,
        ),
        Side::of(
            "faultline, a guard active (every invocation watched and judged)",
            &with_guard,
        ),
        Side::of("faultline, the same config without the guard", &with_config),
        // The same binary and settings as "faultline" in a process of its own: how far two
        // identical processes' CPU differs, which bounds what a side's difference can mean.
        Side::of("faultline, no config, a second process (A/A)", &twin),
    ];
    if let Some((plain, (guarded, _))) = &base {
        sides.push(Side::of("the base build, no config", plain));
        sides.push(Side::of(
            "the base build, the same config with a guard",
            guarded,
        ));
    }
    // Two more, for a 256 KiB SQS batch: a partial batch failure applying to every answer, and
    // an `event.` selector read from every event.
    let (with_batch_failures, _batch_dir) = start_with_config(
        upstream_addr,
        "experiments:\n  - {name: bench-batch, flag: response, effect: {batchItemFailures: {rate: 0.2}}}\n",
    );
    let (with_event_selector, _event_dir) = start_with_config(
        upstream_addr,
        "experiments:\n  - {name: bench-event, flag: ingress, selector: {event.Records.0.eventSource: \"aws:sqs\"}, effect: {latency: 0}}\n",
    );
    let batch_sides = [
        direct(),
        Side::of("floor relay", &floor),
        Side::of("faultline", &extension),
        Side::of(
            "faultline, batchItemFailures {rate: 0.2} applying",
            &with_batch_failures,
        ),
        Side::of(
            "faultline, an event.Records.0.eventSource selector applying",
            &with_event_selector,
        ),
    ];
    let batch_answer = Bytes::from_static(br#"{"batchItemFailures":[]}"#);
    let role_players: Vec<(support::Spawned, tempfile::TempDir)> = ROLES
        .iter()
        .map(|(_, yaml)| start_with_config(upstream_addr, yaml))
        .collect();
    let rotations = if full { 8 } else { 1 };
    let (small, large, batch, rss_before, rss_after, proxy_cpu, loop_wall, connections, roles) =
        runtime.block_on(async {
            let mut runs = Vec::with_capacity(repeats);
            for _ in 0..repeats {
                runs.push(compare(&upstream, &sides, 1024, small_iterations).await);
            }
            let small = median_run(runs);
            let roles = rotated_roles(
                &upstream,
                &sides[1],
                &role_players,
                rotations,
                small_iterations / 2,
            )
            .await;
            let large = compare(&upstream, &sides, 1024 * 1024, large_iterations).await;
            let event = sqs_batch(256 * 1024);
            let label = format!("{} KiB SQS batch", event.len() / 1024);
            *upstream.event.lock().expect("lock") = Some(event);
            let batch = measure(&batch_sides, label, &batch_answer, batch_iterations).await;
            *upstream.event.lock().expect("lock") = None;
            upstream.payload.store(1024, Ordering::Relaxed);
            let connections_before = upstream.connections.load(Ordering::Relaxed);
            let rss_before = rss_kib(extension.child.id());
            let cpu_before = cpu_time_ns(extension.child.id());
            let client = new_client();
            let payload = json_answer(1024);
            let started = Instant::now();
            for _ in 0..rss_iterations {
                invocation(&client, &extension.addr, &payload).await;
            }
            let wall = started.elapsed();
            let connections = upstream.connections.load(Ordering::Relaxed) - connections_before;
            let cpu = cpu_time_ns(extension.child.id())
                .zip(cpu_before)
                .map(|(after, before)| after.saturating_sub(before));
            (
                small,
                large,
                batch,
                rss_before,
                rss_kib(extension.child.id()),
                cpu,
                wall,
                connections,
                roles,
            )
        });
    drop(role_players);
    drop(floor);
    drop(with_experiment);
    drop(with_guard);
    drop(with_config);
    drop(twin);
    drop(base);
    drop(with_batch_failures);
    drop(with_event_selector);
    drop(extension);

    let root = repo_root();
    let mut report = String::new();
    report.push_str(&format!(
        "# Runtime API proxy benchmark{}\n\nmode: {}, {} cores{}\n\n",
        if pinned { ", pinned to one CPU" } else { "" },
        if full { "full" } else { "smoke (cargo test)" },
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        if pinned {
            " (client, upstream, floor and faultline all on the CPU `taskset` gave)"
        } else {
            ""
        }
    ));
    report.push_str(
        "One invocation = `GET /next` + `POST /response` by a pooled hyper client, against a \
         Runtime API that sends what Lambda sends (a unique request id, invocation id and trace \
         id per event, the deadline, the function ARN); the response goes to the event's request \
         id and echoes its invocation id, as current runtime clients do. Paths \
         (direct; the floor relay; faultline with no experiment; faultline with an ingress \
         experiment of no delay applying to every event, so each event is read whole and judged; \
         faultline with a guard active, so each invocation is watched and its answer judged) \
         interleaved in blocks of 50, their order rotated each round, after 200 warm-up \
         invocations a side. CPU: the relay process's, from /proc/PID/task/*/schedstat, over the \
         measured rounds, per invocation.\n\n\
         | payload | path | p50 µs | p99 µs | added p50 µs | added p99 µs | relay CPU µs per invocation |\n\
         |---|---|---|---|---|---|---|\n",
    );
    for c in [&small.median, &large] {
        comparison_rows(&mut report, c, &sides);
    }
    report.push_str(
        "\nA 256 KiB SQS batch (records with 2 KiB bodies), answered `{\"batchItemFailures\":[]}`, \
         on the same paths, and on faultline with a partial batch failure applying to every \
         answer (the record ids read at /next, a fifth of them added to the answer) and with an \
         `event.` selector read from every event:\n\n\
         | event | path | p50 µs | p99 µs | added p50 µs | added p99 µs | relay CPU µs per invocation |\n\
         |---|---|---|---|---|---|---|\n",
    );
    comparison_rows(&mut report, &batch, &batch_sides);
    let floor_cpu = batch.cpu_per_invocation[1];
    let against = |i: usize| {
        batch.cpu_per_invocation[i]
            .zip(floor_cpu)
            .map_or("?".into(), |(ours, floor)| {
                format!("{:.2}", micros(ours) / micros(floor).max(0.001))
            })
    };
    report.push_str(&format!(
        "\n256 KiB SQS batch, CPU per invocation against the floor: faultline {}, with \
         batchItemFailures applying {}, with an event. selector applying {}\n",
        against(2),
        against(3),
        against(4)
    ));
    let guard_ratio = |c: &Comparison| {
        c.cpu_per_invocation[4]
            .zip(c.cpu_per_invocation[1])
            .map_or("?".into(), |(ours, floor)| {
                format!("{:.2}", micros(ours) / micros(floor).max(0.001))
            })
    };
    let config_ratio = |c: &Comparison| {
        c.cpu_per_invocation[5]
            .zip(c.cpu_per_invocation[1])
            .map_or("?".into(), |(ours, floor)| {
                format!("{:.2}", micros(ours) / micros(floor).max(0.001))
            })
    };
    report.push_str(&format!(
        "\nWith a guard active (every invocation watched, every answer judged), CPU per \
         invocation against the floor: 1 KiB {} (goal ≤ 1.10), 1 MiB {}; the same config \
         without the guard: 1 KiB {}, 1 MiB {}\n",
        guard_ratio(&small.median),
        guard_ratio(&large),
        config_ratio(&small.median),
        config_ratio(&large)
    ));
    report.push_str(&format!(
        "\n1 KiB CPU against the floor, every side over {} runs (median, lowest to highest):\n\n\
         | path | median | spread |\n|---|---|---|\n",
        small.per_side[1].len()
    ));
    for (side, ratios) in sides.iter().zip(&small.per_side).skip(2) {
        if let (Some(low), Some(high)) = (ratios.first(), ratios.last()) {
            report.push_str(&format!(
                "| {} | {:.3} | {low:.3} to {high:.3} |\n",
                side.label,
                ratios[ratios.len() / 2]
            ));
        }
    }
    report.push_str(&format!(
        "\n1 KiB CPU against the floor by role, each role played by each of {} processes in turn \
         ({} rotations of {} invocations a process; median, lowest to highest):\n\n\
         | role | median | spread |\n|---|---|---|\n",
        ROLES.len(),
        roles.first().map_or(0, Vec::len),
        small_iterations / 2
    ));
    for ((label, _), ratios) in ROLES.iter().zip(&roles) {
        if let (Some(low), Some(high)) = (ratios.first(), ratios.last()) {
            report.push_str(&format!(
                "| {label} | {:.3} | {low:.3} to {high:.3} |\n",
                ratios[ratios.len() / 2]
            ));
        }
    }
    let (small_added, small_ratio) = against_floor(&small.median);
    let (large_added, large_ratio) = against_floor(&large);
    let ratio = |r: Option<f64>| r.map_or("?".into(), |r| format!("{r:.2}"));
    report.push_str(&format!(
        "\nfaultline against the floor: 1 KiB {small_added:+.0} µs p50, CPU ratio {} \
         (goals: ≤ +15 µs, ≤ 1.10); 1 MiB {large_added:+.0} µs p50, CPU ratio {}, faultline CPU \
         {} µs per invocation (goal: ≤ 870)\n",
        ratio(small_ratio),
        ratio(large_ratio),
        large.cpu_per_invocation[2].map_or("?".into(), |c| format!("{:.0}", micros(c)))
    ));
    report.push_str(&format!(
        "\n1 KiB CPU ratio against the floor over {} runs of {small_iterations} invocations a \
         side: median {}, spread {} to {} (each run: {})\n",
        small.ratios.len(),
        ratio(Some(small.ratios[small.ratios.len() / 2])),
        ratio(small.ratios.first().copied()),
        ratio(small.ratios.last().copied()),
        small
            .ratios
            .iter()
            .map(|r| format!("{r:.2}"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    let sched = |c: &Comparison, i: usize| {
        c.sched_per_invocation[i].map_or("?".into(), |(m, s)| {
            format!("{m:.2} migrations, {s:.1} switches")
        })
    };
    report.push_str(&format!(
        "per invocation at 1 KiB (median run): floor relay {}; faultline {}\n",
        sched(&small.median, 1),
        sched(&small.median, 2)
    ));
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
        let out = root.join(if pinned {
            "target/bench-report-pinned.md"
        } else {
            "target/bench-report.md"
        });
        if let Err(err) = std::fs::write(&out, &report) {
            eprintln!("cannot write {}: {err}", out.display());
        } else {
            println!("\nwritten to {}", out.display());
        }
    }
}
