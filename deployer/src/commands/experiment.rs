//! `deployer experiment list | start | stop`: the experiments in the config store (the work is
//! in [`crate::experiments`]).

use crate::aws::Aws;
use crate::error::DeployError;
use crate::experiments::{self, spec};
use crate::fleet::FleetArgs;
use crate::global::Global;
use crate::install::store::Store;
use crate::output::{self, Report};
use std::future::Future;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: ExperimentCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum ExperimentCommand {
    /// The experiments in the config, active or not
    List(ListArgs),
    /// Add an experiment
    Start(Box<StartCommand>),
    /// Remove an experiment (or all)
    Stop(StopArgs),
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub fleet: FleetArgs,
}

#[derive(Debug, clap::Args)]
pub struct StartCommand {
    #[command(flatten)]
    pub spec: spec::StartArgs,
    #[command(flatten)]
    pub fleet: FleetArgs,
}

#[derive(Debug, clap::Args)]
pub struct StopArgs {
    /// The experiment to stop
    pub name: Option<String>,
    /// Stop every experiment
    #[arg(long, conflicts_with = "name")]
    pub all: bool,
    #[command(flatten)]
    pub fleet: FleetArgs,
}

pub async fn run(global: &Global, args: &Args) -> Result<(), DeployError> {
    match &args.command {
        ExperimentCommand::List(list) => {
            in_each_store(global, &list.fleet, |aws_, store| async move {
                experiments::list(&aws_, &store).await
            })
            .await
        }
        ExperimentCommand::Start(start) => {
            // Options first: nothing is read or written when one of them is wrong.
            let spec = &spec::spec(&start.spec, chrono::Utc::now())?;
            in_each_store(global, &start.fleet, |aws_, store| async move {
                experiments::start(&aws_, &store, spec).await
            })
            .await
        }
        ExperimentCommand::Stop(stop) => {
            if stop.name.is_none() && !stop.all {
                return Err(DeployError::Input(
                    "name the experiment to stop, or pass --all".into(),
                ));
            }
            let name = stop.name.as_deref();
            in_each_store(global, &stop.fleet, |aws_, store| async move {
                experiments::stop(&aws_, &store, name).await
            })
            .await
        }
    }
}

/// `work` on the install's store: the one of the credentials' account and Region, or, across a
/// fleet, each account and Region's own.
async fn in_each_store<R, F, Fut>(
    global: &Global,
    fleet: &FleetArgs,
    work: F,
) -> Result<(), DeployError>
where
    R: Report,
    F: Fn(Aws, Store) -> Fut,
    Fut: Future<Output = Result<R, DeployError>>,
{
    let aws_ = Aws::connect(&global.aws).await?;
    if !fleet.is_fleet() {
        let store = Store::of(&aws_, global.store, &global.name).await?;
        output::print(global.output, &work(aws_, store).await?);
        return Ok(());
    }
    let work = &work;
    fleet
        .run_report(&aws_, global.output, |reached| async move {
            let store = Store::of(&reached.aws, global.store, &global.name).await?;
            work(reached.aws, store).await
        })
        .await
}
