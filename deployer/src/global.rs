//! The options every command takes: where AWS is ([`AwsOptions`]), how to print ([`Output`]), and
//! the install's name prefix. The command line flattens them; commands read them.

use crate::aws::AwsOptions;
use crate::install::store::StoreKind;
use crate::output::Output;

/// Options every command takes.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Global options")]
pub struct Global {
    #[command(flatten)]
    pub aws: AwsOptions,
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
    /// Where the config lives (`init` creates it; the other commands read and edit it there).
    /// Default: the store the install has, found by name; s3 for a new install
    #[arg(long, global = true, value_enum, env = "FAULTLINE_STORE")]
    pub store: Option<StoreKind>,
}
