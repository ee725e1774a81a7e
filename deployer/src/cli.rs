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
    #[arg(
        long = "name",
        id = "install_name",
        global = true,
        default_value = "faultline"
    )]
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
    /// List, start and stop experiments in the config secret
    Experiment(ExperimentArgs),
    /// Build the layer zips (runs `make layer` in the faultline source tree)
    Layer(LayerArgs),
    /// Write the CloudFormation, SAM or Terraform templates for teams that manage functions as code
    Render(RenderArgs),
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// Which templates
    #[arg(value_enum)]
    pub kind: crate::render::Kind,
    /// Folder to write into (default: cfn/, sam-templates/ or terraform/ in the current folder)
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Architectures to publish layers for (the first is the examples' architecture)
    #[arg(long, value_delimiter = ',', default_values_t = [String::from("x86_64"), String::from("arm64")])]
    pub arch: Vec<String>,
    /// Port of the Runtime API proxy inside the function
    #[arg(long, default_value_t = 5033)]
    pub runtime_api_port: u16,
    /// Port of the dependency proxy (HTTP_PROXY/HTTPS_PROXY)
    #[arg(long, default_value_t = 5034)]
    pub dependency_proxy_port: u16,
    /// Port of the Failure Flags SDK endpoint
    #[arg(long, default_value_t = 5032)]
    pub sdk_port: u16,
    /// Default of GREMLIN_LAMBDA_ENABLED in the templates (false: layer in place, nothing injected)
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub enabled: bool,
    /// Fill in the ARNs `deployer init` created (secret, policy, layer versions) as defaults
    #[arg(long)]
    pub from_aws: bool,
}

#[derive(Debug, Args)]
pub struct ExperimentArgs {
    #[command(subcommand)]
    pub command: ExperimentCommand,
}

#[derive(Debug, Subcommand)]
pub enum ExperimentCommand {
    /// The experiments in the secret, active or not
    List,
    /// Add an experiment
    Start(StartArgs),
    /// Remove an experiment (or all)
    Stop(StopArgs),
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("effect").required(true).multiple(true).args(["latency", "exception", "http_status"])))]
pub struct StartArgs {
    /// Flag to target: ingress, http-ingress, response, egress, dependency-HOST, or an SDK flag
    #[arg(long)]
    pub flag: String,
    /// Experiment name (default: the flag and the time); `--name` is the install's name prefix
    #[arg(long = "experiment", id = "experiment_name", value_name = "NAME")]
    pub name: Option<String>,
    /// Label selector, key=value (several values: a|b); repeatable or comma-separated
    #[arg(long, value_delimiter = ',')]
    pub selector: Vec<String>,
    /// Share of matching requests affected, 0..1
    #[arg(long, default_value_t = 1.0)]
    pub rate: f64,
    /// Added latency in milliseconds
    #[arg(long)]
    pub latency: Option<u64>,
    /// Fail with this message
    #[arg(long)]
    pub exception: Option<String>,
    /// Answer with this HTTP status
    #[arg(long)]
    pub http_status: Option<u16>,
    /// Stop by itself after this long (e.g. 15m); starts now
    #[arg(long)]
    pub duration: Option<String>,
}

#[derive(Debug, Args)]
pub struct StopArgs {
    /// The experiment to stop
    pub name: Option<String>,
    /// Stop every experiment
    #[arg(long, conflicts_with = "name")]
    pub all: bool,
}

#[derive(Debug, Args)]
pub struct LayerArgs {
    #[command(subcommand)]
    pub command: LayerCommand,
}

#[derive(Debug, Subcommand)]
pub enum LayerCommand {
    /// Build dist/faultline-layer-<arch>.zip
    Build {
        /// Architectures (default: both)
        #[arg(long, value_delimiter = ',')]
        arch: Vec<String>,
        /// The faultline source tree (default: the current directory)
        #[arg(long, default_value = ".")]
        source: PathBuf,
    },
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
