//! Where the YAML config comes from: an S3 object, an AppConfig configuration, a Secrets Manager
//! secret, an SSM parameter, or a file.
//!
//! Every remote read says when nothing changed ([`Read::Unchanged`]), so an unchanged config
//! is never parsed again: S3 answers a conditional GET with 304 ([`s3`]), AppConfig an empty
//! body ([`appconfig`]), and Secrets Manager and SSM the version already in force.
//!
//! AWS calls never follow HTTP(S)_PROXY (those point at our own dependency proxy). The one
//! endpoint variable honoured is the global AWS_ENDPOINT_URL, which is how tests reach moto
//! server; the per-service AWS_ENDPOINT_URL_<SERVICE> are the function's (`deployer enable
//! --aws-services` points them at TLS origination through the dependency proxy, plain HTTP to
//! port 443) and are ignored: faultline's own calls never go through them. Secrets Manager,
//! SSM and CloudWatch are called through the SDK ([`sdk`]); S3 and AppConfig through one
//! signed request each ([`signed`]).

mod appconfig;
mod s3;
mod sdk;
mod signed;

pub use appconfig::AppConfigProfile;
pub use s3::S3Object;
pub use sdk::direct_https_client;
use sdk::{assuming, aws_error, sdk_config};
use signed::SignedClient;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;
use thiserror::Error;

/// How long one read of a remote source may take before it counts as failed. The function never
/// waits this long: `/next` waits at most the request timeout.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// The prefix of an AppConfig configuration in GREMLIN_CONFIG_ARN.
const APPCONFIG_PREFIX: &str = "appconfig:";

#[derive(Debug, Error, PartialEq, Eq)]
pub enum SourceError {
    #[error(
        "GREMLIN_CONFIG_ARN `{0}` is none of an S3 object ARN (arn:aws:s3:::BUCKET/KEY), an \
         AppConfig configuration (appconfig:APPLICATION/ENVIRONMENT/PROFILE), a Secrets Manager \
         secret ARN (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME) or an SSM parameter ARN \
         (arn:aws:ssm:REGION:ACCOUNT:parameter/NAME)"
    )]
    BadArn(String),
}

/// Why the config could not be read. Messages never contain the config itself.
#[derive(Debug, Error)]
pub enum FetchError {
    #[error("cannot read config file {path}: {source}")]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{service} {operation} on {arn} failed: {code}: {message}")]
    Aws {
        service: &'static str,
        operation: &'static str,
        arn: String,
        code: String,
        message: String,
    },
    #[error("{arn} holds no text value (binary secrets must be UTF-8 YAML)")]
    NotText { arn: String },
    #[error("reading {what} took longer than {timeout:?}")]
    Timeout { what: String, timeout: Duration },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigSource {
    S3(S3Object),
    AppConfig(AppConfigProfile),
    SecretsManager { arn: String, region: String },
    SsmParameter { arn: String, region: String },
    File(PathBuf),
}

impl ConfigSource {
    /// GREMLIN_CONFIG_ARN wins over GREMLIN_CONFIG_FILE when both are set.
    pub fn from_env(
        arn: Option<String>,
        file: Option<String>,
    ) -> Result<Option<ConfigSource>, SourceError> {
        match (arn, file) {
            (Some(arn), _) => ConfigSource::from_arn(arn.trim()).map(Some),
            (None, Some(file)) => Ok(Some(ConfigSource::File(PathBuf::from(file.trim())))),
            (None, None) => Ok(None),
        }
    }

    fn from_arn(arn: &str) -> Result<ConfigSource, SourceError> {
        let bad = || SourceError::BadArn(arn.to_string());
        if let Some(path) = arn.strip_prefix(APPCONFIG_PREFIX) {
            return AppConfigProfile::parse(path)
                .map(ConfigSource::AppConfig)
                .ok_or_else(bad);
        }
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        let [prefix, partition, service, region, account, resource] = parts[..] else {
            return Err(bad());
        };
        if prefix != "arn" || !partition.starts_with("aws") {
            return Err(bad());
        }
        if service == "s3" {
            // An S3 ARN names neither Region nor account.
            if !region.is_empty() || !account.is_empty() {
                return Err(bad());
            }
            return S3Object::from_resource(arn, partition, resource)
                .map(ConfigSource::S3)
                .ok_or_else(bad);
        }
        if region.is_empty() || account.is_empty() {
            return Err(bad());
        }
        let region = region.to_string();
        match service {
            "secretsmanager" if resource.starts_with("secret:") && resource.len() > 7 => {
                Ok(ConfigSource::SecretsManager {
                    arn: arn.to_string(),
                    region,
                })
            }
            "ssm" if resource.starts_with("parameter/") && resource.len() > 10 => {
                Ok(ConfigSource::SsmParameter {
                    arn: arn.to_string(),
                    region,
                })
            }
            _ => Err(bad()),
        }
    }

