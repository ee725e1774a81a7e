//! `deployer layer build`: builds the layer zips with the source tree's own build
//! (`scripts/build-layer.sh`, what `make layer` runs), so there is one way to build a layer.

use crate::error::DeployError;
use crate::plan::Arch;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: LayerCommand,
}

#[derive(Debug, clap::Subcommand)]
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

pub fn run(args: &Args) -> Result<(), DeployError> {
    let LayerCommand::Build { arch, source } = &args.command;
    let script = source.join("scripts/build-layer.sh");
    if !script.exists() {
        return Err(DeployError::Input(format!(
            "{} not found: run `deployer layer build` in the faultline source tree (or pass --source), or build the zips elsewhere and use `deployer init --layer-zip`",
            script.display()
        )));
    }
    let arches: Vec<&str> = Arch::parse_list(arch)
        .map_err(DeployError::Input)?
        .into_iter()
        .map(Arch::as_str)
        .collect();
    let status = std::process::Command::new(&script)
        .args(&arches)
        .status()
        .map_err(|err| DeployError::Failed(format!("cannot run {}: {err}", script.display())))?;
    if status.success() {
        Ok(())
    } else {
        Err(DeployError::Failed(format!(
            "{} failed ({status})",
            script.display()
        )))
    }
}
