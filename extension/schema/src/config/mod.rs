//! The YAML configuration kept in the function's config secret (or a file).
//!
//! This is the one schema of faultline: the extension parses it at run time and the deployer
//! validates it before anything is uploaded. Every error names the key path and the reason.

mod document;
mod environment;
mod error;
mod experiment;
mod values;

pub use document::{
    AwsErrorSpec, BatchFailuresSpec, CorruptSpec, CpuSpec, DiskSpec, Document, DocumentError,
    EffectSpec, ExperimentSpec, GuardSpec, HttpResponseSpec, MemorySpec, TimeoutSpec,
    removed_experiments,
};
pub use environment::{
    CpuEffect, DEFAULT_GUARD_MIN_INVOCATIONS, DEFAULT_GUARD_WINDOW, DiskEffect, Guard,
    MAX_RESOURCE_MB, MEMORY_CEILING_PERCENT, MemoryEffect,
};
pub use error::ConfigError;
pub use experiment::{
    AwsErrorEffect, BatchFailuresEffect, CorruptEffect, Effect, ExceptionEffect, Experiment,
    ExperimentError, HttpResponseEffect, LatencyEffect, TimeoutEffect, alarm_name,
    default_aws_error_status,
};
pub use values::{ListenAddr, Rate, Redacted, mask_userinfo, parse_proxy_url};

use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// Default port of the Runtime API proxy (on localhost).
pub const DEFAULT_LAMBDA_PROXY_PORT: u16 = 5033;
/// Default port of the dependency (HTTP/HTTPS) proxy (on localhost).
pub const DEFAULT_DEPENDENCY_PROXY_PORT: u16 = 5034;
/// Default port of the Failure Flags SDK lookup endpoint (on localhost).
pub const DEFAULT_SDK_ENDPOINT_PORT: u16 = 5032;
/// Default time between two reads of the config source.
pub const DEFAULT_REFRESH_INTERVAL: Duration = Duration::from_secs(30);
/// Default dead-man: experiments stop when the config could not be read for this long.
pub const DEFAULT_MAX_STALE: Duration = Duration::from_secs(5 * 60);
/// Longest time between two reads of the config source.
pub const MAX_REFRESH_INTERVAL: Duration = Duration::from_secs(24 * 60 * 60);
/// Default bound on how long the function may wait for the config.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_millis(500);

/// A validated configuration.
///
/// `experiments` holds the experiments that passed validation; `rejected_experiments` the ones that
/// did not, each with its reason. The extension applies the valid ones and logs the others; the
/// deployer refuses a config with any rejected experiment (see [`Config::parse_strict`]).
/// Its Debug output masks every secret: the team keys and the proxy's credentials.
#[derive(Clone, PartialEq)]
pub struct Config {
    /// Debug logging (`debug: true`).
    pub debug: bool,
    /// The `service` label; the function name when left out.
    pub service_name: Option<String>,
    /// Labels every flag carries (the function's own facts win on a clash).
    pub labels: BTreeMap<String, String>,
    /// Whether the Runtime API proxy applies experiments.
    pub lambda_proxy_enabled: bool,
    /// Where the Runtime API proxy listens.
    pub lambda_proxy_port: ListenAddr,
    /// Whether the dependency proxy applies experiments.
    pub dependency_proxy_enabled: bool,
    /// Where the dependency (HTTP/HTTPS) proxy listens.
    pub dependency_proxy_port: ListenAddr,
    /// Whether the SDK endpoint answers with experiments (else `[]`).
    pub sdk_endpoint_enabled: bool,
    /// Where the Failure Flags SDK endpoint listens.
    pub sdk_endpoint_port: ListenAddr,
    /// The corporate proxy the dependency proxy sends its own traffic through.
    pub https_proxy: Option<http::Uri>,
    /// Time between two reads of the config source.
    pub refresh_interval: Duration,
    /// Longest the function may wait for the config.
    pub request_timeout: Duration,
    /// The dead-man: when the last successful read of the config is older than this, no
    /// experiment is applied until a read succeeds again.
    pub max_stale: Duration,
    /// CloudWatch alarms (names or ARNs) that halt every experiment when one is in ALARM.
    pub stop_on_alarms: Vec<String>,
    /// The guard of every experiment that has none of its own.
    pub guard: Option<Guard>,
    /// Hosts besides AWS's whose plain-HTTP requests the dependency proxy sends on over TLS
    /// (`api.example.com`, or a glob such as `*.example.com`).
    pub tls_origination: Vec<String>,
    /// Gremlin team id (accepted for compatibility, unused).
    pub team_id: Option<Redacted>,
    /// Gremlin team certificate (accepted for compatibility, unused).
    pub team_certificate: Option<Redacted>,
    /// Gremlin team private key (accepted for compatibility, unused).
    pub team_private_key: Option<Redacted>,
    /// The experiments that passed validation, in document order.
    pub experiments: Vec<Experiment>,
    /// The experiments that did not, each with its reason.
    pub rejected_experiments: Vec<ExperimentError>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let https_proxy = self
            .https_proxy
            .as_ref()
            .map(|uri| mask_userinfo(&uri.to_string()));
        f.debug_struct("Config")
            .field("debug", &self.debug)
            .field("service_name", &self.service_name)
            .field("labels", &self.labels)
            .field("lambda_proxy_enabled", &self.lambda_proxy_enabled)
            .field("lambda_proxy_port", &self.lambda_proxy_port)
            .field("dependency_proxy_enabled", &self.dependency_proxy_enabled)
            .field("dependency_proxy_port", &self.dependency_proxy_port)
            .field("sdk_endpoint_enabled", &self.sdk_endpoint_enabled)
            .field("sdk_endpoint_port", &self.sdk_endpoint_port)
            .field("https_proxy", &https_proxy)
            .field("refresh_interval", &self.refresh_interval)
            .field("request_timeout", &self.request_timeout)
            .field("max_stale", &self.max_stale)
            .field("stop_on_alarms", &self.stop_on_alarms)
            .field("guard", &self.guard)
            .field("tls_origination", &self.tls_origination)
            .field("team_id", &self.team_id)
            .field("team_certificate", &self.team_certificate)
            .field("team_private_key", &self.team_private_key)
            .field("experiments", &self.experiments)
            .field("rejected_experiments", &self.rejected_experiments)
            .finish()
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            debug: false,
            service_name: None,
            labels: BTreeMap::new(),
            lambda_proxy_enabled: true,
            lambda_proxy_port: ListenAddr::localhost(DEFAULT_LAMBDA_PROXY_PORT),
            dependency_proxy_enabled: true,
            dependency_proxy_port: ListenAddr::localhost(DEFAULT_DEPENDENCY_PROXY_PORT),
            sdk_endpoint_enabled: true,
            sdk_endpoint_port: ListenAddr::localhost(DEFAULT_SDK_ENDPOINT_PORT),
            https_proxy: None,
            refresh_interval: DEFAULT_REFRESH_INTERVAL,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            max_stale: DEFAULT_MAX_STALE,
            stop_on_alarms: Vec::new(),
            guard: None,
            tls_origination: Vec::new(),
            team_id: None,
            team_certificate: None,
            team_private_key: None,
            experiments: Vec::new(),
            rejected_experiments: Vec::new(),
        }
    }
}