    /// A short description for log lines (ARNs and paths are not secret).
    pub fn describe(&self) -> String {
        match self {
            ConfigSource::S3(object) => format!("S3 object {}", object.arn),
            ConfigSource::AppConfig(profile) => profile.describe(),
            ConfigSource::SecretsManager { arn, .. } => format!("secret {arn}"),
            ConfigSource::SsmParameter { arn, .. } => format!("parameter {arn}"),
            ConfigSource::File(path) => format!("file {}", path.display()),
        }
    }

    /// True for sources that need a network call (and so are read in the background).
    pub fn is_remote(&self) -> bool {
        !matches!(self, ConfigSource::File(_))
    }
}

/// The config as one read gave it: the text, and the version the store gave it, when it has
/// versions (S3's ETag, AppConfig's version label, Secrets Manager's `VersionId`, SSM's
/// `Version`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    pub text: String,
    pub version: Option<String>,
}

/// What one read found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Read {
    /// A config to parse (it may be the same text again, from a store without versions).
    Changed(Fetched),
    /// The version in force is still the store's: nothing to parse.
    Unchanged,
    /// The store may not be asked yet (AppConfig's poll interval has not passed): no read was
    /// made, so the dead-man's clock is not reset.
    Deferred,
}

/// A version for a store that keeps none (a file): a hash of the text.
fn text_version(text: &str) -> String {
    use std::hash::{BuildHasher, BuildHasherDefault};
    let hash =
        BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default().hash_one(text);
    format!("text-{hash:016x}")
}

/// The function's own Region (S3 ARNs name none; AppConfig configurations are read there).
fn home_region() -> String {
    ["AWS_REGION", "AWS_DEFAULT_REGION"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()))
        .unwrap_or_else(|| "us-east-1".to_string())
}

/// Reads a [`ConfigSource`]; AWS clients are built once and reused for refreshes.
pub struct ConfigFetcher {
    source: ConfigSource,
    /// A role to assume for reading the config (GREMLIN_CONFIG_ARN_ROLE).
    role: Option<String>,
    aws: tokio::sync::OnceCell<aws_config::SdkConfig>,
    /// For S3 and AppConfig: the signing client.
    signed: tokio::sync::OnceCell<SignedClient>,
    /// The Region of an S3 bucket (the function's until S3 says otherwise).
    s3_region: tokio::sync::Mutex<Option<String>>,
    /// The AppConfig session in use.
    session: std::sync::Mutex<Option<appconfig::Session>>,
    /// For CloudWatch alarms, which live in the function's region (the secret may not).
    alarms_aws: tokio::sync::OnceCell<aws_config::SdkConfig>,
}

impl ConfigFetcher {
    pub fn new(source: ConfigSource) -> Self {
        ConfigFetcher {
            source,
            role: None,
            aws: tokio::sync::OnceCell::new(),
            signed: tokio::sync::OnceCell::new(),
            s3_region: tokio::sync::Mutex::new(None),
            session: std::sync::Mutex::new(None),
            alarms_aws: tokio::sync::OnceCell::new(),
        }
    }

    /// Reads the config as `role` (a role in the config's account), assumed with the function's
    /// credentials; the temporary credentials are renewed before they expire.
    pub fn with_role(mut self, role: Option<String>) -> Self {
        self.role = role;
        self
    }

    pub fn source(&self) -> &ConfigSource {
        &self.source
    }

    /// The config, or Unchanged when the store still holds version `known` (the one in force),
    /// or why it could not be read within `timeout`.
    pub async fn fetch(&self, timeout: Duration, known: Option<&str>) -> Result<Read, FetchError> {
        match tokio::time::timeout(timeout, self.fetch_unbounded(known)).await {
            Ok(result) => result,
            Err(_) => Err(FetchError::Timeout {
                what: self.source.describe(),
                timeout,
            }),
        }
    }

