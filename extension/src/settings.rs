//! What the function's environment tells the extension (GREMLIN_* and FAULTLINE_* variables).

use crate::config::source::{ConfigSource, SourceError};
use crate::lambda::endpoint::{ApiEndpoint, EndpointError};
use faultline_schema::config::{
    DEFAULT_DEPENDENCY_PROXY_PORT, DEFAULT_LAMBDA_PROXY_PORT, DEFAULT_SDK_ENDPOINT_PORT, ListenAddr,
};
use faultline_schema::labels::FunctionFacts;
use std::path::PathBuf;
use thiserror::Error;

/// Default location of the ready file the wrapper reads (`RUNTIME PID DEPENDENCY SDK`, see
/// [`crate::lambda::ready_file`]).
pub const DEFAULT_READY_FILE: &str = "/tmp/faultline/ready";

/// Default of FAULTLINE_MAX_CONNECTIONS: 800 of Lambda's 1,024 descriptors at two per tunnel.
pub const DEFAULT_MAX_CONNECTIONS: usize = 400;

#[derive(Debug, Error)]
pub enum SettingsError {
    #[error("AWS_LAMBDA_RUNTIME_API is not set: faultline must run as a Lambda extension")]
    NoRuntimeApi,
    #[error("AWS_LAMBDA_RUNTIME_API: {0}")]
    RuntimeApi(EndpointError),
    #[error("FAULTLINE_RUNTIME_API_UPSTREAM: {0}")]
    Upstream(EndpointError),
    #[error("{0}: {1}")]
    ListenPort(&'static str, String),
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error("FAULTLINE_UPSTREAM_PROXY: {0}")]
    UpstreamProxy(String),
}

/// The extension's settings from its environment.
#[derive(Debug, Clone)]
pub struct Settings {
    /// GREMLIN_LAMBDA_ENABLED is truthy.
    pub enabled: bool,
    /// The Extensions API (and default Runtime API upstream): our own AWS_LAMBDA_RUNTIME_API.
    pub lambda_api: ApiEndpoint,
    /// Where proxied Runtime API calls go.
    pub runtime_upstream: ApiEndpoint,
    /// GREMLIN_LAMBDA_API_PROXY_PORT, when set; else the config file's or the default.
    pub proxy_listen: Option<ListenAddr>,
    /// FAULTLINE_DEPENDENCY_PROXY_PORT, when set; else the config file's or the default.
    pub dependency_listen: Option<ListenAddr>,
    /// The port of GREMLIN_SIDECAR_PORT (the variable the Failure Flags SDKs read to find the
    /// endpoint), when set; else the config file's or the default. Its host part is ignored: the
    /// endpoint listens on loopback only.
    pub sdk_listen: Option<ListenAddr>,
    pub config_source: Option<ConfigSource>,
    /// GREMLIN_CONFIG_ARN_ROLE: a role (in the config's account) assumed with the function's
    /// credentials to read the config.
    pub config_role: Option<String>,
    /// GREMLIN_DEBUG, when set.
    pub debug: Option<bool>,
    pub ready_file: PathBuf,
    /// FAULTLINE_UPSTREAM_PROXY: the function's own proxy from before faultline (set by
    /// `deployer enable`); wins over the config's `https_proxy` for dependency traffic.
    pub upstream_proxy: Option<http::Uri>,
    /// Hosts of the variables named in FAULTLINE_TLS_ORIGINATION_ENV (`deployer enable
    /// --tls-origination-env`), each rewritten to `http://HOST:443/...`: the dependency proxy
    /// originates TLS for them as for the config's `tls_origination`.
    pub origination_hosts: Vec<String>,
    /// FAULTLINE_MAX_CONNECTIONS: how many connections the dependency proxy serves at once
    /// (default 400), never more than half the descriptors this process may open, less a margin.
    pub max_connections: usize,
    /// AWS_LAMBDA_MAX_CONCURRENCY is set above 1 (Lambda Managed Instances): several
    /// invocations run in this environment at once. A value that is not a number counts as
    /// concurrent, so that no audit line ever names a wrong invocation.
    pub concurrent: bool,
    /// FAULTLINE_INIT_FAULTS is truthy (`deployer enable --init-faults`): the config is waited
    /// for during INIT (bounded by the request timeout) and `init` experiments apply. Without
    /// it, INIT never waits for the config.
    pub init_faults: bool,
    /// AWS_XRAY_DAEMON_ADDRESS: set by Lambda when the function has active tracing; injected
    /// faults are then sent to X-Ray as subsegments.
    pub xray_daemon: Option<String>,
    /// Function name, version and region, for labels.
    pub facts: FunctionFacts,
    /// A setting that could not be used. faultline then stays idle (registered, proxying
    /// nothing) rather than failing the function's init.
    pub problem: Option<String>,
}