/// The document as written, before cross-field validation. Unknown keys are refused so that a
/// typo (`experiements:`) is an error rather than a silently ignored section.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    debug: Option<bool>,
    #[serde(default)]
    service_name: Option<String>,
    #[serde(default)]
    labels: Option<BTreeMap<String, values::Scalar>>,
    #[serde(default)]
    lambda_proxy_enabled: Option<bool>,
    #[serde(default)]
    lambda_proxy_port: Option<ListenAddr>,
    #[serde(default)]
    dependency_proxy_enabled: Option<bool>,
    #[serde(default)]
    dependency_proxy_port: Option<ListenAddr>,
    #[serde(default)]
    sdk_endpoint_enabled: Option<bool>,
    #[serde(default)]
    sdk_endpoint_port: Option<ListenAddr>,
    #[serde(default)]
    https_proxy: Option<String>,
    #[serde(default)]
    refresh_interval: Option<values::HumanDuration>,
    #[serde(default)]
    request_timeout: Option<values::HumanDuration>,
    #[serde(default)]
    max_stale: Option<values::HumanDuration>,
    #[serde(default)]
    stop_on_alarms: Option<Vec<String>>,
    #[serde(default)]
    guard: Option<environment::RawGuard>,
    #[serde(default)]
    tls_origination: Option<Vec<String>>,
    #[serde(default)]
    team_id: Option<Redacted>,
    #[serde(default)]
    team_certificate: Option<Redacted>,
    #[serde(default)]
    team_private_key: Option<Redacted>,
    #[serde(default)]
    experiments: Option<Vec<serde_yaml_ng::Value>>,
}

impl Config {
    /// The guard of `experiment`: its own, else the config's.
    pub fn guard_of(&self, experiment: &Experiment) -> Option<Guard> {
        experiment.guard.or(self.guard)
    }

    /// Parses a YAML document. Invalid experiments do not fail the parse: they are returned in
    /// `rejected_experiments`, so one bad experiment cannot switch off the others.
    pub fn parse(yaml: &str) -> Result<Config, ConfigError> {
        // An empty secret or file is an empty config: every default applies.
        if yaml.trim().is_empty() {
            return Ok(Config::default());
        }
        let deserializer = serde_yaml_ng::Deserializer::from_str(yaml);
        let raw: RawConfig = serde_path_to_error::deserialize(deserializer).map_err(|err| {
            let path = err.path().to_string();
            ConfigError::from_serde(path, err.into_inner())
        })?;
        raw.into_config()
    }

