//! The command line: `deployer [global options] <command>`. Each command's own arguments sit
//! beside its `run`, in `commands/`.

use clap::{Args, Parser, Subcommand, ValueEnum};

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

/// Options every command takes.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Global options")]
pub struct Global {
    /// AWS profile (default: AWS_PROFILE or the default profile)
    #[arg(long, global = true)]
    pub profile: Option<String>,
    /// AWS region (default: AWS_REGION or the profile's region)
    #[arg(long, global = true)]
    pub region: Option<String>,
    /// Endpoint for every AWS service (e.g. a local emulator); AWS_ENDPOINT_URL also works
    #[arg(long, global = true)]
    pub endpoint_url: Option<String>,
    /// Output format
    #[arg(long, global = true, value_enum, default_value_t = Output::Text)]
    pub output: Output,
    /// Log what is done, request by request
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// Name prefix of what faultline creates (secret `<name>-config`, layers `<name>-<arch>`)
    #[arg(
        long = "name",
        id = "install_name",
        global = true,
        default_value = "faultline",
        value_parser = crate::install::names::parse_name
    )]
    pub name: String,
}

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// Lines for people
    Text,
    /// One JSON document, for scripts
    Json,
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
        let region = enable.find("--region").expect("--region listed");
        let dry_run = enable.find("--dry-run").expect("--dry-run listed");
        assert!(region > heading && dry_run < heading, "{enable}");
    }
}
