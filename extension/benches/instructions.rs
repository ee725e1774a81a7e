//! Instructions per invocation of the Runtime API relay, counted by callgrind.
//!
//! CPU time on these machines swings by a few hundredths of the floor between runs and between
//! two processes running the same binary; instruction counts do not. For each config (none; an
//! experiment on dependency traffic; the same under a guard) faultline runs under
//! `valgrind --tool=callgrind` twice, relaying a short and then a long run of invocations
//! (1 KiB events, 1 KiB HTTP-shaped answers, as in the runtime_proxy bench): the difference,
//! divided by the difference in invocations, is one invocation's user-space instructions with
//! start-up left out. The functions that grew most against the config-less process are listed
//! (callgrind_annotate), so that a cost can be found, not only seen.
//!
//! `cargo bench --bench instructions` writes target/bench-instructions.md. With
//! `FAULTLINE_BENCH_BASE` set to an earlier faultline binary, that build is counted too, beside
//! this one. Without valgrind the report says so and nothing is counted. Run by `cargo test` (no `--bench` argument) it counts a
//! few invocations of one config so the code stays working.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure is the report

mod support;

use support::{
    EGRESS_ONLY, GUARDED, Upstream, json_answer, repo_root, run_invocation, start_upstream,
    start_wrapped,
};

use faultline_extension::net::client::new_client;
use faultline_testkit::on_path;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The configs counted, the first the baseline.
const CONFIGS: [(&str, Option<&str>); 3] = [
    ("no config", None),
    ("a config with an egress experiment", Some(EGRESS_ONLY)),
    ("the same config with a guard", Some(GUARDED)),
];

/// Invocations before counting starts in earnest: connections opened, buffers grown.
const WARM_UP: usize = 50;

/// Runs `invocations` invocations through faultline under callgrind with `config`, ends it with
/// SIGTERM (callgrind writes its counts at exit) and returns the counts file.
fn counted(
    valgrind: &Path,
    binary: &Path,
    upstream: std::net::SocketAddr,
    config: Option<&str>,
    invocations: usize,
    out: &Path,
) -> PathBuf {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut env = Vec::new();
    if let Some(yaml) = config {
        let file = dir.path().join("faultline.yaml");
        std::fs::write(&file, yaml).expect("config file");
        env.push(("GREMLIN_CONFIG_FILE", file.to_string_lossy().into_owned()));
    }
    let wrapper = [
        valgrind.to_string_lossy().into_owned(),
        "--tool=callgrind".into(),
        format!("--callgrind-out-file={}", out.display()),
    ];
    let (mut spawned, _) = start_wrapped(&wrapper, binary, upstream, &env);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let client = new_client();
        let payload = json_answer(1024);
        for _ in 0..invocations {
            run_invocation(&client, &spawned.addr, &payload).await;
        }
    });
    let pid = spawned.child.id().to_string();
    let _ = Command::new("kill").args(["-TERM", &pid]).status();
    let deadline = Instant::now() + Duration::from_secs(30);
    while spawned.child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    out.to_path_buf()
}

/// Instructions by function in a counts file, and their total.
fn by_function(counts: &Path) -> (u64, BTreeMap<String, u64>) {
    let annotated = Command::new("callgrind_annotate")
        .args(["--threshold=100"])
        .arg(counts)
        .output()
        .expect("callgrind_annotate");
    let text = String::from_utf8_lossy(&annotated.stdout);
    let mut total = 0;
    let mut functions = BTreeMap::new();
    for line in text.lines() {
        let Some((number, rest)) = line.trim_start().split_once(' ') else {
            continue;
        };
        let Ok(count) = number.replace(',', "").parse::<u64>() else {
            continue;
        };
        if rest.contains("PROGRAM TOTALS") {
            total = count;
            continue;
        }
        // `N (p%)  file:function [object]`: the function, without file and object.
        let Some((_, named)) = rest.split_once(")  ") else {
            continue;
        };
        let named = named.rsplit_once(" [").map_or(named, |(name, _)| name);
        let name = named.split_once(':').map_or(named, |(_, name)| name);
        *functions.entry(name.to_string()).or_insert(0) += count;
    }
    (total, functions)
}

/// One config's instructions per invocation, over all and by function.
struct PerInvocation {
    total: f64,
    functions: BTreeMap<String, f64>,
}

