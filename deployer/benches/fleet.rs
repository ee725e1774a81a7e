//! `deployer enable --all` across 2 accounts × 3 Regions in moto server, against the same six
//! targets run one after another (one account and Region per run, as before fleet options):
//! wall time and AWS calls per function, at the default pace (10 requests/s in each account and
//! Region, 100/s for the whole run). Rounds alternate which comes first; every function is
//! disabled between runs. `cargo bench -p faultline-deployer --bench fleet` uses 100 functions
//! per target (600) and writes target/bench-fleet.md; without `--bench` (cargo test) it uses 3.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure is the report

mod support;

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{FunctionCode, Runtime};
use faultline_testkit::{MotoServer, repo_root};
use std::fmt::Write as _;
use support::{EMPTY_ZIP, Keys, deployer, layer_dist};

const OWN: &str = "123456789012";
const OTHER: &str = "222222222222";
const ACCOUNTS: [&str; 2] = [OWN, OTHER];
const REGIONS: [&str; 3] = ["us-east-1", "eu-west-1", "ap-southeast-2"];
const ROLE: &str = "faultline-deployer";

/// A fleet command's JSON report: functions changed, and AWS calls, over every target.
fn tally(out: &str) -> (usize, u64) {
    let report: serde_json::Value = serde_json::from_str(out).expect("json report");
    let mut changed = 0;
    let mut calls = 0;
    for target in report["targets"].as_array().into_iter().flatten() {
        let part = &target["report"];
        calls += part["aws_calls"].as_u64().unwrap_or(0);
        changed += part["functions"]
            .as_array()
            .map_or(0, |f| f.iter().filter(|f| f["changed"] == true).count());
    }
    (changed, calls)
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let per_target = if full { 100 } else { 3 };
    let rounds = if full { 2 } else { 1 };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let moto = MotoServer::start().await;
        let endpoint = moto.endpoint.clone();
        let dist = layer_dist();
        let dist_path = dist.path().to_string_lossy().into_owned();
        let sdk = faultline_testkit::aws_config(&endpoint, "testing", "testing").await;
        let own = Keys::testing();
        let assumed = faultline_testkit::assume_role(&sdk, &format!("arn:aws:iam::{OTHER}:role/setup"))
            .await
            .expect("credentials in the second account");
        let other = Keys {
            id: assumed.access_key_id().to_string(),
            secret: assumed.secret_access_key().to_string(),
            token: assumed.session_token().map(str::to_string),
        };
        // Each target: an install, and its functions over four roles.
        for (account, keys, acting) in [
            (OWN, &own, sdk.clone()),
            (OTHER, &other, faultline_testkit::acting_as(&sdk, &assumed)),
        ] {
            for region in REGIONS {
                deployer(&endpoint, keys, &["init", "--region", region, "--dist", &dist_path]);
                let config = acting
                    .to_builder()
                    .region(aws_config::Region::new(region))
                    .build();
                let iam = aws_sdk_iam::Client::new(&config);
                let lambda = aws_sdk_lambda::Client::new(&config);
                let mut roles = Vec::new();
                for i in 0..4 {
                    let name = format!("bench-role-{region}-{i}");
                    let role = iam
                        .create_role()
                        .role_name(&name)
                        .assume_role_policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#)
                        .send()
                        .await
                        .expect("role");
                    roles.push(role.role.map(|r| r.arn).expect("role arn"));
                }
                let creates = (0..per_target).map(|i| {
                    let (lambda, role) = (lambda.clone(), roles[i % roles.len()].clone());
                    async move {
                        lambda
                            .create_function()
                            .function_name(format!("bench-fn-{i:03}"))
                            .runtime(Runtime::Python312)
                            .role(role)
                            .handler("handler.handler")
                            .code(FunctionCode::builder().zip_file(Blob::new(EMPTY_ZIP)).build())
                            .send()
                            .await
                            .expect("create function")
                    }
                });
                futures::future::join_all(creates).await;
                println!("{account} {region}: installed, {per_target} functions");
            }
        }
        let regions = REGIONS.join(",");
        let accounts = ACCOUNTS.join(",");
        let command = |verb: &'static str, accounts: &str, regions: &str| {
            let (accounts, regions) = (accounts.to_string(), regions.to_string());
            let (endpoint, own) = (endpoint.clone(), own.clone());
            move || {
                deployer(
                    &endpoint,
                    &own,
                    &[
                        verb, "--all", "--yes", "--output", "json", "--accounts", &accounts,
                        "--role-name", ROLE, "--regions", &regions,
                    ],
                )
            }
        };
        let disable_all = command("disable", &accounts, &regions);
        let fleet = command("enable", &accounts, &regions);
        let sequential = || {
            let mut changed = 0;
            let mut calls = 0;
            let mut wall = 0.0;
            for account in ACCOUNTS {
                for region in REGIONS {
                    let (out, secs) = command("enable", account, region)();
                    let (c, n) = tally(&out);
                    changed += c;
                    calls += n;
                    wall += secs;
                }
            }
            (changed, calls, wall)
        };
        let total = per_target * ACCOUNTS.len() * REGIONS.len();
        let mut fleet_runs = Vec::new();
        let mut sequential_runs = Vec::new();
        for round in 0..rounds {
            // Rotated: the first round runs the fleet first, the second one after the other.
            for fleet_first in [round % 2 == 0, round % 2 != 0] {
                if fleet_first {
                    let (out, secs) = fleet();
                    let (changed, calls) = tally(&out);
                    assert_eq!(changed, total, "every function enabled: {out}");
                    fleet_runs.push((secs, calls));
                } else {
                    let (changed, calls, secs) = sequential();
                    assert_eq!(changed, total, "every function enabled");
                    sequential_runs.push((secs, calls));
                }
                let (out, _) = disable_all();
                assert_eq!(tally(&out).0, total, "every function disabled: {out}");
            }
        }
        let median = |runs: &[(f64, u64)]| {
            let mut secs: Vec<f64> = runs.iter().map(|r| r.0).collect();
            secs.sort_by(f64::total_cmp);
            secs[secs.len() / 2]
        };
        let per = |runs: &[(f64, u64)]| runs[0].1 as f64 / total as f64;
        let (fleet_secs, sequential_secs) = (median(&fleet_runs), median(&sequential_runs));
        let ratio = sequential_secs / fleet_secs;
        let show = |runs: &[(f64, u64)]| {
            runs.iter()
                .map(|r| format!("{:.1}", r.0))
                .collect::<Vec<_>>()
                .join(" / ")
        };
        let mut text = String::from("# deployer fleet benchmark (moto server)\n\n");
        let _ = writeln!(
            text,
            "`enable --all` on {per_target} functions in each of 2 accounts × 3 Regions ({total}), \
             the second account through sts:AssumeRole, default pace (10 requests/s in each \
             account and Region, 100/s for the run), {} cores, {rounds} round(s) alternating \
             which goes first.\n\n\
             | run | wall s (each round) | AWS calls | calls per function |\n|---|---|---|---|\n\
             | one fleet run (6 targets side by side) | {} | {} | {:.2} |\n\
             | 6 runs one after another (1 target each) | {} | {} | {:.2} |\n\n\
             Sequential ÷ fleet (medians): **{ratio:.2}×** (goal ≥ 4×).\n",
            std::thread::available_parallelism().map_or(0, |n| n.get()),
            show(&fleet_runs),
            fleet_runs[0].1,
            per(&fleet_runs),
            show(&sequential_runs),
            sequential_runs[0].1,
            per(&sequential_runs),
        );
        print!("{text}");
        assert_eq!(
            fleet_runs[0].1, sequential_runs[0].1,
            "the same calls whether side by side or one after another"
        );
        if full {
            let path = repo_root().join("target/bench-fleet.md");
            std::fs::write(&path, &text).expect("write report");
            println!("report written to {}", path.display());
        }
    });
}
