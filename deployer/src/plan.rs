//! The planner: a pure function from a function's current configuration to the configuration
//! `enable` or `disable` wants. Nothing here talks to AWS, so every rule is unit-tested.
//!
//! Enabling records what it changes in one reserved variable, `FAULTLINE_SAVED`, (the previous
//! value of every variable it set, `null` for "was not set", and the previous faultline layer if
//! one was there), so that `disable` restores exactly what was there, even when the function was
//! edited in between: only faultline's own changes are undone.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use thiserror::Error;

/// Where the exec wrapper lives in the layer.
pub const WRAPPER: &str = "/opt/faultline-wrapper";
/// The dependency proxy the function's HTTP clients are pointed at.
pub const DEPENDENCY_PROXY: &str = "http://localhost:5034";
/// Hosts that must never go through the dependency proxy: loopback and the metadata endpoints.
pub const NO_PROXY_HOSTS: [&str; 3] = ["localhost", "127.0.0.1", "169.254.169.254"];
/// The reserved variable holding what enabling changed.
pub const SAVED: &str = "FAULTLINE_SAVED";
/// Lambda allows at most five layers per function.
pub const MAX_LAYERS: usize = 5;
/// Lambda's limit on the environment variables' total size.
pub const MAX_ENV_BYTES: usize = 4096;

/// A function's architecture, as Lambda names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Arch {
    #[serde(rename = "x86_64")]
    X86_64,
    #[serde(rename = "arm64")]
    Arm64,
}

impl Arch {
    pub fn as_str(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Arm64 => "arm64",
        }
    }

    pub fn parse(text: &str) -> Option<Arch> {
        match text.trim() {
            "x86_64" => Some(Arch::X86_64),
            "arm64" => Some(Arch::Arm64),
            _ => None,
        }
    }

    /// `--arch` values, in order, without repeats; the error names the bad value.
    pub fn parse_list(texts: &[String]) -> Result<Vec<Arch>, String> {
        let mut arches = Vec::new();
        for text in texts {
            let arch = Arch::parse(text)
                .ok_or_else(|| format!("--arch {text}: expected x86_64 or arm64"))?;
            if !arches.contains(&arch) {
                arches.push(arch);
            }
        }
        Ok(arches)
    }
}

impl std::fmt::Display for Arch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

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

/// What the planner needs to know of a function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionConfig {
    pub name: String,
    pub runtime: Option<String>,
    pub arch: Arch,
    /// Layer version ARNs, in order.
    pub layers: Vec<String>,
    pub env: BTreeMap<String, String>,
    /// `Image` functions cannot use layers.
    pub is_image: bool,
}

/// faultline's layer for one architecture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OurLayer {
    /// The layer ARN without version: `arn:aws:lambda:eu-west-1:123:layer:faultline-x86_64`.
    pub layer_arn: String,
    /// The version ARN to attach.
    pub version_arn: String,
}

impl OurLayer {
    /// Whether `version_arn` is any version of this layer.
    pub fn owns(&self, version_arn: &str) -> bool {
        version_arn
            .rsplit_once(':')
            .is_some_and(|(base, version)| base == self.layer_arn && version.parse::<u64>().is_ok())
    }
}

/// What `enable` installs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnableTarget {
    pub layer: OurLayer,
    pub secret_arn: String,
}

/// What `enable` changed, kept in `FAULTLINE_SAVED`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Saved {
    /// Previous value of each variable enabling set; `None`: it was not set.
    pub env: BTreeMap<String, Option<String>>,
    /// A faultline layer version that was attached before (replaced by enabling).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer: Option<String>,
}

/// The configuration a command wants, and whether it differs from the current one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub layers: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub warnings: Vec<String>,
}

