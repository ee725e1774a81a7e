//! What the templates are rendered with: names, ports and variables from the parameters, each
//! value already written as YAML (CloudFormation, SAM) and as HCL (Terraform) needs it.

use super::RenderError;
use super::example;
use crate::install::names;
use crate::plan::{self, Arch, Ports, WiringValue};
use faultline_schema::aws_services;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// What to render: from flags, or from what `deployer init` created (`--from-aws`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderParams {
    /// Name prefix (`--name`): secret `<name>-config`, layers `<name>-<arch>`.
    pub name: String,
    pub archs: Vec<Arch>,
    pub ports: Ports,
    /// GREMLIN_LAMBDA_ENABLED's default in the templates.
    pub enabled: bool,
    pub defaults: Defaults,
}

/// ARNs of an existing install, written in as parameter and variable defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Defaults {
    pub config_arn: Option<String>,
    pub read_policy_arn: Option<String>,
    /// Layer version ARNs by architecture.
    pub layer_arns: BTreeMap<Arch, String>,
}

impl Default for RenderParams {
    fn default() -> Self {
        RenderParams {
            name: "faultline".into(),
            archs: vec![Arch::X86_64, Arch::Arm64],
            ports: Ports::default(),
            enabled: true,
            defaults: Defaults::default(),
        }
    }
}

/// A quoted string, valid in YAML and in HCL (JSON string syntax; `${` never occurs in what
/// is quoted here, see `check`).
fn quoted(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| String::from("\"\""))
}

fn check(params: &RenderParams) -> Result<(), RenderError> {
    crate::install::names::parse_name(&params.name)
        .map_err(|reason| RenderError::Params(format!("--name {reason}")))?;
    if params.archs.is_empty() {
        return Err(RenderError::Params("--arch: give at least one".into()));
    }
    let ports = [
        params.ports.runtime_api,
        params.ports.dependency_proxy,
        params.ports.sdk,
    ];
    if ports.contains(&0) || ports[0] == ports[1] || ports[0] == ports[2] || ports[1] == ports[2] {
        return Err(RenderError::Params(format!(
            "ports {}, {}, {}: three different non-zero ports are needed",
            ports[0], ports[1], ports[2]
        )));
    }
    let arns = params
        .defaults
        .config_arn
        .iter()
        .chain(&params.defaults.read_policy_arn)
        .chain(params.defaults.layer_arns.values());
    for arn in arns {
        if !arn.starts_with("arn:") || arn.contains(['"', '\\', '$', '\n']) {
            return Err(RenderError::Params(format!("{arn:?} is not an ARN")));
        }
    }
    Ok(())
}

/// One variable as each format writes its value.
fn variable(key: &str, value: &WiringValue) -> Value {
    let (cfn, hcl) = match value {
        WiringValue::Literal(text) => (quoted(text), quoted(text)),
        WiringValue::ConfigArn => (
            "!Ref FaultlineConfigArn".to_string(),
            "var.config_arn".to_string(),
        ),
        WiringValue::Enabled => (
            "!Ref FaultlineEnabled".to_string(),
            "tostring(var.enabled)".to_string(),
        ),
    };
    json!({"key": key, "cfn": cfn, "hcl": hcl})
}

fn arch_id(arch: Arch) -> &'static str {
    match arch {
        Arch::X86_64 => "X8664",
        Arch::Arm64 => "Arm64",
    }
}

/// Pads the `key` of each variable into `key_hcl`, aligning the `=` signs of an HCL block the
/// way `terraform fmt` does.
fn aligned(variables: Vec<Value>) -> Vec<Value> {
    aligned_as(variables, "key_hcl")
}

/// Pads the `key` of each variable into `field`.
fn aligned_as(mut variables: Vec<Value>, field: &str) -> Vec<Value> {
    let width = variables
        .iter()
        .filter_map(|v| v["key"].as_str().map(str::len))
        .max()
        .unwrap_or(0);
    for variable in &mut variables {
        let key = variable["key"].as_str().unwrap_or_default().to_string();
        variable[field] = Value::String(format!("{key:width$}"));
    }
    variables
}

/// Every `GREMLIN_CONFIG_ARN` the extension reads: a Secrets Manager secret, an SSM parameter, an
/// S3 object or an AppConfig configuration (extension/src/config/source).
const CONFIG_ARN_PATTERN: &str = "^(arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:.+|arn:aws[a-z-]*:ssm:[a-z0-9-]+:[0-9]{12}:parameter/.+|arn:aws[a-z-]*:s3:::[a-z0-9.-]{3,63}/.+|appconfig:[^/]+/[^/]+/[^/]+)$";

