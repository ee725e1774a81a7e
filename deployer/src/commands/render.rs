//! `deployer render cfn|sam|terraform`: write the IaC templates, with parameters from flags or,
//! with `--from-aws`, the ARNs of what `deployer init` created filled in as defaults.

use crate::aws::Aws;
use crate::error::DeployError;
use crate::global::Global;
use crate::install::Installed;
use crate::install::store::Store;
use crate::output;
use crate::plan::{Arch, Ports};
use crate::render::{self, Defaults, RenderParams};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
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

async fn defaults_from_aws(global: &Global, archs: &[Arch]) -> Result<Defaults, DeployError> {
    let aws_ = Aws::connect(&global.aws).await?;
    let installed = Installed::read(&aws_, &global.name).await?;
    let config_arn = Store::of(&aws_, global.store, &global.name)
        .await?
        .arn(&aws_)
        .await?;
    let mut layer_arns = std::collections::BTreeMap::new();
    for arch in archs {
        match installed.layers.get(arch) {
            Some(layer) => {
                layer_arns.insert(*arch, layer.version_arn.clone());
            }
            None => {
                return Err(DeployError::Input(format!(
                    "no {arch} layer of {} is published: run `deployer init --arch {arch}` or render with --arch naming the published ones",
                    global.name
                )));
            }
        }
    }
    Ok(Defaults {
        config_arn: Some(config_arn),
        read_policy_arn: Some(installed.policy_arn),
        layer_arns,
    })
}

pub async fn run(global: &Global, args: &Args) -> Result<(), DeployError> {
    let archs = Arch::parse_list(&args.arch).map_err(DeployError::Input)?;
    let defaults = if args.from_aws {
        defaults_from_aws(global, &archs).await?
    } else {
        Defaults::default()
    };
    let params = RenderParams {
        name: global.name.clone(),
        archs,
        ports: Ports {
            runtime_api: args.runtime_api_port,
            dependency_proxy: args.dependency_proxy_port,
            sdk: args.sdk_port,
        },
        enabled: args.enabled,
        defaults,
    };
    let files = render::render(args.kind, &params).map_err(|err| match err {
        render::RenderError::Params(reason) => DeployError::Input(reason),
        other => DeployError::Failed(other.to_string()),
    })?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(args.kind.folder()));
    let written = render::write(&out, &files)
        .map_err(|err| DeployError::Failed(format!("writing {}: {err}", out.display())))?;
    let report = Written {
        written: written.iter().map(|p| p.display().to_string()).collect(),
    };
    output::print(global.output, &report);
    Ok(())
}

/// The files `render` wrote.
#[derive(Debug, serde::Serialize)]
struct Written {
    written: Vec<String>,
}

impl std::fmt::Display for Written {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let lines: Vec<String> = self.written.iter().map(|p| format!("wrote {p}")).collect();
        write!(f, "{}", lines.join("\n"))
    }
}

impl output::Report for Written {}
