//! The variables faultline sets on a function: one list, which `enable` and the IaC templates
//! both take.

use super::{DEPENDENCY_PROXY, NO_PROXY_HOSTS, WRAPPER};

/// The ports of faultline's listeners inside the function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ports {
    pub runtime_api: u16,
    pub dependency_proxy: u16,
    pub sdk: u16,
}

impl Default for Ports {
    fn default() -> Self {
        Ports {
            runtime_api: 5033,
            dependency_proxy: 5034,
            sdk: 5032,
        }
    }
}

/// The value of a variable faultline sets: a literal, or what an IaC template takes as a
/// parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WiringValue {
    Literal(String),
    /// The config store's ARN (GREMLIN_CONFIG_ARN).
    ConfigArn,
    /// "true" or "false": whether faultline injects anything.
    Enabled,
}

/// HTTP_PROXY/HTTPS_PROXY for the dependency proxy on `ports`.
pub fn dependency_proxy_url(ports: &Ports) -> String {
    if ports.dependency_proxy == Ports::default().dependency_proxy {
        DEPENDENCY_PROXY.to_string()
    } else {
        format!("http://localhost:{}", ports.dependency_proxy)
    }
}

/// The variables faultline sets on every function, in order; NO_PROXY (merged with the
/// function's own) and the chained previous wrapper and proxy come on top. `enable` and the IaC
/// templates both take their variables from here.
pub fn wiring(ports: &Ports) -> Vec<(&'static str, WiringValue)> {
    let defaults = Ports::default();
    let proxy = dependency_proxy_url(ports);
    let mut vars = vec![
        ("GREMLIN_LAMBDA_ENABLED", WiringValue::Enabled),
        ("GREMLIN_CONFIG_ARN", WiringValue::ConfigArn),
        (
            "AWS_LAMBDA_EXEC_WRAPPER",
            WiringValue::Literal(WRAPPER.into()),
        ),
        ("HTTP_PROXY", WiringValue::Literal(proxy.clone())),
        ("HTTPS_PROXY", WiringValue::Literal(proxy)),
    ];
    if ports.runtime_api != defaults.runtime_api {
        vars.push((
            "GREMLIN_LAMBDA_API_PROXY_PORT",
            WiringValue::Literal(format!("localhost:{}", ports.runtime_api)),
        ));
    }
    if ports.dependency_proxy != defaults.dependency_proxy {
        vars.push((
            "FAULTLINE_DEPENDENCY_PROXY_PORT",
            WiringValue::Literal(format!("localhost:{}", ports.dependency_proxy)),
        ));
    }
    if ports.sdk != defaults.sdk {
        vars.push((
            "GREMLIN_SIDECAR_PORT",
            WiringValue::Literal(ports.sdk.to_string()),
        ));
    }
    vars
}

/// Runtimes whose Node.js `http`, `https` and `fetch` follow the proxy variables only with
/// `NODE_USE_ENV_PROXY=1` (Node 22.21+ and 24).
pub const NODE_ENV_PROXY_RUNTIMES: [&str; 2] = ["nodejs22.x", "nodejs24.x"];

/// The JVM options faultline owns in `JAVA_TOOL_OPTIONS`, by prefix: any of the function's own
/// are replaced by faultline's.
pub const JAVA_PROXY_OPTION_PREFIXES: [&str; 5] = [
    "-Dhttp.proxyHost=",
    "-Dhttp.proxyPort=",
    "-Dhttps.proxyHost=",
    "-Dhttps.proxyPort=",
    "-Dhttp.nonProxyHosts=",
];

/// What a runtime needs beyond HTTP(S)_PROXY for its HTTP clients to use the dependency proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuntimeProxyNeed {
    Nothing,
    /// `NODE_USE_ENV_PROXY=1`.
    NodeEnvProxy,
    /// The JVM reads its proxy from system properties only: [`java_proxy_options`].
    JavaSystemProperties,
}

pub fn runtime_proxy_need(runtime: &str) -> RuntimeProxyNeed {
    if NODE_ENV_PROXY_RUNTIMES.contains(&runtime) {
        RuntimeProxyNeed::NodeEnvProxy
    } else if runtime.starts_with("java") {
        RuntimeProxyNeed::JavaSystemProperties
    } else {
        RuntimeProxyNeed::Nothing
    }
}

/// faultline's JVM proxy options for the dependency proxy on `port` (one value per
/// [`JAVA_PROXY_OPTION_PREFIXES`] entry, in that order).
pub fn java_proxy_options(port: u16) -> [String; 5] {
    [
        "-Dhttp.proxyHost=localhost".to_string(),
        format!("-Dhttp.proxyPort={port}"),
        "-Dhttps.proxyHost=localhost".to_string(),
        format!("-Dhttps.proxyPort={port}"),
        format!("-Dhttp.nonProxyHosts={}", NO_PROXY_HOSTS.join("|")),
    ]
}

/// The function's JAVA_TOOL_OPTIONS with faultline's proxy options in place of any it had.
pub fn java_tool_options(existing: Option<&str>, port: u16) -> String {
    let mut options: Vec<String> = existing
        .map(|text| {
            text.split_whitespace()
                .filter(|option| {
                    !JAVA_PROXY_OPTION_PREFIXES
                        .iter()
                        .any(|ours| option.starts_with(ours))
                })
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    options.extend(java_proxy_options(port));
    options.join(" ")
}
