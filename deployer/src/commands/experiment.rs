//! `deployer experiment list | start | stop`: the experiments in the config store (the work is
//! in [`crate::experiments`]).

use crate::aws::Aws;
use crate::error::DeployError;
use crate::experiments::{self, spec};
use crate::global::Global;
use crate::install::store::Store;
use crate::output;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: ExperimentCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum ExperimentCommand {
    /// The experiments in the config, active or not
    List,
    /// Add an experiment
    Start(Box<spec::StartArgs>),
    /// Remove an experiment (or all)
    Stop(StopArgs),
}

#[derive(Debug, clap::Args)]
pub struct StopArgs {
    /// The experiment to stop
    pub name: Option<String>,
    /// Stop every experiment
    #[arg(long, conflicts_with = "name")]
    pub all: bool,
}

pub async fn run(global: &Global, args: &Args) -> Result<(), DeployError> {
    match &args.command {
        ExperimentCommand::List => {
            let aws_ = Aws::connect(&global.aws).await?;
            let store = Store::of(&aws_, global.store, &global.name).await?;
            output::print(global.output, &experiments::list(&aws_, &store).await?);
        }
        ExperimentCommand::Start(start) => {
            // Options first: nothing is read or written when one of them is wrong.
            let spec = spec::spec(start, chrono::Utc::now())?;
            let aws_ = Aws::connect(&global.aws).await?;
            let store = Store::of(&aws_, global.store, &global.name).await?;
            output::print(
                global.output,
                &experiments::start(&aws_, &store, &spec).await?,
            );
        }
        ExperimentCommand::Stop(stop) => {
            if stop.name.is_none() && !stop.all {
                return Err(DeployError::Input(
                    "name the experiment to stop, or pass --all".into(),
                ));
            }
            let aws_ = Aws::connect(&global.aws).await?;
            let store = Store::of(&aws_, global.store, &global.name).await?;
            let stopped = experiments::stop(&aws_, &store, stop.name.as_deref()).await?;
            output::print(global.output, &stopped);
        }
    }
    Ok(())
}
