//! `deployer enable`: plan each function, show the diff, apply (unless --dry-run), attach the
//! read policy to its role and tag it. One function failing does not stop the others; the exit
//! code reports it.

use crate::aws::Aws;
use crate::cli::{EnableArgs, Global, Output};
use crate::diff;
use crate::error::{DeployError, aws};
use crate::functions::{self, Function};
use crate::layers::latest_layer_version;
use crate::names;
use crate::plan::{Arch, EnableTarget, OurLayer, plan_enable};
use crate::rate_limit::RateLimit;
use crate::role_policy::{self, AttachedRoles};
use crate::run_each::{Outcome, run_each};
use std::collections::HashMap;
use std::sync::Arc;

/// What `deployer init` created, which enabling needs.
pub struct Installed {
    pub secret_arn: String,
    pub policy_arn: String,
    pub layers: HashMap<Arch, OurLayer>,
    /// Layer ARNs (no version) for both architectures, even when none was published.
    pub layer_arns: HashMap<Arch, String>,
}

impl Installed {
    pub async fn read(aws_: &Aws, name: &str) -> Result<Installed, DeployError> {
        let account = aws_.account().await?;
        let secret = names::secret(name);
        let described = aws_
            .secrets
            .describe_secret()
            .secret_id(&secret)
            .send()
            .await
            .map_err(|err| crate::secret_config::read_error(&secret, err))?;
        let secret_arn = described
            .arn
            .ok_or_else(|| DeployError::Failed(format!("secret {secret}: no ARN returned")))?;
        let mut layers = HashMap::new();
        let mut layer_arns = HashMap::new();
        for arch in [Arch::X86_64, Arch::Arm64] {
            let layer_arn = names::layer_arn(&aws_.region, &account, name, arch);
            if let Some((version_arn, _)) =
                latest_layer_version(aws_, &names::layer(name, arch)).await?
            {
                layers.insert(
                    arch,
                    OurLayer {
                        layer_arn: layer_arn.clone(),
                        version_arn,
                    },
                );
            }
            layer_arns.insert(arch, layer_arn);
        }
        Ok(Installed {
            secret_arn,
            policy_arn: names::policy_arn(&account, name, &aws_.region),
            layers,
            layer_arns,
        })
    }

    /// Whether a layer version ARN is any version of faultline's layers.
    pub fn owns(&self, version_arn: &str) -> bool {
        self.layer_arns.values().any(|base| {
            OurLayer {
                layer_arn: base.clone(),
                version_arn: String::new(),
            }
            .owns(version_arn)
        })
    }
}

/// What every function's enabling shares.
struct Shared {
    aws: Aws,
    limit: RateLimit,
    installed: Installed,
    roles: AttachedRoles,
    listed: HashMap<String, Function>,
    dry_run: bool,
}

async fn enable_one(shared: &Shared, name: &str) -> Result<Outcome, DeployError> {
    let Shared {
        aws: aws_,
        limit,
        installed,
        roles,
        listed,
        dry_run,
    } = shared;
    let function: Function = match listed.get(name) {
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
        secret_arn: installed.secret_arn.clone(),
    };
    let plan =
        plan_enable(&function.config, &target).map_err(|e| DeployError::Input(e.to_string()))?;
    let mut outcome = Outcome {
        changed: plan.changes(&function.config),
        diff: diff::lines(&function.config, &plan),
        warnings: plan.warnings.clone(),
    };
    if *dry_run {
        return Ok(outcome);
    }
    if outcome.changed {
        functions::apply(aws_, limit, &function, &plan).await?;
        limit.acquire().await;
        aws_.lambda
            .tag_resource()
            .resource(&function.arn)
            .tags(names::MANAGED_TAG, "true")
            .send()
            .await
            .map_err(|err| aws(format!("tagging function {name}"), err))?;
    }
    if let Some(warning) = role_policy::attach(
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
    Ok(outcome)
}

pub async fn run(global: &Global, args: &EnableArgs) -> Result<(), DeployError> {
    let aws_ = Aws::connect(global).await?;
    let limit = RateLimit::per_second(args.rate);
    let installed = Installed::read(&aws_, &global.name).await?;
    let selected = functions::select(&aws_, &limit, &args.selection).await?;
    crate::confirm::confirm(
        "enable faultline on",
        &selected.names,
        args.yes || args.dry_run,
    )?;
    let shared = Arc::new(Shared {
        aws: aws_,
        limit,
        installed,
        roles: AttachedRoles::default(),
        listed: selected.listed,
        dry_run: args.dry_run,
    });
    let outcomes = run_each(selected.names, global.output == Output::Text, |name| {
        let shared = Arc::clone(&shared);
        async move { enable_one(&shared, &name).await }
    })
    .await;
    crate::run_each::report(
        global.output,
        "enable",
        args.dry_run,
        &outcomes,
        shared.limit.calls(),
    );
    let failed = outcomes.iter().filter(|(_, r)| r.is_err()).count();
    if failed > 0 {
        return Err(DeployError::Failed(format!(
            "{failed} of {} function(s) failed",
            outcomes.len()
        )));
    }
    Ok(())
}
