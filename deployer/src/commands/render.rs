//! `deployer render cfn|sam|terraform`: write the IaC templates, with parameters from flags or,
//! with `--from-aws`, the ARNs of what `deployer init` created filled in as defaults.

use crate::aws::Aws;
use crate::cli::{Global, RenderArgs};
use crate::commands::enable::Installed;
use crate::error::DeployError;
use crate::output;
use crate::plan::{Arch, Ports};
use crate::render::{self, Defaults, RenderParams};
use serde_json::json;
use std::path::PathBuf;

async fn defaults_from_aws(global: &Global, archs: &[Arch]) -> Result<Defaults, DeployError> {
    let aws_ = Aws::connect(global).await?;
    let installed = Installed::read(&aws_, &global.name).await?;
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
        config_secret_arn: Some(installed.secret_arn),
        read_policy_arn: Some(installed.policy_arn),
        layer_arns,
    })
}

pub async fn run(global: &Global, args: &RenderArgs) -> Result<(), DeployError> {
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
    let text = written
        .iter()
        .map(|p| format!("wrote {}", p.display()))
        .collect::<Vec<_>>()
        .join("\n");
    let paths: Vec<String> = written.iter().map(|p| p.display().to_string()).collect();
    output::print(global.output, &text, &json!({ "written": paths }));
    Ok(())
}
