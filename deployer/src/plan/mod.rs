//! The planner: a pure function from a function's current configuration to the configuration
//! `enable` or `disable` wants. Nothing here talks to AWS, so every rule is unit-tested.
//!
//! Enabling records what it changes in one reserved variable, `FAULTLINE_SAVED`, (the previous
//! value of every variable it set, `null` for "was not set", and the previous faultline layer if
//! one was there), so that `disable` restores exactly what was there, even when the function was
//! edited in between: only faultline's own changes are undone.

mod arch;
pub mod diff;
mod disable;
mod enable;
mod wiring;

pub use arch::Arch;
pub use disable::plan_disable;
pub use enable::{EnableTarget, OurLayer, merged_no_proxy, plan_enable};
pub use wiring::{
    JAVA_PROXY_OPTION_PREFIXES, NODE_ENV_PROXY_RUNTIMES, Ports, RuntimeProxyNeed, WiringValue,
    dependency_proxy_url, java_proxy_options, java_tool_options, runtime_proxy_need, wiring,
};

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use thiserror::Error;

/// Where the exec wrapper lives in the layer.
pub const WRAPPER: &str = "/opt/faultline-wrapper";
/// The dependency proxy the function's HTTP clients are pointed at.
pub const DEPENDENCY_PROXY: &str = "http://localhost:5034";
/// Hosts that must never go through the dependency proxy: loopback and the metadata endpoints.
pub const NO_PROXY_HOSTS: [&str; 3] = ["localhost", "127.0.0.1", "169.254.169.254"];
/// The reserved variable holding what enabling changed.
pub const SAVED: &str = "FAULTLINE_SAVED";
/// Lambda allows at most five layers per function.
pub const MAX_LAYERS: usize = 5;
/// Lambda's limit on the environment variables' total size.
pub const MAX_ENV_BYTES: usize = 4096;

/// What the planner needs to know of a function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionConfig {
    pub name: String,
    pub runtime: Option<String>,
    pub arch: Arch,
    /// Layer version ARNs, in order.
    pub layers: Vec<String>,
    pub env: BTreeMap<String, String>,
    /// `Image` functions cannot use layers.
    pub is_image: bool,
    /// Why Lambda could not return the function's variables (`Environment.Error`, e.g. a
    /// customer KMS key the caller cannot use): then they are unknown, not empty.
    pub env_error: Option<String>,
}

/// What `enable` changed, kept in `FAULTLINE_SAVED`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Saved {
    /// Previous value of each variable enabling set; `None`: it was not set.
    pub env: BTreeMap<String, Option<String>>,
    /// A faultline layer version that was attached before (replaced by enabling).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer: Option<String>,
}

/// The configuration a command wants, and whether it differs from the current one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub layers: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub warnings: Vec<String>,
}

impl Plan {
    pub fn changes(&self, current: &FunctionConfig) -> bool {
        self.layers != current.layers || self.env != current.env
    }
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum PlanError {
    #[error("{function}: it would have {count} layers; Lambda allows {MAX_LAYERS}")]
    TooManyLayers { function: String, count: usize },
    #[error("{function}: container image functions cannot use layers")]
    Image { function: String },
    #[error("{function}: the environment would be {bytes} bytes; Lambda allows {MAX_ENV_BYTES}")]
    EnvTooLarge { function: String, bytes: usize },
    #[error("{function}: {SAVED} is not valid ({reason}); restore the function by hand")]
    BadSaved { function: String, reason: String },
    #[error(
        "{function}: Lambda could not return its environment variables ({error}); nothing was \
         changed (an update would replace variables that cannot be read)"
    )]
    EnvironmentUnreadable { function: String, error: String },
}

/// Whether the runtime honours AWS_LAMBDA_EXEC_WRAPPER (OS-only runtimes do not).
pub fn supports_wrapper(runtime: Option<&str>) -> bool {
    !runtime.is_none_or(|r| r.starts_with("provided"))
}

/// Refuses a function whose variables Lambda could not return.
pub(crate) fn readable(current: &FunctionConfig) -> Result<(), PlanError> {
    match &current.env_error {
        Some(error) => Err(PlanError::EnvironmentUnreadable {
            function: current.name.clone(),
            error: error.clone(),
        }),
        None => Ok(()),
    }
}

impl Saved {
    /// What `enable` recorded on this function, if it is enabled.
    pub fn of(current: &FunctionConfig) -> Result<Option<Saved>, PlanError> {
        current
            .env
            .get(SAVED)
            .map(|text| {
                serde_json::from_str(text).map_err(|err| PlanError::BadSaved {
                    function: current.name.clone(),
                    reason: err.to_string(),
                })
            })
            .transpose()
    }
}

#[cfg(test)]
mod tests;
