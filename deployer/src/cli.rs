//! The command line: `deployer [global options] <command>`.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "deployer",
    version,
    about = "Install faultline on AWS Lambda functions"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Args)]
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
    #[arg(long, global = true, default_value = "faultline")]
    pub name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create or update the config secret, the read policy and the layer versions
    Init(InitArgs),
    /// Wire faultline into functions: layer, environment, wrapper, role policy
    Enable(EnableArgs),
    /// Undo `enable`: restore each function's layers and environment exactly
    Disable(DisableArgs),
    /// Show which functions are enabled, and how
    Status(StatusArgs),
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The YAML config to store in the secret (default: an empty config)
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Architectures to publish layers for
    #[arg(long, value_delimiter = ',', default_values_t = [String::from("x86_64"), String::from("arm64")])]
    pub arch: Vec<String>,
    /// A layer zip built elsewhere (one architecture: give --arch with it)
    #[arg(long)]
    pub layer_zip: Option<PathBuf>,
    /// Where `make layer` put the zips
    #[arg(long, default_value = "dist")]
    pub dist: PathBuf,
}

#[derive(Debug, Args)]
pub struct Selection {
    /// Function names or ARNs
    pub functions: Vec<String>,
    /// Every function in the region
    #[arg(long)]
    pub all: bool,
    /// Functions whose name matches this regular expression
    #[arg(long)]
    pub regex: Option<String>,
    /// Functions with this tag (KEY=VALUE)
    #[arg(long)]
    pub tag: Option<String>,
    /// Leave these functions out (names, repeatable)
    #[arg(long)]
    pub exclude: Vec<String>,
}

#[derive(Debug, Args)]
pub struct EnableArgs {
    #[command(flatten)]
    pub selection: Selection,
    /// Show the plan, change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask before changing more than one function
    #[arg(long)]
    pub yes: bool,
    /// Requests per second per region at most
    #[arg(long, default_value_t = 10)]
    pub rate: u32,
}

#[derive(Debug, Args)]
pub struct DisableArgs {
    #[command(flatten)]
    pub selection: Selection,
    #[arg(long)]
    pub dry_run: bool,
    #[arg(long, default_value_t = 10)]
    pub rate: u32,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Function names (default: every function in the region)
    pub functions: Vec<String>,
}
