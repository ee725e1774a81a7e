//! `deployer status`: the config store with what reading it costs each busy environment at the
//! configured refresh interval, then per function, whether faultline is enabled, whether its
//! layer is the current version, the architecture and runtime, wrapper support, and the role
//! policy.

use crate::aws::Aws;
use crate::error::DeployError;
use crate::fleet::progress::Progress;
use crate::fleet::{self, FleetArgs, Target};
use crate::functions::rate_limit::RateLimit;
use crate::functions::{self, Function};
use crate::global::Global;
use crate::install::Installed;
use crate::install::policy;
use crate::install::store::Store;
use crate::output::{Output, Report};
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
    #[command(flatten)]
    pub fleet: FleetArgs,
}

/// Requests per second at most, in each account and Region.
const RATE: u32 = 20;

pub async fn run(global: &Global, args: &Args) -> Result<(), DeployError> {
    let aws_ = Aws::connect(&global.aws).await?;
    if !args.fleet.is_fleet() {
        let status = gather(&aws_, &RateLimit::per_second(RATE), global, args).await?;
        crate::output::print(global.output, &status);
        return Ok(());
    }
    let progress = &Progress::new(global.output == Output::Text);
    let outcomes = args
        .fleet
        .run(&aws_, RATE, progress, |target| async move {
            let status = gather(&target.aws, &target.limit, global, args).await?;
            let store = match status.store {
                Some(_) => "",
                None => ", no config store",
            };
            progress.finish(
                &target.target,
                &format!("{} function(s){store}", status.functions.len()),
            );
            Ok(status)
        })
        .await?;
    let failed = fleet::failures(&outcomes);
    let report = FleetStatus {
        functions: outcomes
            .iter()
            .filter_map(|o| Some((&o.target, o.result.as_ref().ok()?)))
            .flat_map(|(target, status)| {
                status.functions.iter().map(move |f| TargetFunction {
                    target: target.clone(),
                    function: f,
                })
            })
            .collect(),
        targets: outcomes
            .iter()
            .map(|o| TargetStatus {
                target: o.target.clone(),
                store: o.result.as_ref().ok().and_then(|s| s.store.as_ref()),
                problem: match &o.result {
                    Ok(status) => status.store_problem.clone(),
                    Err(err) => Some(err.to_string()),
                },
                failed: o.result.is_err(),
            })
            .collect(),
    };
    crate::output::print(global.output, &report);
    match failed {
        Some(summary) => Err(DeployError::Failed(summary)),
        None => Ok(()),
    }
}

/// The status of one account and Region.
async fn gather(
    aws_: &Aws,
    limit: &RateLimit,
    global: &Global,
    args: &Args,
) -> Result<Status, DeployError> {
    let installed = Installed::read(aws_, &global.name).await?;
    // The functions' rows stand without the store (a config kept in another account).
    let (store, store_problem) = match store_status(aws_, global).await {
        Ok(store) => (Some(store), None),
        Err(err) => (None, Some(err.to_string())),
    };
    let functions: Vec<Function> = if args.functions.is_empty() {
        functions::list_all(aws_, limit).await?
    } else {
        let mut found = Vec::new();
        for name in &args.functions {
            found.push(functions::get(aws_, limit, name).await?);
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
                let attached = policy::attached(aws_, limit, &role)
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
    Ok(Status {
        store,
        store_problem,
        functions: rows,
    })
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

/// `status` across accounts and Regions: each target's store (or why it failed), and every
/// function with its account and Region.
#[derive(Debug, Serialize)]
struct FleetStatus<'a> {
    targets: Vec<TargetStatus<'a>>,
    functions: Vec<TargetFunction<'a>>,
}

#[derive(Debug, Serialize)]
struct TargetStatus<'a> {
    #[serde(flatten)]
    target: Target,
    #[serde(skip_serializing_if = "Option::is_none")]
    store: Option<&'a StoreStatus>,
    /// Why the target (or only its store) could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    problem: Option<String>,
    failed: bool,
}

#[derive(Debug, Serialize)]
struct TargetFunction<'a> {
    #[serde(flatten)]
    target: Target,
    #[serde(flatten)]
    function: &'a FunctionStatus,
}

impl fmt::Display for FleetStatus<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let yes = |b: bool| if b { "yes" } else { "no" };
        for target in &self.targets {
            let state = match (&target.store, &target.problem, target.failed) {
                (_, Some(problem), true) => format!("FAILED: {problem}"),
                (Some(store), _, _) => format!("config {} {}", store.store.name(), store.arn),
                (None, Some(problem), _) => format!("config: {problem}"),
                (None, None, _) => String::new(),
            };
            writeln!(
                f,
                "{} {:<15} {state}",
                target.target.account, target.target.region
            )?;
        }
        write!(
            f,
            "\n{:<12} {:<15} {:<32} {:<8} {:<14} {:<7} {:<16} policy",
            "ACCOUNT", "REGION", "FUNCTION", "ENABLED", "LAYER", "ARCH", "RUNTIME"
        )?;
        for row in &self.functions {
            let function = row.function;
            write!(
                f,
                "\n{:<12} {:<15} {:<32} {:<8} {:<14} {:<7} {:<16} {}",
                row.target.account,
                row.target.region,
                function.function,
                yes(function.enabled),
                function.layer,
                function.arch,
                function.runtime.as_deref().unwrap_or("-"),
                if function.policy_attached {
                    "attached"
                } else {
                    "-"
                }
            )?;
        }
        Ok(())
    }
}

impl Report for FleetStatus<'_> {}
