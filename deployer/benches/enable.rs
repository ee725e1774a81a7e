//! `deployer enable` on many functions in moto server: wall time and AWS calls per function at
//! the default pace (10 requests/s). `cargo bench -p faultline-deployer --bench enable` uses 200
//! functions and writes target/bench-deployer.md; without `--bench` (cargo test) it uses 5.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure is the report

mod support;

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{FunctionCode, Runtime};
use faultline_testkit::{MotoServer, repo_root};
use std::fmt::Write as _;
use support::{EMPTY_ZIP, Keys, deployer, layer_dist};

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let count = if full { 200 } else { 5 };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let moto = MotoServer::start().await;
        let dist = layer_dist();
        let dist_path = dist.path().to_string_lossy().into_owned();
        deployer(&moto.endpoint, &Keys::testing(), &["init", "--dist", &dist_path]);

        let config = faultline_testkit::aws_config(&moto.endpoint, "testing", "testing").await;
        let iam = aws_sdk_iam::Client::new(&config);
        let lambda = aws_sdk_lambda::Client::new(&config);
        let mut roles = Vec::new();
        for i in 0..4 {
            let role = iam
                .create_role()
                .role_name(format!("bench-role-{i}"))
                .assume_role_policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#)
                .send()
                .await
                .expect("role");
            roles.push(role.role.map(|r| r.arn).expect("role arn"));
        }
        for i in 0..count {
            lambda
                .create_function()
                .function_name(format!("bench-fn-{i:03}"))
                .runtime(Runtime::Python312)
                .role(&roles[i % roles.len()])
                .handler("handler.handler")
                .code(FunctionCode::builder().zip_file(Blob::new(EMPTY_ZIP)).build())
                .send()
                .await
                .expect("create function");
        }

        let (out, enable_secs) = deployer(&moto.endpoint, &Keys::testing(), &["enable", "--all", "--yes", "--output", "json"]);
        let report: serde_json::Value = serde_json::from_str(&out).expect("json report");
        let calls = report["aws_calls"].as_u64().unwrap_or(0);
        let changed = report["functions"]
            .as_array()
            .map_or(0, |f| f.iter().filter(|f| f["changed"] == true).count());
        assert_eq!(changed, count, "every function enabled: {out}");
        let (out, again_secs) = deployer(&moto.endpoint, &Keys::testing(), &["enable", "--all", "--yes", "--output", "json"]);
        let again: serde_json::Value = serde_json::from_str(&out).expect("json report");
        let again_calls = again["aws_calls"].as_u64().unwrap_or(0);
        let (out, disable_secs) = deployer(&moto.endpoint, &Keys::testing(), &["disable", "--all", "--yes", "--output", "json"]);
        let disabled: serde_json::Value = serde_json::from_str(&out).expect("json report");
        let disable_calls = disabled["aws_calls"].as_u64().unwrap_or(0);

        let per = |calls: u64| calls as f64 / count as f64;
        let mut text = String::from("# deployer benchmark (moto server)\n\n");
        let _ = writeln!(
            text,
            "{count} functions over 4 roles, default pace (10 requests/s), {} cores.\n\n\
             | command | wall s | AWS calls | calls per function | pace floor s (calls / 10) |\n|---|---|---|---|---|\n\
             | enable --all (first) | {enable_secs:.1} | {calls} | {:.2} | {:.1} |\n\
             | enable --all (again: no change) | {again_secs:.1} | {again_calls} | {:.2} | {:.1} |\n\
             | disable --all | {disable_secs:.1} | {disable_calls} | {:.2} | {:.1} |\n\n\
             Calls counted are the paced ones (listing, reads, updates, tags, role policies); the four\n\
             set-up reads of what `init` created (sts, secret, two layer listings) are not paced or counted.\n",
            std::thread::available_parallelism().map_or(0, |n| n.get()),
            per(calls),
            calls as f64 / 10.0,
            per(again_calls),
            again_calls as f64 / 10.0,
            per(disable_calls),
            disable_calls as f64 / 10.0,
        );
        print!("{text}");
        if full {
            let path = repo_root().join("target/bench-deployer.md");
            std::fs::write(&path, &text).expect("write report");
            println!("report written to {}", path.display());
        }
    });
}
