//! `deployer status`: the config store with what reading it costs each busy environment at the
//! configured refresh interval, then per function, whether faultline is enabled, whether its
//! layer is the current version, the architecture and runtime, wrapper support, and the role
//! policy.

use crate::aws::Aws;
use crate::error::DeployError;
use crate::functions::rate_limit::RateLimit;
use crate::functions::{self, Function};
use crate::global::Global;
use crate::install::Installed;
use crate::install::policy;
use crate::install::store::Store;
use crate::output::Report;
use crate::plan::{SAVED, supports_wrapper};
use faultline_schema::config::Config;
use faultline_schema::cost;
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
    let installed = Installed::read(&aws_, &global.name).await?;
    // The functions' rows stand without the store (a config kept in another account).
    let (store, store_problem) = match store_status(&aws_, global).await {
        Ok(store) => (Some(store), None),
        Err(err) => (None, Some(err.to_string())),
    };
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
    crate::output::print(
        global.output,
        &Status {
            store,
            store_problem,
            functions: rows,
        },
    );
    Ok(())
}

/// The store and its read cost at the config's refresh interval (the default when the config
/// cannot be parsed: the extension then reads it at that interval too).
async fn store_status(aws_: &Aws, global: &Global) -> Result<StoreStatus, DeployError> {
    let store = Store::of(aws_, global.store, &global.name).await?;
    let (text, _) = store.read(aws_).await?;
    // An object's ARN is its name; a secret's is asked for.
    let config_arn = match store.object_arn() {
        Some(arn) => arn,
        None => store.arn(aws_).await?,
    };
    let interval = Config::parse(&text)
        .map(|c| c.refresh_interval)
        .unwrap_or_else(|_| Config::default().refresh_interval);
    let priced = cost::Store::of_arn(&config_arn).unwrap_or(cost::Store::SecretsManager);
    Ok(StoreStatus {
        store: priced,
        arn: config_arn,
        refresh_interval: humantime::format_duration(interval).to_string(),
        reads_per_busy_environment_month: cost::reads_per_month(interval).round(),
        dollars_per_busy_environment_month: cost::per_environment_month(priced, interval, 0.0),
    })
}

/// What `status` shows: one row per function.
#[derive(Debug, Serialize)]
struct Status {
    #[serde(skip_serializing_if = "Option::is_none")]
    store: Option<StoreStatus>,
    /// Why the store could not be read, when it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    store_problem: Option<String>,
    functions: Vec<FunctionStatus>,
}

/// The config store and what reading it costs (the `faultline_schema::cost` prices).
#[derive(Debug, Serialize)]
struct StoreStatus {
    store: cost::Store,
    arn: String,
    refresh_interval: String,
    reads_per_busy_environment_month: f64,
    dollars_per_busy_environment_month: f64,
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
        match (&self.store, &self.store_problem) {
            (Some(store), _) => writeln!(
                f,
                "config: {} {} (refresh_interval {}: {} reads per busy environment-month, about \
                 ${:.3} at {} prices)\n",
                store.store.name(),
                store.arn,
                store.refresh_interval,
                store.reads_per_busy_environment_month,
                store.dollars_per_busy_environment_month,
                store.store.name()
            )?,
            (None, Some(problem)) => writeln!(f, "config: {problem}\n")?,
            (None, None) => {}
        }
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
