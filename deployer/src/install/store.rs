//! The config store: where the config lives (`--store`), read and edited the same way whatever
//! it is. Every edit is a compare-and-swap ([`edit`]): the text is read with its version, edited,
//! checked whole by the shared schema, and written only if the version is still the current one
//! (Secrets Manager: moving AWSCURRENT from it; S3: `If-Match` on its ETag). When somebody else
//! wrote first, the edit starts again from their text: no concurrent edit is lost.

use super::{appconfig, config_object, names, secret};
use crate::aws::Aws;
use crate::error::DeployError;
use faultline_schema::config::Config;
use serde::Serialize;
use std::time::Duration;

/// Which store holds the config (`--store`). A new install gets S3, the cheapest store that
/// keeps every guarantee (docs/design.md, Decisions).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    /// A Secrets Manager secret `<name>-config` ($0.40 a month, $0.05 per 10,000 reads)
    Secretsmanager,
    /// An S3 object `faultline.yaml` in bucket `<name>-config-<account>-<region>` (conditional
    /// reads: an unchanged config costs a 304; the default)
    #[default]
    S3,
    /// An AppConfig hosted configuration: application `<name>`, environment `rehearsals`,
    /// profile `faultline` (about $0.018 of reads, plus $0.0008 per change received; never
    /// found without --store)
    Appconfig,
}

/// The store of an install.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Store {
    /// A secret, by name or ARN.
    Secret(String),
    /// An S3 object.
    Object {
        partition: String,
        bucket: String,
        key: String,
    },
    /// The AppConfig configuration of the install named `name`, with its ids when it exists
    /// (found once, when the store is: every read and write needs them).
    AppConfig {
        name: String,
        ids: Option<appconfig::Ids>,
    },
}

/// Whether a conditional write went through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    Won,
    /// Somebody else's version became current after ours was read.
    Lost,
}

/// Tries before giving up on a config that keeps changing under us.
const ATTEMPTS: u32 = 20;

impl Store {
    /// The store of the install named `name`, in the account and Region of `aws_`: of `kind`
    /// when `--store` says which, else the one that exists (S3 when neither does: a new
    /// install). Both existing is refused: which one the functions read is for `--store` to say.
    pub async fn of(aws_: &Aws, kind: Option<StoreKind>, name: &str) -> Result<Store, DeployError> {
        let object = || async {
            let account = aws_.account().await?;
            Ok::<_, DeployError>(Store::Object {
                bucket: names::config_bucket(name, &account, &aws_.region)
                    .map_err(DeployError::Input)?,
                key: names::CONFIG_KEY.to_string(),
                partition: account.partition,
            })
        };
        let secret = Store::Secret(names::secret(name));
        match kind {
            Some(StoreKind::Secretsmanager) => Ok(secret),
            Some(StoreKind::S3) => object().await,
            Some(StoreKind::Appconfig) => Ok(Store::AppConfig {
                ids: appconfig::ids(aws_, name).await?,
                name: name.to_string(),
            }),
            None => {
                let object = object().await?;
                let (bucket, secret_found) = tokio::join!(object.exists(aws_), secret.exists(aws_));
                match (bucket?, secret_found?) {
                    (true, true) => Err(DeployError::Input(format!(
                        "both {} and {} exist: say which one holds the config with --store \
                         (or FAULTLINE_STORE)",
                        object.describe(),
                        secret.describe()
                    ))),
                    (false, true) => Ok(secret),
                    _ => Ok(object),
                }
            }
        }
    }

    /// Whether the store exists: the secret, or the object's bucket (a bucket without the
    /// object is an empty config).
    async fn exists(&self, aws_: &Aws) -> Result<bool, DeployError> {
        match self {
            Store::Secret(secret) => secret::exists(aws_, secret).await,
            Store::Object { bucket, .. } => config_object::bucket_exists(aws_, bucket).await,
            Store::AppConfig { ids, .. } => Ok(ids.is_some()),
        }
    }