    async fn fetch_unbounded(&self, known: Option<&str>) -> Result<Read, FetchError> {
        let fetched = match &self.source {
            ConfigSource::File(path) => {
                let text =
                    tokio::fs::read_to_string(path)
                        .await
                        .map_err(|source| FetchError::File {
                            path: path.clone(),
                            source,
                        })?;
                // A file has no version: its text's hash stands for one, so an unchanged file
                // is not parsed again either.
                let version = Some(text_version(&text));
                if version.as_deref() == known {
                    return Ok(Read::Unchanged);
                }
                Fetched { text, version }
            }
            ConfigSource::S3(object) => {
                let client = self.signed_client().await?;
                let mut region = self.s3_region.lock().await;
                let region = region.get_or_insert_with(home_region);
                return s3::read(client, object, region, known).await;
            }
            ConfigSource::AppConfig(profile) => {
                let client = self.signed_client().await?;
                return appconfig::read(client, profile, &home_region(), known, &self.session)
                    .await;
            }
            ConfigSource::SecretsManager { arn, region } => {
                let client = aws_sdk_secretsmanager::Client::new(self.sdk_config(region).await);
                let output = client
                    .get_secret_value()
                    .secret_id(arn)
                    // Explicit: the current version, whoever moved the label last.
                    .version_stage("AWSCURRENT")
                    .send()
                    .await
                    .map_err(|err| aws_error("Secrets Manager", "GetSecretValue", arn, err))?;
                let version = output.version_id().map(str::to_string);
                if version.is_some() && version.as_deref() == known {
                    return Ok(Read::Unchanged);
                }
                let text = match output.secret_string() {
                    Some(text) => text.to_string(),
                    None => output
                        .secret_binary()
                        .and_then(|blob| String::from_utf8(blob.as_ref().to_vec()).ok())
                        .ok_or_else(|| FetchError::NotText { arn: arn.clone() })?,
                };
                Fetched { text, version }
            }
            ConfigSource::SsmParameter { arn, region } => {
                let client = aws_sdk_ssm::Client::new(self.sdk_config(region).await);
                let output = client
                    .get_parameter()
                    .name(arn)
                    .with_decryption(true)
                    .send()
                    .await
                    .map_err(|err| aws_error("SSM", "GetParameter", arn, err))?;
                let parameter = output.parameter();
                let version = parameter.map(|p| p.version().to_string());
                if version.is_some() && version.as_deref() == known {
                    return Ok(Read::Unchanged);
                }
                let text = parameter
                    .and_then(|p| p.value())
                    .map(str::to_string)
                    .ok_or_else(|| FetchError::NotText { arn: arn.clone() })?;
                Fetched { text, version }
            }
        };
        Ok(Read::Changed(fetched))
    }

    /// The state of each named CloudWatch alarm (`OK`, `ALARM`, `INSUFFICIENT_DATA`) in
    /// `region`; an alarm that does not exist is absent from the map.
    pub async fn alarm_states(
        &self,
        region: &str,
        names: &[String],
        timeout: Duration,
    ) -> Result<BTreeMap<String, String>, FetchError> {
        let what = format!("CloudWatch alarms {}", names.join(", "));
        let read = async {
            let sdk = self.alarms_aws.get_or_init(|| sdk_config(region)).await;
            let client = aws_sdk_cloudwatch::Client::new(sdk);
            faultline_alarms::states(&client, names)
                .await
                .map_err(|err| aws_error("CloudWatch", "DescribeAlarms", &what, err))
        };
        match tokio::time::timeout(timeout, read).await {
            Ok(result) => result,
            Err(_) => Err(FetchError::Timeout { what, timeout }),
        }
    }

    async fn sdk_config(&self, region: &str) -> &aws_config::SdkConfig {
        self.aws
            .get_or_init(|| async {
                let own = sdk_config(region).await;
                match &self.role {
                    Some(role) => assuming(own, role, region).await,
                    None => own,
                }
            })
            .await
    }

    /// The signing client for S3 and AppConfig, with the credentials of the function (or the
    /// role) in the function's Region.
    async fn signed_client(&self) -> Result<&SignedClient, FetchError> {
        self.signed
            .get_or_try_init(|| async {
                let sdk = self.sdk_config(&home_region()).await.clone();
                SignedClient::new(sdk)
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_select_the_service() {
        let sm = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:faultline-AbCdEf";
        assert_eq!(
            ConfigSource::from_env(Some(sm.into()), Some("/var/task/x.yaml".into())),
            Ok(Some(ConfigSource::SecretsManager {
                arn: sm.into(),
                region: "eu-west-1".into()
            }))
        );
        let ssm = "arn:aws-cn:ssm:cn-north-1:123456789012:parameter/faultline/config";
        assert!(matches!(
            ConfigSource::from_env(Some(ssm.into()), None),
            Ok(Some(ConfigSource::SsmParameter { region, .. })) if region == "cn-north-1"
        ));
        assert_eq!(
            ConfigSource::from_env(None, Some("/var/task/faultline.yaml".into())),
            Ok(Some(ConfigSource::File("/var/task/faultline.yaml".into())))
        );
        assert_eq!(ConfigSource::from_env(None, None), Ok(None));
        assert!(matches!(
            ConfigSource::from_env(Some("arn:aws:s3:::chaos/faultline.yaml".into()), None),
            Ok(Some(ConfigSource::S3(S3Object { bucket, key, .. })))
                if bucket == "chaos" && key == "faultline.yaml"
        ));
        assert!(matches!(
            ConfigSource::from_env(Some(" appconfig:orders/prod/faultline ".into()), None),
            Ok(Some(ConfigSource::AppConfig(AppConfigProfile { application, .. })))
                if application == "orders"
        ));
    }

    #[test]
    fn bad_arns_are_refused() {
        for arn in [
            "faultline",
            "arn:aws:s3:::bucket",
            "arn:aws:s3:us-east-1::bucket/key",
            "appconfig:orders/prod",
            "appconfig:",
            "arn:aws:secretsmanager::123:secret:x",
            "arn:aws:secretsmanager:us-east-1:123:secret:",
            "arn:aws:ssm:us-east-1:123:document/x",
        ] {
            assert!(
                ConfigSource::from_env(Some(arn.into()), None).is_err(),
                "{arn}"
            );
        }
    }
}
