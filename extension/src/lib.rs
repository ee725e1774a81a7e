//! faultline's Lambda extension: the Runtime API proxy, the dependency proxy, the Failure Flags
//! SDK endpoint and the extension lifecycle that starts them. The `faultline` binary
//! (src/main.rs) runs [`lifecycle::run`]; the config schema, the matcher and the fault decision
//! live in the `faultline-schema` crate, which the deployer shares.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod audit;
pub mod aws;
pub mod config;
pub mod dependency_proxy;
pub mod environment;
pub mod guard;
pub mod inject;
pub mod invocation;
pub mod kernel_timer;
pub mod lambda;
pub mod lifecycle;
pub mod logging;
pub mod net;
pub mod runtime_proxy;
pub mod sdk_endpoint;
pub mod settings;
pub mod xray;
