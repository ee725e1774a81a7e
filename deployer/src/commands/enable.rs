//! `deployer enable`: plan each function, show the diff, apply (unless --dry-run), attach the
//! read policy to its role and tag it. One function failing does not stop the others; the exit
//! code reports it.

use crate::aws::Aws;
use crate::error::{DeployError, aws};
use crate::functions::batch::{BatchReport, Outcome, run_each, run_in_one};
use crate::functions::rate_limit::RateLimit;
use crate::functions::{self, Function};
use crate::global::Global;
use crate::install::policy::{self, AttachedRoles};
use crate::install::store::Store;
use crate::install::{Installed, names, reader_role};
use crate::plan::diff;
use crate::plan::{EnableTarget, plan_enable};
use faultline_schema::aws_services;
use indicatif::ProgressBar;
use std::collections::HashMap;
use std::sync::Arc;

/// `deployer enable`: which functions, and how (see [`Batch`](crate::functions::Batch)).
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub batch: crate::functions::Batch,
    /// AWS services whose SDK calls go through faultline's TLS origination, so that experiments
    /// on the `aws-<service>` flags can answer them (comma-separated endpoint prefixes or SDK
    /// service ids: dynamodb,s3,sqs,... or `all`). Sets AWS_ENDPOINT_URL_<SERVICE> to
    /// http://<service>.<region>.amazonaws.com:443; a re-run sets exactly the services given
    /// (none: every endpoint variable faultline set goes back)
    #[arg(long, value_name = "SERVICES")]
    pub aws_services: Option<String>,
    /// Variables of the function holding an https:// URL of a third-party API (comma-separated):
    /// each is rewritten to http://HOST:443/... and its host originated by faultline, so that
    /// experiments on dependency-HOST can answer its calls with httpResponse; a re-run sets
    /// exactly the variables given
    #[arg(long, value_name = "VARS", value_delimiter = ',')]
    pub tls_origination_env: Vec<String>,
    /// Opt in to cold-start faults (experiments on the `init` flag): sets
    /// FAULTLINE_INIT_FAULTS=true, so that faultline reads its config during INIT (waiting up to
    /// its request_timeout). Without it INIT never waits for the config; a re-run without it
    /// takes the opt-in back
    #[arg(long)]
    pub init_faults: bool,
    /// A config kept in another account (its ARN) instead of this install's store, read
    /// through --config-role
    #[arg(long, requires = "config_role")]
    pub config_arn: Option<String>,
    /// The role in the config's account that faultline assumes to read it (sets
    /// GREMLIN_CONFIG_ARN_ROLE; what `init --reader-accounts` made there); a re-run without it
    /// takes it back
    #[arg(long)]
    pub config_role: Option<String>,
}

/// What every function's enabling shares, in one account and Region.
struct Shared {
    aws: Aws,
    limit: Arc<RateLimit>,
    installed: Installed,
    /// GREMLIN_CONFIG_ARN: this install's store, or `--config-arn`.
    config_arn: String,
    roles: AttachedRoles,
    /// The functions selected, in order.
    names: Vec<String>,
    listed: HashMap<String, Function>,
    dry_run: bool,
    /// Each `--aws-services` entry's variable and origination URL in this Region.
    aws_endpoints: Vec<(String, String)>,
    /// `--tls-origination-env`.
    tls_origination_env: Vec<String>,
    /// `--init-faults`.
    init_faults: bool,
    /// `--config-role`.
    config_role: Option<String>,
}

async fn enable_one(shared: &Shared, name: &str) -> Result<Outcome, DeployError> {
    let Shared {
        aws: aws_,
        limit,
        installed,
        config_arn,
        roles,
        listed,
        dry_run,
        aws_endpoints,
        tls_origination_env,
        init_faults,
        config_role,
        names: _,
    } = shared;
    let mut function: Function = match listed.get(name) {
        Some(function) => function.clone(),
        None => functions::get(aws_, limit, name).await?,
    };
    let layer = installed.layers.get(&function.config.arch).ok_or_else(|| {
        DeployError::Input(format!(
            "function {name}: no faultline layer for {} yet: run `deployer init --arch {}`",
            function.config.arch, function.config.arch
        ))
    })?;
    let target = EnableTarget {
        layer: layer.clone(),
        config_arn: config_arn.clone(),
        aws_endpoints: aws_endpoints.clone(),
        tls_origination_env: tls_origination_env.clone(),
        init_faults: *init_faults,
        config_role: config_role.clone(),
    };
    let mut attempt = 0;
    let outcome = loop {
        attempt += 1;
        let plan = plan_enable(&function.config, &target)
            .map_err(|e| DeployError::Input(e.to_string()))?;
        let mut outcome = Outcome {
            changed: plan.changes(&function.config),
            diff: diff::lines(&function.config, &plan),
            warnings: plan.warnings.clone(),
        };
        if *dry_run {
            return Ok(outcome);
        }
        if attempt == 1 {
            // The read policy first: the function's first cold start after the update must be
            // able to read the secret.
            if let Some(warning) = policy::attach(
                aws_,
                limit,
                roles,
                function.role_name(),
                &installed.policy_arn,
            )
            .await?
            {
                outcome.warnings.push(warning);
            }
        }
        if !outcome.changed {
            break outcome;
        }
        // Applied; or it changed since it was read, was read again, and is planned anew.
        if functions::apply_or_reread(aws_, limit, &mut function, &plan, attempt).await? {
            break outcome;
        }
    };
    // Tagged whether or not the configuration changed: a re-run repairs a missing tag.
    limit.acquire().await;
    aws_.lambda
        .tag_resource()
        .resource(&function.arn)
        .tags(names::MANAGED_TAG, "true")
        .send()
        .await
        .map_err(|err| aws(format!("tagging function {name}"), err))?;
    Ok(outcome)
}