impl Plan {
    pub fn changes(&self, current: &FunctionConfig) -> bool {
        self.layers != current.layers || self.env != current.env
    }
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum PlanError {
    #[error("{function}: it would have {count} layers; Lambda allows {MAX_LAYERS}")]
    TooManyLayers { function: String, count: usize },
    #[error("{function}: container image functions cannot use layers")]
    Image { function: String },
    #[error("{function}: the environment would be {bytes} bytes; Lambda allows {MAX_ENV_BYTES}")]
    EnvTooLarge { function: String, bytes: usize },
    #[error("{function}: {SAVED} is not valid ({reason}); restore the function by hand")]
    BadSaved { function: String, reason: String },
}

/// Whether the runtime honours AWS_LAMBDA_EXEC_WRAPPER (OS-only runtimes do not).
pub fn supports_wrapper(runtime: Option<&str>) -> bool {
    !runtime.is_none_or(|r| r.starts_with("provided"))
}

fn saved_of(current: &FunctionConfig) -> Result<Option<Saved>, PlanError> {
    current
        .env
        .get(SAVED)
        .map(|text| {
            serde_json::from_str(text).map_err(|err| PlanError::BadSaved {
                function: current.name.clone(),
                reason: err.to_string(),
            })
        })
        .transpose()
}

fn env_bytes(env: &BTreeMap<String, String>) -> usize {
    env.iter().map(|(k, v)| k.len() + v.len()).sum()
}

/// NO_PROXY with loopback and metadata hosts added (existing entries kept, in order).
pub fn merged_no_proxy(existing: Option<&String>) -> String {
    let mut entries: Vec<String> = existing
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|e| !e.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    for host in NO_PROXY_HOSTS {
        if !entries.iter().any(|e| e == host) {
            entries.push(host.to_string());
        }
    }
    entries.join(",")
}

/// The configuration `enable` wants. Enabling an enabled function plans no change; an older
/// faultline layer version is replaced in place; other layers keep their order.
pub fn plan_enable(current: &FunctionConfig, target: &EnableTarget) -> Result<Plan, PlanError> {
    if current.is_image {
        return Err(PlanError::Image {
            function: current.name.clone(),
        });
    }
    let mut saved = saved_of(current)?.unwrap_or_default();
    let already_enabled = current.env.contains_key(SAVED);

    // Layers: ours replaces an older version of ours where it stands, else goes last.
    let mut layers = current.layers.clone();
    match layers.iter().position(|l| target.layer.owns(l)) {
        Some(index) => {
            if !already_enabled {
                saved.layer = Some(layers[index].clone());
            }
            layers[index] = target.layer.version_arn.clone();
        }
        None => layers.push(target.layer.version_arn.clone()),
    }
    if layers.len() > MAX_LAYERS {
        return Err(PlanError::TooManyLayers {
            function: current.name.clone(),
            count: layers.len(),
        });
    }

    // Environment: the previous wrapper and proxies are chained, never lost.
    let env = &current.env;
    let mut wanted: Vec<(&str, String)> = wiring(&Ports::default())
        .into_iter()
        .map(|(key, value)| {
            let value = match value {
                WiringValue::Literal(text) => text,
                WiringValue::ConfigSecretArn => target.secret_arn.clone(),
                WiringValue::Enabled => "true".into(),
            };
            (key, value)
        })
        .collect();
    wanted.push(("NO_PROXY", merged_no_proxy(env.get("NO_PROXY"))));
    if !already_enabled {
        if let Some(previous) = env.get("AWS_LAMBDA_EXEC_WRAPPER").filter(|w| *w != WRAPPER) {
            wanted.push(("FAULTLINE_NEXT_WRAPPER", previous.clone()));
        }
        let previous_proxy = env
            .get("HTTPS_PROXY")
            .or_else(|| env.get("HTTP_PROXY"))
            .filter(|p| *p != DEPENDENCY_PROXY);
        if let Some(previous) = previous_proxy {
            wanted.push(("FAULTLINE_UPSTREAM_PROXY", previous.clone()));
        }
    }
    let mut new_env = env.clone();
    for (key, value) in wanted {
        if !already_enabled && !saved.env.contains_key(key) && env.get(key) != Some(&value) {
            saved.env.insert(key.to_string(), env.get(key).cloned());
        }
        new_env.insert(key.to_string(), value);
    }
    let saved_text = serde_json::to_string(&saved).unwrap_or_default();
    new_env.insert(SAVED.to_string(), saved_text);
    let bytes = env_bytes(&new_env);
    if bytes > MAX_ENV_BYTES {
        return Err(PlanError::EnvTooLarge {
            function: current.name.clone(),
            bytes,
        });
    }

    let mut warnings = Vec::new();
    if !supports_wrapper(current.runtime.as_deref()) {
        warnings.push(format!(
            "{}: runtime {} ignores AWS_LAMBDA_EXEC_WRAPPER; add the one-line bootstrap change from the README for the Runtime API proxy (the dependency proxy and SDK endpoint work without it)",
            current.name,
            current.runtime.as_deref().unwrap_or("(none)")
        ));
    }
    Ok(Plan {
        layers,
        env: new_env,
        warnings,
    })
}

/// The configuration `disable` wants: every variable enabling set goes back to its previous
/// value (or away), faultline's layer goes (or back to the version that was there), other
/// layers and variables stay as they are now. A function that is not enabled plans no change.
pub fn plan_disable(
    current: &FunctionConfig,
    is_ours: impl Fn(&str) -> bool,
) -> Result<Plan, PlanError> {
    let Some(saved) = saved_of(current)? else {
        return Ok(Plan {
            layers: current.layers.clone(),
            env: current.env.clone(),
            warnings: Vec::new(),
        });
    };
    let mut env = current.env.clone();
    env.remove(SAVED);
    for (key, previous) in &saved.env {
        match previous {
            Some(value) => env.insert(key.clone(), value.clone()),
            None => env.remove(key),
        };
    }
    let mut layers = Vec::with_capacity(current.layers.len());
    for layer in &current.layers {
        if is_ours(layer) {
            if let Some(previous) = &saved.layer {
                layers.push(previous.clone());
            }
        } else {
            layers.push(layer.clone());
        }
    }
    Ok(Plan {
        layers,
        env,
        warnings: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const OURS: &str = "arn:aws:lambda:eu-west-1:123456789012:layer:faultline-x86_64";

    fn target(version: u32) -> EnableTarget {
        EnableTarget {
            layer: OurLayer {
                layer_arn: OURS.into(),
                version_arn: format!("{OURS}:{version}"),
            },
            secret_arn:
                "arn:aws:secretsmanager:eu-west-1:123456789012:secret:faultline-config-AbCdEf"
                    .into(),
        }
    }

    fn function(layers: &[&str], env: &[(&str, &str)]) -> FunctionConfig {
        FunctionConfig {
            name: "checkout".into(),
            runtime: Some("python3.13".into()),
            arch: Arch::X86_64,
            layers: layers.iter().map(|l| l.to_string()).collect(),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            is_image: false,
        }
    }

    fn apply(current: &FunctionConfig, plan: &Plan) -> FunctionConfig {
        FunctionConfig {
            layers: plan.layers.clone(),
            env: plan.env.clone(),
            ..current.clone()
        }
    }

    #[test]
    fn enable_chains_what_was_there_and_disable_restores_it() {
        let before = function(
            &[
                "arn:aws:lambda:eu-west-1:1:layer:otel:3",
                "arn:aws:lambda:eu-west-1:1:layer:utils:1",
            ],
            &[
                ("TABLE", "orders"),
                ("AWS_LAMBDA_EXEC_WRAPPER", "/opt/otel-instrument"),
                ("HTTPS_PROXY", "http://corp:3128"),
                ("NO_PROXY", "internal.example.com"),
            ],
        );
        let plan = plan_enable(&before, &target(7)).expect("plan");
        assert_eq!(plan.layers.len(), 3);
        assert_eq!(plan.layers[2], format!("{OURS}:7"));
        assert_eq!(plan.env["AWS_LAMBDA_EXEC_WRAPPER"], WRAPPER);
        assert_eq!(plan.env["FAULTLINE_NEXT_WRAPPER"], "/opt/otel-instrument");
        assert_eq!(plan.env["FAULTLINE_UPSTREAM_PROXY"], "http://corp:3128");
        assert_eq!(plan.env["HTTPS_PROXY"], DEPENDENCY_PROXY);
        assert_eq!(
            plan.env["NO_PROXY"],
            "internal.example.com,localhost,127.0.0.1,169.254.169.254"
        );
        assert_eq!(plan.env["TABLE"], "orders");
        let enabled = apply(&before, &plan);

        // Enabling again changes nothing.
        let again = plan_enable(&enabled, &target(7)).expect("plan");
        assert!(!again.changes(&enabled), "{again:?}");

        // Someone adds a variable meanwhile; disable keeps it and restores the rest exactly.
        let mut edited = enabled.clone();
        edited.env.insert("NEW".into(), "kept".into());
        let undo = plan_disable(&edited, |l| target(7).layer.owns(l)).expect("plan");
        let mut expected = before.env.clone();
        expected.insert("NEW".into(), "kept".into());
        assert_eq!(undo.env, expected);
        assert_eq!(undo.layers, before.layers);
    }

    #[test]
    fn an_older_version_of_ours_is_replaced_in_place_and_restored() {
        let before = function(
            &[
                &format!("{OURS}:3"),
                "arn:aws:lambda:eu-west-1:1:layer:utils:1",
            ],
            &[],
        );
        let plan = plan_enable(&before, &target(4)).expect("plan");
        assert_eq!(plan.layers[0], format!("{OURS}:4"));
        let enabled = apply(&before, &plan);
        // Upgrading an enabled function only moves the layer version.
        let upgrade = plan_enable(&enabled, &target(5)).expect("plan");
        assert_eq!(upgrade.layers[0], format!("{OURS}:5"));
        assert_eq!(upgrade.env, enabled.env);
        let undo =
            plan_disable(&apply(&enabled, &upgrade), |l| target(5).layer.owns(l)).expect("plan");
        assert_eq!(undo.layers, before.layers);
        assert_eq!(undo.env, before.env);
    }

    #[test]
    fn refusals_name_the_function() {
        let five: Vec<String> = (0..5)
            .map(|i| format!("arn:aws:lambda:eu-west-1:1:layer:l{i}:1"))
            .collect();
        let refs: Vec<&str> = five.iter().map(String::as_str).collect();
        let err = plan_enable(&function(&refs, &[]), &target(1)).expect_err("six layers");
        assert_eq!(
            err,
            PlanError::TooManyLayers {
                function: "checkout".into(),
                count: 6
            }
        );
        let mut image = function(&[], &[]);
        image.is_image = true;
        assert!(matches!(
            plan_enable(&image, &target(1)),
            Err(PlanError::Image { .. })
        ));
        let big = "x".repeat(4000);
        let err = plan_enable(&function(&[], &[("BIG", &big)]), &target(1)).expect_err("too big");
        assert!(err.to_string().contains("checkout"));
        let broken = function(&[], &[(SAVED, "{")]);
        assert!(matches!(
            plan_disable(&broken, |_| false),
            Err(PlanError::BadSaved { .. })
        ));
    }

    #[test]
    fn os_only_runtimes_get_a_warning_and_disabled_functions_no_change() {
        let mut custom = function(&[], &[]);
        custom.runtime = Some("provided.al2023".into());
        let plan = plan_enable(&custom, &target(1)).expect("plan");
        assert_eq!(plan.warnings.len(), 1);
        assert!(plan.warnings[0].contains("bootstrap"));
        let plain = function(&["arn:aws:lambda:eu-west-1:1:layer:utils:1"], &[("A", "b")]);
        assert!(
            !plan_disable(&plain, |_| false)
                .expect("plan")
                .changes(&plain)
        );
        assert!(
            OurLayer {
                layer_arn: OURS.into(),
                version_arn: String::new()
            }
            .owns(&format!("{OURS}:12"))
        );
        assert!(
            !OurLayer {
                layer_arn: OURS.into(),
                version_arn: String::new()
            }
            .owns(&format!("{OURS}-other:12"))
        );
    }
}
