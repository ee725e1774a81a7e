//! What `deployer init` creates and how the other commands find it: the names of everything
//! ([`names`]), the config store ([`store`]: the secret [`secret`] or the S3 object
//! [`config_object`]), the read policy ([`read_policy`] its one definition, [`policy`] creating and attaching it) and the layer
//! versions ([`layer`]).

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
use store::{Store, StoreKind};

/// What `deployer init` created, which enabling needs.
pub struct Installed {
    /// The config store's ARN (GREMLIN_CONFIG_ARN): the secret's, or the S3 object's.
    pub config_arn: String,
    pub policy_arn: String,
    pub layers: HashMap<Arch, OurLayer>,
    /// Layer ARNs (no version) for both architectures, even when none was published.
    pub layer_arns: HashMap<Arch, String>,
}

impl Installed {
    pub async fn read(aws_: &Aws, name: &str, kind: StoreKind) -> Result<Installed, DeployError> {
        let config_arn = match Store::of(aws_, kind, name).await? {
            Store::Secret(secret) => aws_
                .secrets
                .describe_secret()
                .secret_id(&secret)
                .send()
                .await
                .map_err(|err| secret::read_error(&secret, err))?
                .arn
                .ok_or_else(|| DeployError::Failed(format!("secret {secret}: no ARN returned")))?,
            object => {
                // Read once: a missing object says to run init.
                object.read(aws_).await?;
                object.object_arn().unwrap_or_default()
            }
        };
        Installed::with_config(aws_, name, config_arn).await
    }

    /// What `init` made here (policy, layers), whatever the config: what `disable` and
    /// `status` need, which work the same for a function reading a config kept elsewhere.
    pub async fn here(aws_: &Aws, name: &str) -> Result<Installed, DeployError> {
        Installed::with_config(aws_, name, String::new()).await
    }

    /// What `init` made here (policy, layers), with the config at `config_arn`: this install's
    /// store, or one kept in another account.
    pub async fn with_config(
        aws_: &Aws,
        name: &str,
        config_arn: String,
    ) -> Result<Installed, DeployError> {
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
            config_arn,
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
