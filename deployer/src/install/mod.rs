//! What `deployer init` creates and how the other commands find it: the names of everything
//! ([`names`]), the config store ([`store`]: the secret [`secret`], the S3 object
//! [`config_object`] or the AppConfig configuration [`appconfig`]), the read policy ([`read_policy`] its one definition, [`policy`] creating and attaching it) and the layer
//! versions ([`layer`]).

pub mod appconfig;
pub mod config_object;
pub mod embedded;
pub mod layer;
pub mod names;
pub mod policy;
pub mod read_policy;
pub mod reader_role;
pub mod secret;
pub mod store;
pub mod zips;

use crate::aws::Aws;
use crate::error::DeployError;
use crate::plan::{Arch, OurLayer};
use layer::latest_layer_version;
use std::collections::HashMap;

/// What `deployer init` created here (the read policy and the layers), which enabling needs.
/// The config's ARN is apart ([`Store::arn`]): a function may read a config kept elsewhere.
pub struct Installed {
    pub policy_arn: String,
    pub layers: HashMap<Arch, OurLayer>,
    /// Layer ARNs (no version) for both architectures, even when none was published.
    pub layer_arns: HashMap<Arch, String>,
}

impl Installed {
    pub async fn read(aws_: &Aws, name: &str) -> Result<Installed, DeployError> {
        let account = aws_.account().await?;
        let mut layers = HashMap::new();
        let mut layer_arns = HashMap::new();
        for arch in [Arch::X86_64, Arch::Arm64] {
            let layer_arn = names::layer_arn(&aws_.region, &account, name, arch);
            if let Some((version_arn, _)) =
                latest_layer_version(aws_, &names::layer(name, arch)).await?
            {
                layers.insert(
                    arch,
                    OurLayer {
                        layer_arn: layer_arn.clone(),
                        version_arn,
                    },
                );
            }
            layer_arns.insert(arch, layer_arn);
        }
        Ok(Installed {
            policy_arn: names::policy_arn(&account, name, &aws_.region),
            layers,
            layer_arns,
        })
    }

    /// Whether a layer version ARN is any version of faultline's layers.
    pub fn owns(&self, version_arn: &str) -> bool {
        self.layer_arns.values().any(|base| {
            OurLayer {
                layer_arn: base.clone(),
                version_arn: String::new(),
            }
            .owns(version_arn)
        })
    }
}
