//! The variables faultline sets on a function: one list, which `enable` and the IaC templates
//! both take.

use super::{DEPENDENCY_PROXY, WRAPPER};

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
    /// The config secret's ARN.
    ConfigSecretArn,
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
        ("GREMLIN_CONFIG_ARN", WiringValue::ConfigSecretArn),
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
