//! `deployer status`: per function, whether faultline is enabled, whether its layer is the
//! current version, the architecture and runtime, wrapper support, and the role policy.

use crate::aws::Aws;
use crate::error::DeployError;
use crate::functions::rate_limit::RateLimit;
use crate::functions::{self, Function};
use crate::global::Global;
use crate::install::Installed;
use crate::install::policy;
use crate::output::Report;
use crate::plan::{SAVED, supports_wrapper};
use serde::Serialize;
use std::collections::HashMap;
use std::fmt;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Function names (default: every function in the region)
    pub functions: Vec<String>,
}

pub async fn run(global: &Global, args: &Args) -> Result<(), DeployError> {
    let aws_ = Aws::connect(&global.aws).await?;
    let limit = RateLimit::per_second(20);
    let installed = Installed::read(&aws_, &global.name, global.store).await?;
    let functions: Vec<Function> = if args.functions.is_empty() {
        functions::list_all(&aws_, &limit).await?
    } else {
        let mut found = Vec::new();
        for name in &args.functions {
            found.push(functions::get(&aws_, &limit, name).await?);
        }
        found
    };
    let mut policies: HashMap<String, bool> = HashMap::new();
    let mut rows = Vec::new();
    for function in &functions {
        let config = &function.config;
        let ours = config.layers.iter().find(|l| installed.owns(l));
        let layer = match (ours, installed.layers.get(&config.arch)) {
            (None, _) => "none".to_string(),
            (Some(l), Some(current)) if *l == current.version_arn => "current".to_string(),
            (Some(l), _) => format!("outdated ({})", l.rsplit(':').next().unwrap_or("?")),
        };
        let role = function.role_name().to_string();
        let attached = match policies.get(&role) {
            Some(attached) => *attached,
            None => {
                let attached = policy::attached(&aws_, &limit, &role)
                    .await
                    .map(|list| list.contains(&installed.policy_arn))
                    .unwrap_or(false);
                policies.insert(role.clone(), attached);
                attached
            }
        };
        rows.push(FunctionStatus {
            function: config.name.clone(),
            enabled: config.env.contains_key(SAVED),
            layer,
            arch: config.arch.as_str(),
            runtime: config.runtime.clone(),
            wrapper_supported: supports_wrapper(config.runtime.as_deref()),
            policy_attached: attached,
        });
    }
    crate::output::print(global.output, &Status { functions: rows });
    Ok(())
}

/// What `status` shows: one row per function.
#[derive(Debug, Serialize)]
struct Status {
    functions: Vec<FunctionStatus>,
}

#[derive(Debug, Serialize)]
struct FunctionStatus {
    function: String,
    enabled: bool,
    /// `none`, `current`, or `outdated (VERSION)`.
    layer: String,
    arch: &'static str,
    runtime: Option<String>,
    wrapper_supported: bool,
    policy_attached: bool,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let yes = |b: bool| if b { "yes" } else { "no" };
        write!(
            f,
            "{:<32} {:<8} {:<14} {:<7} {:<16} {:<8} policy",
            "FUNCTION", "ENABLED", "LAYER", "ARCH", "RUNTIME", "WRAPPER"
        )?;
        for row in &self.functions {
            write!(
                f,
                "\n{:<32} {:<8} {:<14} {:<7} {:<16} {:<8} {}",
                row.function,
                yes(row.enabled),
                row.layer,
                row.arch,
                row.runtime.as_deref().unwrap_or("-"),
                yes(row.wrapper_supported),
                if row.policy_attached { "attached" } else { "-" }
            )?;
        }
        Ok(())
    }
}

impl Report for Status {}
