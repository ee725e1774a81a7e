//! faultline's Lambda extension: the config schema, the Runtime API proxy and the extension
//! lifecycle. The `faultline` binary (src/main.rs) wires them together; the deployer reuses the
//! config schema from here.

pub mod api_endpoint;
pub mod audit;
pub mod config;
pub mod config_loader;
pub mod config_refresh;
pub mod config_source;
pub mod config_state;
pub mod dependency_proxy;
pub mod experiment_matcher;
pub mod extensions_api;
pub mod fault;
pub mod http_client;
pub mod invocation_labels;
pub mod lifecycle;
pub mod listener;
pub mod logging;
pub mod ready_file;
pub mod runtime_proxy;
pub mod sdk_endpoint;
pub mod settings;