fn per_invocation(short: &Path, long: &Path, invocations: usize) -> PerInvocation {
    let (short_total, short_functions) = by_function(short);
    let (long_total, long_functions) = by_function(long);
    let per = |long: u64, short: u64| (long as f64 - short as f64) / invocations as f64;
    let mut functions = BTreeMap::new();
    for name in short_functions.keys().chain(long_functions.keys()) {
        let long = long_functions.get(name).copied().unwrap_or(0);
        let short = short_functions.get(name).copied().unwrap_or(0);
        functions.insert(name.clone(), per(long, short));
    }
    PerInvocation {
        total: per(long_total, short_total),
        functions,
    }
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let out = repo_root().join("target/bench-instructions.md");
    let mut report = String::from("# Instructions per invocation (callgrind)\n\n");
    let (Some(valgrind), Some(_)) = (on_path("valgrind"), on_path("callgrind_annotate")) else {
        report.push_str("valgrind is not installed: nothing was counted.\n");
        println!("{report}");
        if full {
            std::fs::write(&out, &report).expect("report");
        }
        return;
    };
    let (short, long) = if full { (500, 2500) } else { (5, 15) };
    let configs: &[(&str, Option<&str>)] = if full { &CONFIGS } else { &CONFIGS[2..] };
    let mut builds = vec![("this build", PathBuf::from(env!("CARGO_BIN_EXE_faultline")))];
    if let Some(base) = std::env::var_os("FAULTLINE_BENCH_BASE") {
        builds.push(("the base build", PathBuf::from(base)));
    }
    let upstream_addr = start_upstream(Arc::new(Upstream::with_payload(1024)));
    let dir = tempfile::tempdir().expect("tempdir");
    // Per build, per config: the counts.
    let mut measured: Vec<Vec<PerInvocation>> = Vec::new();
    for (b, (build, binary)) in builds.iter().enumerate() {
        let mut of_build = Vec::new();
        for (i, (label, config)) in configs.iter().enumerate() {
            let short_file = dir.path().join(format!("{b}-{i}-short.out"));
            let long_file = dir.path().join(format!("{b}-{i}-long.out"));
            for (n, file) in [(short, &short_file), (long, &long_file)] {
                counted(&valgrind, binary, upstream_addr, *config, WARM_UP + n, file);
            }
            let counts = per_invocation(&short_file, &long_file, long - short);
            assert!(
                counts.total > 0.0,
                "{build}, {label}: no instructions counted per invocation"
            );
            println!(
                "{build}, {label}: {:.0} instructions per invocation",
                counts.total
            );
            of_build.push(counts);
        }
        measured.push(of_build);
    }
    if !full {
        return;
    }
    report.push_str(&format!(
        "User-space instructions of the faultline process per invocation (`GET /next` + `POST \
         /response`, 1 KiB each way), counted by callgrind: runs of {} and {} invocations after \
         {WARM_UP} of warm-up, their difference divided by {}; in brackets, more than the \
         config before.\n\n| config |{}\n|---|{}\n",
        WARM_UP + short,
        WARM_UP + long,
        long - short,
        builds
            .iter()
            .map(|(build, _)| format!(" {build} |"))
            .collect::<String>(),
        "---|".repeat(builds.len())
    ));
    for (i, (label, _)) in configs.iter().enumerate() {
        report.push_str(&format!("| {label} |"));
        for of_build in &measured {
            let total = of_build[i].total;
            match i.checked_sub(1).and_then(|before| of_build.get(before)) {
                Some(before) => {
                    report.push_str(&format!(" {total:.0} ({:+.0}) |", total - before.total))
                }
                None => report.push_str(&format!(" {total:.0} |")),
            }
        }
        report.push('\n');
    }
    let this_build = &measured[0];
    for (i, pair) in this_build.windows(2).enumerate() {
        let [before, after] = pair else {
            continue;
        };
        let mut grown: Vec<(f64, &String)> = after
            .functions
            .iter()
            .map(|(name, n)| (n - before.functions.get(name).copied().unwrap_or(0.0), name))
            .filter(|(n, _)| n.abs() >= 20.0)
            .collect();
        grown.sort_by(|a, b| b.0.total_cmp(&a.0));
        report.push_str(&format!(
            "\nThis build, {}, against {}: the functions that grew most (instructions per \
             invocation)\n\n| function | more |\n|---|---|\n",
            configs[i + 1].0,
            configs[i].0
        ));
        for (n, name) in grown.iter().take(10) {
            report.push_str(&format!("| `{name}` | {n:+.0} |\n"));
        }
    }
    println!("\n{report}");
    std::fs::write(&out, &report).expect("report");
    println!("written to {}", out.display());
}