    /// Parses and refuses any problem, including a single invalid experiment. This is what the
    /// deployer uses before uploading anything.
    pub fn parse_strict(yaml: &str) -> Result<Config, ConfigError> {
        let config = Config::parse(yaml)?;
        if let Some(first) = config.rejected_experiments.first() {
            return Err(ConfigError::Invalid {
                path: first.path(),
                reason: first.reason.clone(),
            });
        }
        Ok(config)
    }
}

impl RawConfig {
    fn into_config(self) -> Result<Config, ConfigError> {
        let https_proxy = match self.https_proxy {
            None => None,
            Some(text) if text.trim().is_empty() => None,
            Some(text) => {
                Some(
                    values::parse_proxy_url(&text).map_err(|reason| ConfigError::Invalid {
                        path: "https_proxy".into(),
                        reason,
                    })?,
                )
            }
        };
        let refresh_interval = self
            .refresh_interval
            .map_or(DEFAULT_REFRESH_INTERVAL, |d| d.0);
        if refresh_interval < Duration::from_secs(1) || refresh_interval > MAX_REFRESH_INTERVAL {
            return Err(ConfigError::Invalid {
                path: "refresh_interval".into(),
                reason: "must be between 1s and 24h".into(),
            });
        }
        let request_timeout = self
            .request_timeout
            .map_or(DEFAULT_REQUEST_TIMEOUT, |d| d.0);
        if request_timeout.is_zero() || request_timeout > Duration::from_secs(30) {
            return Err(ConfigError::Invalid {
                path: "request_timeout".into(),
                reason: "must be between 1ms and 30s".into(),
            });
        }
        let max_stale = self.max_stale.map_or(DEFAULT_MAX_STALE, |d| d.0);
        if max_stale < refresh_interval || max_stale > MAX_REFRESH_INTERVAL {
            return Err(ConfigError::Invalid {
                path: "max_stale".into(),
                reason: format!(
                    "must be between the refresh interval ({}) and 24h",
                    humantime::format_duration(refresh_interval)
                ),
            });
        }
        let stop_on_alarms = self.stop_on_alarms.unwrap_or_default();
        for (index, alarm) in stop_on_alarms.iter().enumerate() {
            experiment::validate_alarm(alarm).map_err(|reason| ConfigError::Invalid {
                path: format!("stop_on_alarms[{index}]"),
                reason,
            })?;
        }
        let guard = self
            .guard
            .map(|raw| {
                raw.validate()
                    .map_err(|(key, reason)| ConfigError::Invalid {
                        path: format!("guard.{key}"),
                        reason,
                    })
            })
            .transpose()?;
        let tls_origination: Vec<String> = self
            .tls_origination
            .unwrap_or_default()
            .into_iter()
            .map(|host| host.trim().to_ascii_lowercase())
            .collect();
        for (index, host) in tls_origination.iter().enumerate() {
            let valid = !host.is_empty()
                && host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'*');
            if !valid {
                return Err(ConfigError::Invalid {
                    path: format!("tls_origination[{index}]"),
                    reason: format!(
                        "`{host}` is not a host name (no scheme, port or path: `api.example.com` \
                         or `*.example.com`)"
                    ),
                });
            }
        }
        if let Some(name) = &self.service_name
            && name.trim().is_empty()
        {
            return Err(ConfigError::Invalid {
                path: "service_name".into(),
                reason: "must not be empty (leave it out to use the function name)".into(),
            });
        }
        let mut labels = BTreeMap::new();
        for (key, value) in self.labels.unwrap_or_default() {
            if key.trim().is_empty() {
                return Err(ConfigError::Invalid {
                    path: "labels".into(),
                    reason: "label names must not be empty".into(),
                });
            }
            labels.insert(key, value.0);
        }

        let (experiments, rejected_experiments) =
            experiment::parse_all(self.experiments.unwrap_or_default());

        let default_addr = ListenAddr::localhost;
        Ok(Config {
            debug: self.debug.unwrap_or(false),
            service_name: self.service_name,
            labels,
            lambda_proxy_enabled: self.lambda_proxy_enabled.unwrap_or(true),
            lambda_proxy_port: self
                .lambda_proxy_port
                .unwrap_or_else(|| default_addr(DEFAULT_LAMBDA_PROXY_PORT)),
            dependency_proxy_enabled: self.dependency_proxy_enabled.unwrap_or(true),
            dependency_proxy_port: self
                .dependency_proxy_port
                .unwrap_or_else(|| default_addr(DEFAULT_DEPENDENCY_PROXY_PORT)),
            sdk_endpoint_enabled: self.sdk_endpoint_enabled.unwrap_or(true),
            sdk_endpoint_port: self
                .sdk_endpoint_port
                .unwrap_or_else(|| default_addr(DEFAULT_SDK_ENDPOINT_PORT)),
            https_proxy,
            refresh_interval,
            request_timeout,
            max_stale,
            stop_on_alarms,
            guard,
            tls_origination,
            team_id: self.team_id,
            team_certificate: self.team_certificate,
            team_private_key: self.team_private_key,
            experiments,
            rejected_experiments,
        })
    }
}

#[cfg(test)]
mod tests;
