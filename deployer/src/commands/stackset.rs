//! `deployer stackset plan`: the setup across an organisation, as a service-managed StackSet
//! (printed as AWS CLI calls, made with `--apply`).

use crate::aws::Aws;
use crate::error::DeployError;
use crate::global::Global;
use crate::install::store::StoreKind;
use crate::output::{self, Report};
use crate::render::{self, Kind, RenderParams};
use crate::stackset::{self, Applied, Plan, TEMPLATE_FILE};
use serde::Serialize;
use std::fmt;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub action: Action,
}

#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Print the StackSet and its instances as AWS CLI calls (made with --apply)
    Plan(PlanArgs),
}

#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    /// Organisational units (ou-...) or the root (r-...) whose accounts get the setup, and the
    /// accounts that join them later
    #[arg(long, value_delimiter = ',', required = true)]
    pub ous: Vec<String>,
    /// Regions of every account to set up
    #[arg(long, value_delimiter = ',', required = true)]
    pub regions: Vec<String>,
    /// Name prefix of the layer buckets: PREFIX-REGION in each Region holds the zips of
    /// `make layer`, readable by the organisation's accounts
    #[arg(long)]
    pub layer_bucket: String,
    /// Where each account keeps its config (ignored with --config-role)
    #[arg(long, value_enum, default_value_t = StoreKind::S3)]
    pub config_store: StoreKind,
    /// The config kept in one account for all (with --config-role): its ARN
    #[arg(long, requires = "config_role")]
    pub config_arn: Option<String>,
    /// The role in the config's account that the functions assume to read it
    #[arg(long, requires = "config_arn")]
    pub config_role: Option<String>,
    /// The StackSet's name (default: <name>-setup)
    #[arg(long)]
    pub stack_set_name: Option<String>,
    /// Act as the organisation's delegated administrator for StackSets
    #[arg(long)]
    pub delegated_admin: bool,
    /// Where to write the template the printed calls read
    #[arg(long, default_value = TEMPLATE_FILE)]
    pub template_out: PathBuf,
    /// Create the StackSet and its instances now, and wait for the deployment
    #[arg(long)]
    pub apply: bool,
}

#[derive(Debug, Serialize)]
struct PlanReport {
    plan: Plan,
    template: String,
    cli: String,
    applied: Option<Applied>,
}

impl fmt::Display for PlanReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "# template written to {}\n{}", self.template, self.cli)?;
        if let Some(applied) = &self.applied {
            write!(
                f,
                "\nStackSet {} ({}); instances: operation {} {}",
                self.plan.stack_set_name, applied.stack_set, applied.operation_id, applied.status
            )?;
        }
        Ok(())
    }
}

impl Report for PlanReport {}

pub async fn run(global: &Global, args: &Args) -> Result<(), DeployError> {
    let Action::Plan(args) = &args.action;
    // Inputs first: nothing is written or created when one of them is wrong.
    let organizational_units = stackset::parse_units(&args.ous)?;
    let regions = stackset::parse_regions(&args.regions)?;
    let mut parameters = vec![("LayerCodeBucket".to_string(), args.layer_bucket.clone())];
    match (&args.config_arn, &args.config_role) {
        (Some(arn), Some(role)) => {
            let arn = crate::install::reader_role::config_arn(arn)?;
            let role = crate::install::reader_role::config_role(role)?;
            parameters.push(("ConfigArn".into(), arn));
            parameters.push(("ConfigRoleArn".into(), role));
        }
        // The template's ConfigStore values are `--store`'s names.
        _ => parameters.push((
            "ConfigStore".into(),
            clap::ValueEnum::to_possible_value(&args.config_store)
                .map(|value| value.get_name().to_string())
                .unwrap_or_default(),
        )),
    }
    let files = render::render(
        Kind::Cfn,
        &RenderParams {
            name: global.name.clone(),
            ..RenderParams::default()
        },
    )
    .map_err(|err| DeployError::Failed(err.to_string()))?;
    let template_body = files
        .into_iter()
        .find(|f| f.path.ends_with(TEMPLATE_FILE))
        .map(|f| f.text)
        .ok_or_else(|| DeployError::Failed(format!("no {TEMPLATE_FILE} rendered")))?;
    std::fs::write(&args.template_out, &template_body).map_err(|err| {
        DeployError::Failed(format!("writing {}: {err}", args.template_out.display()))
    })?;
    let plan = Plan {
        stack_set_name: args
            .stack_set_name
            .clone()
            .unwrap_or_else(|| format!("{}-setup", global.name)),
        organizational_units,
        regions,
        parameters,
        delegated_admin: args.delegated_admin,
        template_body,
    };
    let template = args.template_out.display().to_string();
    let applied = if args.apply {
        let aws_ = Aws::connect(&global.aws).await?;
        Some(plan.apply(&aws_).await?)
    } else {
        None
    };
    let report = PlanReport {
        cli: plan.cli(&template),
        template,
        plan,
        applied,
    };
    output::print(global.output, &report);
    match &report.applied {
        Some(applied) if applied.status != "SUCCEEDED" => Err(DeployError::Failed(format!(
            "StackSet {}: operation {} ended {}",
            report.plan.stack_set_name, applied.operation_id, applied.status
        ))),
        _ => Ok(()),
    }
}