    /// What it is, for messages.
    pub fn describe(&self) -> String {
        match self {
            Store::Secret(secret) => format!("secret {secret}"),
            Store::Object { bucket, key, .. } => format!("S3 object s3://{bucket}/{key}"),
            Store::AppConfig { name, .. } => format!(
                "AppConfig configuration {}/{}/{}",
                names::appconfig_application(name),
                names::APPCONFIG_ENVIRONMENT,
                names::APPCONFIG_PROFILE
            ),
        }
    }

    /// The ARN of an S3 store (a secret's is read from Secrets Manager).
    pub fn object_arn(&self) -> Option<String> {
        match self {
            Store::Object {
                partition,
                bucket,
                key,
            } => Some(format!("arn:{partition}:s3:::{bucket}/{key}")),
            Store::Secret(_) | Store::AppConfig { .. } => None,
        }
    }

    /// The store's ARN (GREMLIN_CONFIG_ARN), once it is known to exist: a missing store says
    /// to run init.
    pub async fn arn(&self, aws_: &Aws) -> Result<String, DeployError> {
        match self {
            Store::Secret(secret) => aws_
                .secrets
                .describe_secret()
                .secret_id(secret)
                .send()
                .await
                .map_err(|err| secret::read_error(secret, err))?
                .arn
                .ok_or_else(|| DeployError::Failed(format!("secret {secret}: no ARN returned"))),
            Store::Object { bucket, key, .. } => {
                config_object::read(aws_, bucket, key).await?;
                Ok(self.object_arn().unwrap_or_default())
            }
            Store::AppConfig { name, ids } => {
                Ok(appconfig::require(name, ids.as_ref())?.config_arn())
            }
        }
    }

    /// The current text and its version.
    pub async fn read(&self, aws_: &Aws) -> Result<(String, String), DeployError> {
        match self {
            Store::Secret(secret) => secret::read(aws_, secret).await,
            Store::Object { bucket, key, .. } => config_object::read(aws_, bucket, key).await,
            Store::AppConfig { name, ids } => {
                appconfig::read(aws_, appconfig::require(name, ids.as_ref())?).await
            }
        }
    }

    /// Writes `text` if `version` is still the current one.
    async fn write_if(
        &self,
        aws_: &Aws,
        text: &str,
        version: &str,
    ) -> Result<Written, DeployError> {
        match self {
            Store::Secret(secret) => secret::write_if(aws_, secret, text, version).await,
            Store::Object { bucket, key, .. } => {
                config_object::write_if(aws_, bucket, key, text, version).await
            }
            Store::AppConfig { name, ids } => {
                let ids = appconfig::require(name, ids.as_ref())?;
                appconfig::write_if(aws_, name, ids, text, version).await
            }
        }
    }
}

/// Applies `edit` to the store's text. `edit` returns `None` when there is nothing to change.
/// Returns whether the config changed.
pub async fn edit<F>(aws_: &Aws, store: &Store, mut edit: F) -> Result<bool, DeployError>
where
    F: FnMut(&str) -> Result<Option<String>, DeployError>,
{
    for attempt in 0..ATTEMPTS {
        let (text, version) = store.read(aws_).await?;
        let Some(new_text) = edit(&text)? else {
            return Ok(false);
        };
        Config::parse_strict(&new_text).map_err(|err| {
            DeployError::Input(format!(
                "the edited config would be refused: {err}; nothing was written"
            ))
        })?;
        match store.write_if(aws_, &new_text, &version).await? {
            Written::Won => return Ok(true),
            Written::Lost => {
                // Start again from the text that won.
                let pause = 20 + fastrand::u64(0..50 * u64::from(attempt + 1));
                tokio::time::sleep(Duration::from_millis(pause)).await;
            }
        }
    }
    Err(DeployError::Failed(format!(
        "{} kept changing during {ATTEMPTS} attempts; try again",
        store.describe()
    )))
}
