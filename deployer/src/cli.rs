//! The command line: `deployer [global options] <command>`. Each command's own arguments sit
//! beside its `run`, in `commands/`.

use crate::global::Global;
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "deployer",
    version = crate::install::embedded::VERSION,
    about = "Install faultline on AWS Lambda functions"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create or update the config secret, the read policy and the layer versions
    Init(crate::commands::init::Args),
    /// Wire faultline into functions: layer, environment, wrapper, role policy
    Enable(crate::commands::enable::Args),
    /// Undo `enable`: restore each function's layers and environment exactly
    Disable(crate::commands::disable::Args),
    /// Show which functions are enabled, and how
    Status(crate::commands::status::Args),
    /// List, start and stop experiments in the config secret
    Experiment(crate::commands::experiment::Args),
    /// Build the layer zips (runs `make layer` in the faultline source tree)
    Layer(crate::commands::layer::Args),
    /// Write the CloudFormation, SAM or Terraform templates for teams that manage functions as code
    Render(crate::commands::render::Args),
    /// Print the IAM policy the deployer itself needs, for every command or some
    IamPolicy(crate::commands::iam_policy::Args),
    /// Write a rehearsal's report: charts, before/during/after figures and verdicts
    Report(crate::commands::report::Args),
    /// Set faultline up across an organisation: a service-managed StackSet over OUs and Regions
    Stackset(crate::commands::stackset::Args),
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// Every argument of every command (global ones included) has a help line.
    #[test]
    fn every_option_is_explained() {
        fn walk(command: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in command.get_arguments() {
                let id = arg.get_id().as_str();
                if matches!(id, "help" | "version") {
                    continue;
                }
                if arg.get_help().is_none() && arg.get_long_help().is_none() {
                    missing.push(format!("{path} {id}"));
                }
            }
            for sub in command.get_subcommands() {
                if sub.get_about().is_none() {
                    missing.push(format!("{path} {} (no about)", sub.get_name()));
                }
                walk(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), "deployer", &mut missing);
        assert!(missing.is_empty(), "without help: {missing:?}");
    }

    /// Global options are listed under their own heading in every command's help.
    #[test]
    fn global_options_have_their_own_heading() {
        let mut command = Cli::command();
        command.build();
        let enable = command
            .find_subcommand_mut("enable")
            .expect("enable exists")
            .render_help()
            .to_string();
        let heading = enable.find("Global options:").expect("a heading");
        let region = enable.find("--region <").expect("--region listed");
        let dry_run = enable.find("--dry-run").expect("--dry-run listed");
        assert!(region > heading && dry_run < heading, "{enable}");
    }
}
