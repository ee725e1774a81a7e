//! `deployer iam-policy`: prints the IAM policy the deployer itself needs (for the person or CI
//! role that runs it), for every command or only some. Calls no AWS API.

use crate::error::DeployError;
use crate::global::Global;
use crate::output;
use crate::permissions::{self, CommandName};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only what these commands need (default: every command)
    #[arg(long, value_enum, value_delimiter = ',')]
    pub command: Vec<CommandName>,
    /// The AWS partition the ARNs name (aws, aws-cn, aws-us-gov, ...)
    #[arg(long, default_value = "aws", value_parser = parse_partition)]
    pub partition: String,
    /// Print the README's table of actions per command instead of the policy
    #[arg(long)]
    pub table: bool,
    /// The role the deployer assumes in each target account (a fleet run): print its policy,
    /// its trust policy and the orchestrator's statement that may assume it
    #[arg(long, requires = "orchestrator")]
    pub role_name: Option<String>,
    /// With --role-name: the account (12 digits) or IAM role ARN the fleet is run from
    #[arg(long, requires = "role_name")]
    pub orchestrator: Option<String>,
}

fn parse_partition(text: &str) -> Result<String, String> {
    let ok = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(text.to_string())
    } else {
        Err(format!(
            "{text:?} is not a partition name (aws, aws-cn, aws-us-gov, ...)"
        ))
    }
}

pub fn run(global: &Global, args: &Args) -> Result<(), DeployError> {
    if args.table {
        print!("{}", permissions::markdown_table());
        return Ok(());
    }
    let commands = if args.command.is_empty() {
        CommandName::ALL.to_vec()
    } else {
        args.command.clone()
    };
    let policy = permissions::policy(&commands, &global.name, &args.partition, global.store);
    match (&args.role_name, &args.orchestrator) {
        (Some(role), Some(orchestrator)) => {
            let documents = permissions::fleet_role(policy, role, orchestrator, &args.partition)
                .map_err(DeployError::Input)?;
            output::print_document(&documents);
        }
        _ => output::print_document(&policy),
    }
    Ok(())
}
