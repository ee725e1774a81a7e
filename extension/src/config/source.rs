//! Where the YAML config comes from: a Secrets Manager secret, an SSM parameter, or a file.
//!
//! AWS calls use the SDK with a client that never follows HTTP(S)_PROXY (those point at our own
//! dependency proxy). The one endpoint variable honoured is the global AWS_ENDPOINT_URL, which is
//! how tests reach moto server; the per-service AWS_ENDPOINT_URL_<SERVICE> are the function's
//! (`deployer enable --aws-services` points them at TLS origination through the dependency
//! proxy, plain HTTP to port 443) and are ignored: faultline's own calls never go through them.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;
use thiserror::Error;

/// How long one read of a remote source may take before it counts as failed. The function never
/// waits this long: `/next` waits at most the request timeout.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Error, PartialEq, Eq)]
pub enum SourceError {
    #[error(
        "GREMLIN_CONFIG_ARN `{0}` is neither a Secrets Manager secret ARN \
         (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME) nor an SSM parameter ARN \
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
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        let [prefix, partition, service, region, account, resource] = parts[..] else {
            return Err(bad());
        };
        if prefix != "arn" || !partition.starts_with("aws") || region.is_empty() {
            return Err(bad());
        }
        if account.is_empty() {
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

/// What one read gave: the text, and the version the store gave it, when it has versions
/// (Secrets Manager's `VersionId`, SSM's `Version`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    pub text: String,
    pub version: Option<String>,
}

/// Reads a [`ConfigSource`]; AWS clients are built once and reused for refreshes.
pub struct ConfigFetcher {
    source: ConfigSource,
    /// A role to assume for reading the config (GREMLIN_CONFIG_ARN_ROLE).
    role: Option<String>,
    aws: tokio::sync::OnceCell<aws_config::SdkConfig>,
    /// For CloudWatch alarms, which live in the function's region (the secret may not).
    alarms_aws: tokio::sync::OnceCell<aws_config::SdkConfig>,
}

impl ConfigFetcher {
    pub fn new(source: ConfigSource) -> Self {
        ConfigFetcher {
            source,
            role: None,
            aws: tokio::sync::OnceCell::new(),
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

    /// The config text and its version, or why it could not be read within `timeout`.
    pub async fn fetch(&self, timeout: Duration) -> Result<Fetched, FetchError> {
        match tokio::time::timeout(timeout, self.fetch_unbounded()).await {
            Ok(result) => result,
            Err(_) => Err(FetchError::Timeout {
                what: self.source.describe(),
                timeout,
            }),
        }
    }

    async fn fetch_unbounded(&self) -> Result<Fetched, FetchError> {
        match &self.source {
            ConfigSource::File(path) => {
                let text =
                    tokio::fs::read_to_string(path)
                        .await
                        .map_err(|source| FetchError::File {
                            path: path.clone(),
                            source,
                        })?;
                Ok(Fetched {
                    text,
                    version: None,
                })
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
                let text = match output.secret_string() {
                    Some(text) => text.to_string(),
                    None => output
                        .secret_binary()
                        .and_then(|blob| String::from_utf8(blob.as_ref().to_vec()).ok())
                        .ok_or_else(|| FetchError::NotText { arn: arn.clone() })?,
                };
                Ok(Fetched { text, version })
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
                let text = parameter
                    .and_then(|p| p.value())
                    .map(str::to_string)
                    .ok_or_else(|| FetchError::NotText { arn: arn.clone() })?;
                let version = parameter.map(|p| p.version().to_string());
                Ok(Fetched { text, version })
            }
        }
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
}

/// No per-service settings for faultline's own clients: a function's
/// `AWS_ENDPOINT_URL_<SERVICE>` (and a profile's `services` section) never reach them. The
/// global `AWS_ENDPOINT_URL` is read by the loader itself and still applies (tests).
#[derive(Debug)]
struct NoServiceSettings;

impl aws_types::service_config::LoadServiceConfig for NoServiceSettings {
    fn load_config(&self, _key: aws_types::service_config::ServiceConfigKey<'_>) -> Option<String> {
        None
    }
}

/// An AWS SDK config for `region` with the direct (no proxy) HTTPS client and no per-service
/// settings.
async fn sdk_config(region: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(region.to_string()))
        .http_client(direct_https_client())
        .load()
        .await
        .into_builder()
        .service_config(NoServiceSettings)
        .build()
}

/// `config` with the credentials of `role`, assumed with `config`'s own (the function's) and
/// cached by the SDK, which renews them before they expire.
async fn assuming(
    config: aws_config::SdkConfig,
    role: &str,
    region: &str,
) -> aws_config::SdkConfig {
    let provider = aws_config::sts::AssumeRoleProvider::builder(role)
        .session_name("faultline-config")
        .region(aws_config::Region::new(region.to_string()))
        .configure(&config)
        .build()
        .await;
    config
        .into_builder()
        .credentials_provider(aws_types::sdk_config::SharedCredentialsProvider::new(
            provider,
        ))
        .build()
}

/// An HTTPS client for AWS APIs that connects directly, ignoring HTTP(S)_PROXY: the function's
/// proxy variables point at faultline's own dependency proxy. A smithy client given no proxy
/// config uses none (e2e `config_from_secrets_manager_in_moto` runs with both variables set to a
/// dead port).
pub fn direct_https_client() -> aws_sdk_secretsmanager::config::SharedHttpClient {
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

fn aws_error<E>(
    service: &'static str,
    operation: &'static str,
    arn: &str,
    err: aws_sdk_secretsmanager::error::SdkError<
        E,
        aws_sdk_secretsmanager::config::http::HttpResponse,
    >,
) -> FetchError
where
    E: aws_sdk_secretsmanager::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    use aws_sdk_secretsmanager::error::{DisplayErrorContext, SdkError};
    let (code, message) = match &err {
        SdkError::ServiceError(service_err) => {
            let inner = service_err.err();
            let raw = service_err.raw();
            let code = inner
                .code()
                .map_or_else(|| format!("HTTP {}", raw.status().as_u16()), str::to_string);
            // Without a parsed message, a short excerpt of the error body says what happened.
            let message = inner.message().map_or_else(
                || {
                    let body = raw.body().bytes().unwrap_or_default();
                    let text = String::from_utf8_lossy(body);
                    text.chars().take(300).collect::<String>()
                },
                str::to_string,
            );
            (code, message)
        }
        SdkError::TimeoutError(_) => ("Timeout".into(), DisplayErrorContext(&err).to_string()),
        SdkError::DispatchFailure(_) => (
            "DispatchFailure".into(),
            DisplayErrorContext(&err).to_string(),
        ),
        _ => ("Error".into(), DisplayErrorContext(&err).to_string()),
    };
    FetchError::Aws {
        service,
        operation,
        arn: arn.to_string(),
        code,
        message,
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
    }

    #[test]
    fn bad_arns_are_refused() {
        for arn in [
            "faultline",
            "arn:aws:s3:::bucket/key",
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