pub fn build(params: &RenderParams) -> Result<Value, RenderError> {
    check(params)?;
    let name = &params.name;
    let wiring = plan::wiring(&params.ports);
    let default_no_proxy = plan::merged_no_proxy(None);

    // The example function: its own variables, faultline's on top, NO_PROXY merged.
    let mut example_env: BTreeMap<String, WiringValue> = example::OWN_ENV
        .iter()
        .map(|(k, v)| (k.to_string(), WiringValue::Literal(v.to_string())))
        .collect();
    let own_no_proxy = example::OWN_ENV
        .iter()
        .find(|(key, _)| *key == "NO_PROXY")
        .map(|(_, value)| value.to_string());
    for (key, value) in &wiring {
        example_env.insert(key.to_string(), value.clone());
    }
    example_env.insert(
        "NO_PROXY".into(),
        WiringValue::Literal(plan::merged_no_proxy(own_no_proxy.as_ref())),
    );

    let mut function_env: Vec<Value> = wiring.iter().map(|(k, v)| variable(k, v)).collect();
    function_env.push(variable(
        "NO_PROXY",
        &WiringValue::Literal(default_no_proxy.clone()),
    ));

    let archs: Vec<Value> = params
        .archs
        .iter()
        .map(|&arch| {
            json!({
                "arch": arch.as_str(),
                "id": arch_id(arch),
                "layer_name": names::layer(name, arch),
                "zip": format!("faultline-layer-{arch}.zip"),
                "default_layer_arn": params.defaults.layer_arns.get(&arch).map(|a| quoted(a)),
            })
        })
        .collect();
    let first_arch = params.archs[0];
    let hcl_list = |items: &[&str]| {
        items
            .iter()
            .map(|i| quoted(i))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let arch_names: Vec<&str> = params.archs.iter().map(|a| a.as_str()).collect();
    let java_options = plan::java_proxy_options(params.ports.dependency_proxy);
    let aws_services: Vec<Value> = aws_services::SERVICES
        .iter()
        .map(|&(prefix, service_id)| {
            let service = aws_services::Service { prefix, service_id };
            json!({"key": quoted(prefix), "prefix": prefix, "variable": service.endpoint_variable()})
        })
        .collect();
    let prefixes: Vec<&str> = aws_services::SERVICES.iter().map(|(p, _)| *p).collect();
    Ok(json!({
        "name": name,
        "secret_name": names::secret(name),
        "bucket_prefix": names::config_bucket_prefix(name),
        "appconfig_application": names::appconfig_application(name),
        "appconfig_environment": names::APPCONFIG_ENVIRONMENT,
        "appconfig_profile": names::APPCONFIG_PROFILE,
        "appconfig_strategy": names::appconfig_strategy(name),
        "reader_role": crate::install::reader_role::name(name),
        "optional_config_arn_pattern": CONFIG_ARN_PATTERN.replacen("^(", "^(|", 1),
        "config_arn_pattern": CONFIG_ARN_PATTERN,
        "dashboard_cfn": super::dashboard::cfn_body(8),
        "dashboard_hcl": super::dashboard::hcl_body(4),
        "policy_prefix": format!("{name}-read-config-"),
        "read_policy": crate::install::read_policy::template_context(),
        "archs": archs,
        "archs_hcl": hcl_list(&arch_names),
        "first_arch": first_arch.as_str(),
        "enabled": if params.enabled { "true" } else { "false" },
        "wrapper": plan::WRAPPER,
        "no_proxy_hosts_hcl": hcl_list(&plan::NO_PROXY_HOSTS),
        "node_runtimes": plan::NODE_ENV_PROXY_RUNTIMES.join(", "),
        "node_runtimes_hcl": hcl_list(&plan::NODE_ENV_PROXY_RUNTIMES),
        "java_prefixes_hcl": hcl_list(&plan::JAVA_PROXY_OPTION_PREFIXES),
        "java_options_hcl": hcl_list(&java_options.iter().map(String::as_str).collect::<Vec<_>>()),
        "java_tool_options": plan::java_tool_options(None, params.ports.dependency_proxy),
        "dependency_proxy": quoted(&plan::dependency_proxy_url(&params.ports)),
        "aws_services": aligned_as(aws_services, "prefix_hcl"),
        "aws_service_prefixes": prefixes.join(", "),
        "init_faults_env": faultline_schema::wiring::INIT_FAULTS_ENV,
        "config_role_env": faultline_schema::wiring::CONFIG_ROLE_ENV,
        "aws_service_prefixes_hcl": hcl_list(&prefixes),
        "max_layers": plan::MAX_LAYERS,
        "max_env_bytes": plan::MAX_ENV_BYTES,
        "function_env": aligned(function_env),
        "example_env": example_env.iter().map(|(k, v)| variable(k, v)).collect::<Vec<_>>(),
        "example_own_env": aligned(example::OWN_ENV
            .iter()
            .map(|(k, v)| variable(k, &WiringValue::Literal(v.to_string())))
            .collect()),
        "has_default_layers": !params.defaults.layer_arns.is_empty(),
        "shared_layer_parameter": example::SHARED_LAYER_PARAMETER,
        "default_config_arn": params.defaults.config_arn.as_deref().map(quoted),
        "default_read_policy_arn": params.defaults.read_policy_arn.as_deref().map(quoted),
        "default_layer_arn": params.defaults.layer_arns.get(&first_arch).map(|a| quoted(a)),
    }))
}
