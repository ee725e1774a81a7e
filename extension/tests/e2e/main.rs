//! End-to-end tests: the `faultline` binary runs as its own process next to real runtime clients
//! (awslambdaric for Python, aws-lambda-ric on Node.js 24, lambda_runtime for Rust) started
//! through `faultline-wrapper`, against a Runtime/Extensions API emulator (cargo-lambda's or the
//! tests' own) and moto server.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure is the report

mod aws_errors;
mod cold_start;
mod config_loading;
mod config_sources;
mod dependency_proxy;
mod environment;
mod experiment_selection;
mod fail_open;
mod faults_runtime;
mod guard;
mod idle_outbound;
mod invocation_id;
mod lifecycle;
mod load;
mod managed_instances;
mod memory;
mod node_runtime;
mod proxy_python;
mod proxy_rust;
mod sdk_lookup;
mod security;
mod snapstart;
mod stop_conditions;
mod support;
mod traces;

pub(crate) use faultline_testkit::lambda_emulator as emulator;

use emulator::Emulator;
use std::time::Duration;
use support::{LambdaEnv, Proc};

/// Starts the extension and waits until it registered, as Lambda does before starting the runtime.
pub async fn start_extension(env: &LambdaEnv, emulator: &Emulator) -> Proc {
    let before = emulator.registrations().len();
    emulator.probe_ready_file(env.ready_file());
    let extension = env.extension();
    assert!(
        emulator
            .wait_registered(before + 1, Duration::from_secs(10))
            .await,
        "extension did not register: {}",
        extension.log_text()
    );
    extension
}
