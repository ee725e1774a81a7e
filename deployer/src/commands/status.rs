//! `deployer status`: per function, whether faultline is enabled, whether its layer is the
//! current version, the architecture and runtime, wrapper support, and the role policy.

use crate::aws::Aws;
use crate::cli::{Global, Output};
use crate::error::DeployError;
use crate::functions::rate_limit::RateLimit;
use crate::functions::{self, Function};
use crate::install::Installed;
use crate::install::policy;
use crate::plan::{SAVED, supports_wrapper};
use serde_json::json;
use std::collections::HashMap;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Function names (default: every function in the region)
    pub functions: Vec<String>,
}

pub async fn run(global: &Global, args: &Args) -> Result<(), DeployError> {
    let aws_ = Aws::connect(global).await?;
    let limit = RateLimit::per_second(20);
    let installed = Installed::read(&aws_, &global.name).await?;
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
        rows.push(json!({
            "function": config.name,
            "enabled": config.env.contains_key(SAVED),
            "layer": layer,
            "arch": config.arch.as_str(),
            "runtime": config.runtime,
            "wrapper_supported": supports_wrapper(config.runtime.as_deref()),
            "policy_attached": attached,
        }));
    }
    match global.output {
        Output::Json => crate::output::print_json(&json!({"functions": rows})),
        Output::Text => {
            println!(
                "{:<32} {:<8} {:<14} {:<7} {:<16} {:<8} policy",
                "FUNCTION", "ENABLED", "LAYER", "ARCH", "RUNTIME", "WRAPPER"
            );
            for row in &rows {
                let text = |k: &str| row[k].as_str().unwrap_or("-").to_string();
                let yes = |k: &str| if row[k] == true { "yes" } else { "no" };
                println!(
                    "{:<32} {:<8} {:<14} {:<7} {:<16} {:<8} {}",
                    text("function"),
                    yes("enabled"),
                    text("layer"),
                    text("arch"),
                    text("runtime"),
                    yes("wrapper_supported"),
                    if row["policy_attached"] == true {
                        "attached"
                    } else {
                        "-"
                    }
                );
            }
        }
    }
    Ok(())
}