pub async fn run(global: &Global, args: &Args) -> Result<(), DeployError> {
    let services = match &args.aws_services {
        Some(list) => aws_services::parse_list(list)
            .map_err(|reason| DeployError::Input(format!("--aws-services: {reason}")))?,
        None => Vec::new(),
    };
    let tls_origination_env: Vec<String> = args
        .tls_origination_env
        .iter()
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty())
        .collect();
    if let Some(bad) = tls_origination_env
        .iter()
        .find(|name| !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
    {
        return Err(DeployError::Input(format!(
            "--tls-origination-env: `{bad}` is not an environment variable name"
        )));
    }
    let init_faults = args.init_faults;
    let config_role = args
        .config_role
        .as_deref()
        .map(reader_role::config_role)
        .transpose()?;
    let config_arn = args
        .config_arn
        .as_deref()
        .map(reader_role::config_arn)
        .transpose()?;
    let inputs = Inputs {
        services,
        tls_origination_env,
        init_faults,
        config_role,
        config_arn,
    };
    let batch = &args.batch;
    let aws_ = Aws::connect(&global.aws).await?;
    let question = "enable faultline on";
    let yes = batch.yes || batch.dry_run;
    if !batch.fleet.is_fleet() {
        let limit = Arc::new(RateLimit::per_second(batch.rate));
        let shared = prepare(aws_, limit, global, batch, &inputs).await?;
        return run_in_one(
            shared,
            global.output,
            question,
            yes,
            |shared: &Shared| &shared.names,
            apply,
            |failed, report| format!("{failed} of {} function(s) failed", report.functions.len()),
        )
        .await;
    }
    batch
        .fleet
        .run_batch(
            &aws_,
            batch.rate,
            global.output,
            question,
            yes,
            "enabling",
            |target| prepare(target.aws, target.limit, global, batch, &inputs),
            |shared: &Shared| &shared.names,
            apply,
        )
        .await
}

/// What `enable`'s flags say, checked before anything is read.
struct Inputs {
    services: Vec<aws_services::Service>,
    tls_origination_env: Vec<String>,
    init_faults: bool,
    config_role: Option<String>,
    config_arn: Option<String>,
}

/// One account and Region, read: the install, its store and the functions selected there.
async fn prepare(
    aws_: Aws,
    limit: Arc<RateLimit>,
    global: &Global,
    batch: &crate::functions::Batch,
    inputs: &Inputs,
) -> Result<Shared, DeployError> {
    let aws_endpoints = inputs
        .services
        .iter()
        .map(|s| (s.endpoint_variable(), s.origination_url(&aws_.region)))
        .collect();
    let installed = Installed::read(&aws_, &global.name).await?;
    let config_arn = match &inputs.config_arn {
        Some(arn) => arn.clone(),
        None => {
            Store::of(&aws_, global.store, &global.name)
                .await?
                .arn(&aws_)
                .await?
        }
    };
    let selected = functions::select(&aws_, &limit, &batch.selection).await?;
    Ok(Shared {
        aws: aws_,
        limit,
        installed,
        config_arn,
        roles: AttachedRoles::default(),
        names: selected.names,
        listed: selected.listed,
        dry_run: batch.dry_run,
        aws_endpoints,
        tls_origination_env: inputs.tls_origination_env.clone(),
        init_faults: inputs.init_faults,
        config_role: inputs.config_role.clone(),
    })
}

/// Enables the selected functions of one account and Region: the report and how many failed.
async fn apply(shared: Shared, bar: Option<ProgressBar>) -> (BatchReport, usize) {
    let names = shared.names.clone();
    let calls_before = shared.limit.calls();
    let shared = Arc::new(shared);
    let outcomes = run_each(names, bar, |name| {
        let shared = Arc::clone(&shared);
        async move { enable_one(&shared, &name).await }
    })
    .await;
    let report = BatchReport::new(
        "enable",
        shared.dry_run,
        &outcomes,
        shared.limit.calls().saturating_sub(calls_before),
    );
    let failed = report.failed();
    (report, failed)
}