use faultline_schema::wiring::{
    CONFIG_ROLE_ENV, INIT_FAULTS_ENV, ORIGINATION_ENV, is_role_arn, origination_host,
};

/// Descriptors kept for everything but the dependency proxy's connections.
const FD_MARGIN: usize = 64;

/// The soft limit on open files of this process (Lambda's is 1,024), from /proc/self/limits.
fn open_files_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.trim_start_matches("Max open files")
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// `true`, `yes` and `1` (any case) are on; anything else is off.
pub fn is_truthy(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "true" | "yes" | "1"
    )
}

impl Settings {
    /// Reads the settings through `lookup` (the process environment in production). Only a missing
    /// or unusable AWS_LAMBDA_RUNTIME_API is an error: without it the extension cannot register.
    /// Any other problem is kept in `problem`: faultline then registers and stays idle.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Settings, SettingsError> {
        let get = |key: &str| lookup(key).filter(|v| !v.trim().is_empty());
        let enabled = get("GREMLIN_LAMBDA_ENABLED").is_some_and(|v| is_truthy(&v));
        let lambda_api = get("AWS_LAMBDA_RUNTIME_API").ok_or(SettingsError::NoRuntimeApi)?;
        let lambda_api = ApiEndpoint::parse(&lambda_api).map_err(SettingsError::RuntimeApi)?;
        let mut problem = None;
        let runtime_upstream = match get("FAULTLINE_RUNTIME_API_UPSTREAM") {
            Some(text) => ApiEndpoint::parse(&text).unwrap_or_else(|err| {
                problem = Some(SettingsError::Upstream(err).to_string());
                lambda_api.clone()
            }),
            None => lambda_api.clone(),
        };
        let mut listen = |key: &'static str, text: Option<String>| {
            text.and_then(|text| match ListenAddr::parse(&text) {
                Ok(addr) => Some(addr),
                Err(reason) => {
                    problem = Some(SettingsError::ListenPort(key, reason).to_string());
                    None
                }
            })
        };
        let proxy_listen = listen(
            "GREMLIN_LAMBDA_API_PROXY_PORT",
            get("GREMLIN_LAMBDA_API_PROXY_PORT"),
        );
        let dependency_listen = listen(
            "FAULTLINE_DEPENDENCY_PROXY_PORT",
            get("FAULTLINE_DEPENDENCY_PROXY_PORT"),
        );
        let sdk_listen = listen(
            "GREMLIN_SIDECAR_PORT",
            get("GREMLIN_SIDECAR_PORT").map(|text| {
                let port = text.rsplit(':').next().unwrap_or_default().trim();
                format!("localhost:{port}")
            }),
        );
        let upstream_proxy = get("FAULTLINE_UPSTREAM_PROXY").and_then(|text| {
            match faultline_schema::config::parse_proxy_url(&text) {
                Ok(uri) => Some(uri),
                Err(reason) => {
                    problem = Some(SettingsError::UpstreamProxy(reason).to_string());
                    None
                }
            }
        });
        let origination_hosts = get(ORIGINATION_ENV)
            .map(|names| {
                names
                    .split(',')
                    .filter_map(|name| get(name.trim()))
                    .filter_map(|url| origination_host(&url))
                    .collect()
            })
            .unwrap_or_default();
        let max_connections = match get("FAULTLINE_MAX_CONNECTIONS") {
            None => DEFAULT_MAX_CONNECTIONS,
            Some(text) => match text.trim().parse::<usize>() {
                Ok(n) if n > 0 => n,
                _ => {
                    problem = Some(format!(
                        "FAULTLINE_MAX_CONNECTIONS: `{text}` is not a whole number above 0"
                    ));
                    DEFAULT_MAX_CONNECTIONS
                }
            },
        };
        let max_connections = match open_files_limit() {
            Some(limit) => max_connections.min((limit.saturating_sub(FD_MARGIN) / 2).max(1)),
            None => max_connections,
        };
        let config_role = get(CONFIG_ROLE_ENV).and_then(|role| {
            let role = role.trim().to_string();
            if is_role_arn(&role) {
                Some(role)
            } else {
                problem = Some(format!(
                    "GREMLIN_CONFIG_ARN_ROLE: `{role}` is not an IAM role ARN \
                     (arn:aws:iam::ACCOUNT:role/NAME)"
                ));
                None
            }
        });
        let config_source =
            match ConfigSource::from_env(get("GREMLIN_CONFIG_ARN"), get("GREMLIN_CONFIG_FILE")) {
                Ok(source) => source,
                Err(err) => {
                    problem = Some(SettingsError::Source(err).to_string());
                    None
                }
            };
        Ok(Settings {
            enabled: enabled && problem.is_none(),
            problem,
            lambda_api,
            runtime_upstream,
            proxy_listen,
            dependency_listen,
            sdk_listen,
            config_source,
            config_role,
            debug: get("GREMLIN_DEBUG").map(|v| is_truthy(&v)),
            ready_file: get("FAULTLINE_READY_FILE")
                .map_or_else(|| PathBuf::from(DEFAULT_READY_FILE), PathBuf::from),
            upstream_proxy,
            origination_hosts,
            init_faults: get(INIT_FAULTS_ENV).is_some_and(|v| is_truthy(&v)),
            xray_daemon: get(crate::xray::DAEMON_ENV),
            max_connections,
            concurrent: get("AWS_LAMBDA_MAX_CONCURRENCY")
                .is_some_and(|v| v.trim().parse::<u32>().map_or(true, |n| n > 1)),
            facts: FunctionFacts::from_lookup(&lookup),
        })
    }

    /// The Runtime API proxy address: the environment wins, then the config, then the default.
    pub fn proxy_listen_or(&self, from_config: Option<&ListenAddr>) -> ListenAddr {
        pick(&self.proxy_listen, from_config, DEFAULT_LAMBDA_PROXY_PORT)
    }

    /// The dependency proxy address, chosen the same way.
    pub fn dependency_listen_or(&self, from_config: Option<&ListenAddr>) -> ListenAddr {
        pick(
            &self.dependency_listen,
            from_config,
            DEFAULT_DEPENDENCY_PROXY_PORT,
        )
    }

    /// The SDK endpoint address, chosen the same way.
    pub fn sdk_listen_or(&self, from_config: Option<&ListenAddr>) -> ListenAddr {
        pick(&self.sdk_listen, from_config, DEFAULT_SDK_ENDPOINT_PORT)
    }
}

