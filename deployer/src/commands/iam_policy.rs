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
    output::print_document(&permissions::policy(
        &commands,
        &global.name,
        &args.partition,
        global.store,
    ));
    Ok(())
}
