//! The config secret: created or given a value by `init` ([`ensure`]), read, and written only
//! over the version read ([`write_if`], for [`store::edit`]).
//!
//! Secrets Manager has no conditional write, but moving the AWSCURRENT label is one:
//! `UpdateSecretVersionStage` with `RemoveFromVersionId` fails when that version is no longer
//! current. So an edit reads the current text and version, writes the edited text as a new
//! version staged only `FAULTLINE_PENDING`, then moves AWSCURRENT from the version it read to the
//! new one. If somebody else got there first, the move fails and the edit starts again from
//! their text. Every edited text is checked by the shared schema before it is written.

use super::store::{self, Store, Written};
use crate::aws::Aws;
use crate::error::{DeployError, aws};
use aws_sdk_secretsmanager::error::ProvideErrorMetadata as _;

/// The config stored when `init` is given none.
pub const DEFAULT_CONFIG: &str =
    "# faultline config: see the README's configuration reference\nexperiments: []\n";

/// Label of a version written but not yet made current.
const PENDING: &str = "FAULTLINE_PENDING";

/// The error for a failed read of the config secret: "run init first" when it does not exist.
pub fn read_error<E>(secret: &str, err: aws_sdk_secretsmanager::error::SdkError<E>) -> DeployError
where
    E: aws_sdk_secretsmanager::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    if err.code() == Some("ResourceNotFoundException") {
        DeployError::Input(format!(
            "secret {secret} not found: run `deployer init` first"
        ))
    } else {
        aws(format!("reading secret {secret}"), err)
    }
}

/// Whether the secret exists (DescribeSecret).
pub async fn exists(aws_: &Aws, secret: &str) -> Result<bool, DeployError> {
    match aws_
        .secrets
        .describe_secret()
        .secret_id(secret)
        .send()
        .await
    {
        Ok(_) => Ok(true),
        Err(err) if err.code() == Some("ResourceNotFoundException") => Ok(false),
        Err(err) => Err(aws(format!("reading secret {secret}"), err)),
    }
}

/// The current text and version of the secret.
pub async fn read(aws_: &Aws, secret: &str) -> Result<(String, String), DeployError> {
    let value = aws_
        .secrets
        .get_secret_value()
        .secret_id(secret)
        // Explicit: the version labelled current (moto's default lags behind a moved label).
        .version_stage("AWSCURRENT")
        .send()
        .await
        .map_err(|err| read_error(secret, err))?;
    let version = value
        .version_id
        .ok_or_else(|| DeployError::Failed(format!("secret {secret}: no version id returned")))?;
    Ok((value.secret_string.unwrap_or_default(), version))
}

/// A fresh ClientRequestToken (32 hex characters, as Secrets Manager requires 32..64).
fn token() -> String {
    format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..))
}

/// Writes `text` as the secret's current version if `version` is still the current one: a new
/// version staged only `FAULTLINE_PENDING`, then AWSCURRENT moved to it from `version` (which
/// fails when `version` is no longer current).
pub async fn write_if(
    aws_: &Aws,
    secret: &str,
    text: &str,
    version: &str,
) -> Result<Written, DeployError> {
    let new_version = token();
    aws_.secrets
        .put_secret_value()
        .secret_id(secret)
        .secret_string(text)
        .client_request_token(&new_version)
        .version_stages(PENDING)
        .send()
        .await
        .map_err(|err| aws(format!("writing secret {secret}"), err))?;
    let moved = aws_
        .secrets
        .update_secret_version_stage()
        .secret_id(secret)
        .version_stage("AWSCURRENT")
        .remove_from_version_id(version)
        .move_to_version_id(&new_version)
        .send()
        .await;
    match moved {
        Ok(_) => Ok(Written::Won),
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_invalid_parameter_exception()) =>
        {
            Ok(Written::Lost)
        }
        Err(err) => Err(aws(
            format!("making the new version of secret {secret} current"),
            err,
        )),
    }
}

/// What `init` did (or, with --dry-run, would do) to the secret.
pub struct SecretOutcome {
    pub arn: String,
    pub kms_key: Option<String>,
    pub action: String,
    pub removed: Vec<String>,
}

/// Creates the secret, or leaves an existing one's text alone unless `--config` gave another
/// (then it is replaced through the same compare-and-swap edit as `experiment`, so a concurrent
/// edit is never lost, and the experiments that go are named).
pub async fn ensure(
    aws_: &Aws,
    name: &str,
    text: Option<&str>,
    dry_run: bool,
) -> Result<SecretOutcome, DeployError> {
    let context = format!("secret {name}");
    match aws_.secrets.describe_secret().secret_id(name).send().await {
        Ok(described) => {
            let arn = described
                .arn
                .ok_or_else(|| DeployError::Failed(format!("{context}: no ARN returned")))?;
            // A secret without a current value (created empty elsewhere) gets one.
            let current = match aws_
                .secrets
                .get_secret_value()
                .secret_id(&arn)
                .version_stage("AWSCURRENT")
                .send()
                .await
            {
                Ok(value) => value.secret_string,
                Err(err)
                    if err
                        .as_service_error()
                        .is_some_and(|e| e.is_resource_not_found_exception()) =>
                {
                    None
                }
                Err(err) => return Err(aws(format!("reading {context}"), err)),
            };
            let outcome = |action: &str, removed: Vec<String>| SecretOutcome {
                arn: arn.clone(),
                kms_key: described.kms_key_id.clone(),
                action: action.to_string(),
                removed,
            };
            match (current.as_deref(), text) {
                (Some(_), None) => Ok(outcome(
                    "kept: its experiments and settings are left as they are (--config replaces them)",
                    Vec::new(),
                )),
                (Some(current), Some(text)) if current == text => {
                    Ok(outcome("unchanged", Vec::new()))
                }
                (Some(current), Some(text)) => {
                    let removed = faultline_schema::config::removed_experiments(current, text);
                    if dry_run {
                        return Ok(outcome("would be replaced by --config", removed));
                    }
                    store::edit(aws_, &Store::Secret(arn.clone()), |now| {
                        Ok((now != text).then(|| text.to_string()))
                    })
                    .await?;
                    Ok(outcome("replaced by --config", removed))
                }
                (None, text) => {
                    if dry_run {
                        return Ok(outcome("would get a value", Vec::new()));
                    }
                    aws_.secrets
                        .put_secret_value()
                        .secret_id(&arn)
                        .secret_string(text.unwrap_or(DEFAULT_CONFIG))
                        .send()
                        .await
                        .map_err(|err| aws(format!("updating {context}"), err))?;
                    Ok(outcome("given a value", Vec::new()))
                }
            }
        }
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_resource_not_found_exception()) =>
        {
            if dry_run {
                return Ok(SecretOutcome {
                    arn: format!("(new secret {name})"),
                    kms_key: None,
                    action: "would be created".into(),
                    removed: Vec::new(),
                });
            }
            // Secrets Manager keeps no value for an empty string: store a valid, empty config.
            let created = aws_
                .secrets
                .create_secret()
                .name(name)
                .description("faultline config: experiments and settings (YAML)")
                .secret_string(text.unwrap_or(DEFAULT_CONFIG))
                .send()
                .await
                .map_err(|err| aws(format!("creating {context}"), err))?;
            let arn = created
                .arn
                .ok_or_else(|| DeployError::Failed(format!("{context}: no ARN returned")))?;
            Ok(SecretOutcome {
                arn,
                kms_key: None,
                action: "created".into(),
                removed: Vec::new(),
            })
        }
        Err(err) => Err(aws(format!("reading {context}"), err)),
    }
}