fn pick(
    from_env: &Option<ListenAddr>,
    from_config: Option<&ListenAddr>,
    default_port: u16,
) -> ListenAddr {
    from_env
        .clone()
        .or_else(|| from_config.cloned())
        .unwrap_or_else(|| ListenAddr::localhost(default_port))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|key| map.get(key).cloned())
    }

    #[test]
    fn rewritten_urls_name_the_hosts_to_originate_for() {
        assert_eq!(
            origination_host("http://API.Payments.example:443/v1?x=1").as_deref(),
            Some("api.payments.example")
        );
        assert_eq!(origination_host("http://h:443").as_deref(), Some("h"));
        for other in [
            "https://h/v1",
            "http://h/v1",
            "http://h:8443/",
            "http://u@h:443/",
        ] {
            assert_eq!(origination_host(other), None, "{other}");
        }
    }

    #[test]
    fn truthy_values_follow_the_sidecar() {
        for on in ["true", "TRUE", "yes", "Yes", "1", " true "] {
            assert!(is_truthy(on), "{on}");
        }
        for off in ["", "false", "0", "no", "on", "enabled"] {
            assert!(!is_truthy(off), "{off}");
        }
    }

    #[test]
    fn defaults_and_overrides() {
        let s = settings(&[
            ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"),
            ("GREMLIN_LAMBDA_ENABLED", "yes"),
        ])
        .expect("valid");
        assert!(s.enabled);
        assert_eq!(s.runtime_upstream, s.lambda_api);
        assert_eq!(s.proxy_listen_or(None).to_string(), "localhost:5033");
        assert!(s.config_source.is_none());

        let s = settings(&[
            ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"),
            (
                "FAULTLINE_RUNTIME_API_UPSTREAM",
                "http://127.0.0.1:7000/chain",
            ),
            ("GREMLIN_LAMBDA_API_PROXY_PORT", "localhost:6000"),
            ("GREMLIN_DEBUG", "true"),
        ])
        .expect("valid");
        assert!(!s.enabled);
        assert_eq!(
            s.runtime_upstream.to_string(),
            "http://127.0.0.1:7000/chain"
        );
        assert_eq!(s.proxy_listen_or(None).socket_addr().port(), 6000);
        assert_eq!(s.debug, Some(true));

        let s = settings(&[
            ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"),
            ("GREMLIN_SIDECAR_PORT", "0.0.0.0:6032"),
            ("FAULTLINE_DEPENDENCY_PROXY_PORT", "127.0.0.1:6034"),
        ])
        .expect("valid");
        assert!(s.problem.is_none());
        assert_eq!(s.sdk_listen_or(None).to_string(), "localhost:6032");
        assert_eq!(s.dependency_listen_or(None).socket_addr().port(), 6034);
    }

    #[test]
    fn managed_instances_are_told_by_their_concurrency() {
        let concurrent = |value: Option<&str>| {
            let mut vars = vec![("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001")];
            vars.extend(value.map(|v| ("AWS_LAMBDA_MAX_CONCURRENCY", v)));
            settings(&vars).unwrap().concurrent
        };
        assert!(!concurrent(None));
        assert!(!concurrent(Some("1")));
        assert!(concurrent(Some("8")));
        assert!(concurrent(Some("lots")), "unknown counts as concurrent");
    }

    #[test]
    fn bad_values_are_named() {
        let err = settings(&[]).expect_err("no runtime api");
        assert!(err.to_string().contains("AWS_LAMBDA_RUNTIME_API"));
        let s = settings(&[
            ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"),
            ("GREMLIN_LAMBDA_ENABLED", "true"),
            ("GREMLIN_LAMBDA_API_PROXY_PORT", "10.0.0.1:5033"),
        ])
        .expect("registers anyway");
        assert!(!s.enabled, "a bad setting keeps faultline idle");
        assert!(s.problem.unwrap().contains("GREMLIN_LAMBDA_API_PROXY_PORT"));
        let s = settings(&[
            ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"),
            ("GREMLIN_LAMBDA_ENABLED", "true"),
            ("GREMLIN_CONFIG_ARN", "faultline"),
        ])
        .expect("registers anyway");
        assert!(!s.enabled);
        assert!(s.problem.unwrap().contains("GREMLIN_CONFIG_ARN"));
        for (role, good) in [
            (
                "arn:aws:iam::222222222222:role/faultline-config-reader",
                true,
            ),
            ("arn:aws-cn:iam::222222222222:role/path/reader", true),
            ("arn:aws:iam::2222:role/reader", false),
            ("arn:aws:iam::222222222222:user/reader", false),
            ("faultline-config-reader", false),
        ] {
            let s = settings(&[
                ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"),
                ("GREMLIN_LAMBDA_ENABLED", "true"),
                ("GREMLIN_CONFIG_ARN_ROLE", role),
            ])
            .expect("registers anyway");
            assert_eq!(s.enabled, good, "{role}");
            assert_eq!(s.config_role.is_some(), good, "{role}");
            if !good {
                assert!(s.problem.unwrap().contains("GREMLIN_CONFIG_ARN_ROLE"));
            }
        }
        for bad in ["http://", "not a host:port", "127.0.0.1:99999"] {
            let s = settings(&[
                ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"),
                ("GREMLIN_LAMBDA_ENABLED", "true"),
                ("FAULTLINE_RUNTIME_API_UPSTREAM", bad),
            ])
            .expect("a bad upstream registers idle");
            assert!(!s.enabled);
            assert!(
                s.problem
                    .as_deref()
                    .is_some_and(|p| p.contains("FAULTLINE_RUNTIME_API_UPSTREAM")),
                "{bad}"
            );
        }
    }
}
