//! `deployer disable`: restore each function's layers and environment exactly as enabling found
//! them, untag it, and detach the read policy from its role when no other enabled function uses
//! that role.

use crate::aws::Aws;
use crate::error::{DeployError, aws};
use crate::functions::batch::{BatchReport, Outcome, run_each, run_in_one};
use crate::functions::rate_limit::RateLimit;
use crate::functions::select::Selected;
use crate::functions::{self, Function};
use crate::global::Global;
use crate::install::Installed;
use crate::install::names;
use crate::install::policy;
use crate::plan::diff;
use crate::plan::{SAVED, plan_disable};
use indicatif::ProgressBar;
use std::collections::HashSet;
use std::sync::Arc;

/// `deployer disable`: which functions, and how (see [`Batch`](crate::functions::Batch)).
pub type Args = crate::functions::Batch;

async fn disable_one(
    aws_: &Aws,
    limit: &RateLimit,
    installed: &Installed,
    listed: Option<Function>,
    name: &str,
    dry_run: bool,
) -> Result<(Outcome, Option<String>), DeployError> {
    let mut function: Function = match listed {
        Some(function) => function,
        None => functions::get(aws_, limit, name).await?,
    };
    let mut attempt = 0;
    let outcome = loop {
        attempt += 1;
        let plan = plan_disable(&function.config, |l| installed.owns(l))
            .map_err(|e| DeployError::Input(e.to_string()))?;
        let outcome = Outcome {
            changed: plan.changes(&function.config),
            diff: diff::lines(&function.config, &plan),
            warnings: Vec::new(),
        };
        if dry_run || !outcome.changed {
            return Ok((outcome, None));
        }
        // Applied; or it changed since it was read, was read again, and is planned anew.
        if functions::apply_or_reread(aws_, limit, &mut function, &plan, attempt).await? {
            break outcome;
        }
    };
    limit.acquire().await;
    aws_.lambda
        .untag_resource()
        .resource(&function.arn)
        .tag_keys(names::MANAGED_TAG)
        .send()
        .await
        .map_err(|err| aws(format!("untagging function {name}"), err))?;
    Ok((outcome, Some(function.role_name().to_string())))
}

/// One account and Region, read: the install and the functions selected there.
struct Prepared {
    aws: Arc<Aws>,
    /// The pace of this account and Region.
    limit: Arc<RateLimit>,
    installed: Arc<Installed>,
    selected: Selected,
}

async fn prepare(
    aws_: Aws,
    limit: Arc<RateLimit>,
    global: &Global,
    args: &Args,
) -> Result<Prepared, DeployError> {
    let installed = Installed::read(&aws_, &global.name).await?;
    let selected = functions::select(&aws_, &limit, &args.selection).await?;
    Ok(Prepared {
        aws: Arc::new(aws_),
        limit,
        installed: Arc::new(installed),
        selected,
    })
}

pub async fn run(global: &Global, args: &Args) -> Result<(), DeployError> {
    let aws_ = Aws::connect(&global.aws).await?;
    let question = "disable faultline on";
    let yes = args.yes || args.dry_run;
    let apply = |prepared, bar| apply(prepared, args.dry_run, bar);
    if !args.fleet.is_fleet() {
        let limit = Arc::new(RateLimit::per_second(args.rate));
        let prepared = prepare(aws_, limit, global, args).await?;
        return run_in_one(
            prepared,
            global.output,
            question,
            yes,
            |prepared: &Prepared| &prepared.selected.names,
            apply,
            |failed, _| format!("{failed} failure(s) while disabling"),
        )
        .await;
    }
    args.fleet
        .run_batch(
            &aws_,
            args.rate,
            global.output,
            question,
            yes,
            "disabling",
            |target| prepare(target.aws, target.limit, global, args),
            |prepared: &Prepared| &prepared.selected.names,
            apply,
        )
        .await
}

/// Disables the selected functions of one account and Region: the report and how many things
/// failed (functions, and detaching the policy).
async fn apply(
    prepared: Prepared,
    dry_run: bool,
    bar: Option<ProgressBar>,
) -> (BatchReport, usize) {
    let Prepared {
        aws: aws_,
        limit,
        installed,
        selected,
    } = prepared;
    let limit = &limit;
    let listed = Arc::new(selected.listed);
    let roles = Arc::new(std::sync::Mutex::new(HashSet::new()));
    let calls_before = limit.calls();
    let outcomes = run_each(selected.names, bar, |name| {
        let (aws_, limit, installed, roles) = (
            Arc::clone(&aws_),
            Arc::clone(limit),
            Arc::clone(&installed),
            Arc::clone(&roles),
        );
        let listed = listed.get(&name).cloned();
        async move {
            let (outcome, role) =
                disable_one(&aws_, &limit, &installed, listed, &name, dry_run).await?;
            if let Some(role) = role {
                roles.lock().unwrap_or_else(|p| p.into_inner()).insert(role);
            }
            Ok(outcome)
        }
    })
    .await;

    // Detach the policy from roles that no enabled function uses any more.
    let roles: Vec<String> = roles
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .drain()
        .collect();
    // What was changed is reported whatever happens next.
    let report = BatchReport::new(
        "disable",
        dry_run,
        &outcomes,
        limit.calls().saturating_sub(calls_before),
    );
    let mut detach_errors = 0;
    if !roles.is_empty() {
        // A role stays attached while any function using it still has faultline's layer,
        // whether `enable` or infrastructure as code put it there.
        match functions::list_all(&aws_, limit).await {
            Ok(all) => {
                let still_used: HashSet<String> = all
                    .into_iter()
                    .filter(|f| {
                        f.config.env.contains_key(SAVED)
                            || f.config.layers.iter().any(|l| installed.owns(l))
                    })
                    .map(|f| f.role_name().to_string())
                    .collect();
                for role in roles.iter().filter(|r| !still_used.contains(*r)) {
                    if let Err(err) =
                        policy::detach(&aws_, limit, role, &installed.policy_arn).await
                    {
                        eprintln!("error: {err}");
                        detach_errors += 1;
                    }
                }
            }
            Err(err) => {
                eprintln!(
                    "error: {err}; the read policy stays attached to {} (run disable again to \
                     detach it)",
                    roles.join(", ")
                );
                detach_errors += 1;
            }
        }
    }
    let failed = report.failed() + detach_errors;
    (report, failed)
}
