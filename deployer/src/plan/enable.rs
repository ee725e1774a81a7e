//! The configuration `enable` wants for a function.

use std::collections::BTreeMap;

use super::{
    DEPENDENCY_PROXY, FunctionConfig, MAX_ENV_BYTES, MAX_LAYERS, NO_PROXY_HOSTS, Plan, PlanError,
    Ports, RuntimeProxyNeed, SAVED, Saved, WRAPPER, WiringValue, java_tool_options, readable,
    runtime_proxy_need, supports_wrapper, wiring,
};

/// The lower-case spellings of the proxy variables, beside their upper-case ones.
const LOWER_CASE: [(&str, &str); 3] = [
    ("HTTP_PROXY", "http_proxy"),
    ("HTTPS_PROXY", "https_proxy"),
    ("NO_PROXY", "no_proxy"),
];

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
    pub config_arn: String,
    /// `AWS_ENDPOINT_URL_<SERVICE>` and its origination URL for each `--aws-services` entry:
    /// exactly the set the function gets (a re-run without a service gives its variable back).
    pub aws_endpoints: Vec<(String, String)>,
    /// Variables holding an `https://` URL of a third-party API to rewrite to `http://HOST:443`
    /// for TLS origination (`--tls-origination-env`): exactly the set the function gets.
    pub tls_origination_env: Vec<String>,
    /// `--init-faults`: FAULTLINE_INIT_FAULTS=true, the opt-in to cold-start faults.
    pub init_faults: bool,
    /// `--config-role`: GREMLIN_CONFIG_ARN_ROLE, the role that reads a config kept in another
    /// account.
    pub config_role: Option<String>,
}

pub use faultline_schema::wiring::ORIGINATION_ENV;
use faultline_schema::wiring::{CONFIG_ROLE_ENV, INIT_FAULTS_ENV, origination_url};

/// The prefix of the SDKs' endpoint variables; the global one is this without the underscore.
const ENDPOINT_PREFIX: &str = "AWS_ENDPOINT_URL_";

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
    readable(current)?;
    let mut saved = Saved::of(current)?.unwrap_or_default();
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
                WiringValue::ConfigArn => target.config_arn.clone(),
                WiringValue::Enabled => "true".into(),
            };
            (key, value)
        })
        .collect();
    wanted.push(("NO_PROXY", merged_no_proxy(env.get("NO_PROXY"))));
    // Most clients prefer the lower-case proxy variables when both are set: a function that has
    // them gets them pointed at the dependency proxy too (and back exactly on disable).
    for (upper, lower) in LOWER_CASE {
        if env.contains_key(lower) {
            let value = if lower == "no_proxy" {
                merged_no_proxy(env.get(lower))
            } else {
                wanted
                    .iter()
                    .find(|(key, _)| *key == upper)
                    .map(|(_, value)| value.clone())
                    .unwrap_or_default()
            };
            wanted.push((lower, value));
        }
    }
    // Runtimes whose HTTP clients ignore HTTP(S)_PROXY unless told.
    match runtime_proxy_need(current.runtime.as_deref().unwrap_or_default()) {
        RuntimeProxyNeed::Nothing => {}
        RuntimeProxyNeed::NodeEnvProxy => wanted.push(("NODE_USE_ENV_PROXY", "1".into())),
        RuntimeProxyNeed::JavaSystemProperties => wanted.push((
            "JAVA_TOOL_OPTIONS",
            java_tool_options(
                env.get("JAVA_TOOL_OPTIONS").map(String::as_str),
                Ports::default().dependency_proxy,
            ),
        )),
    }
    let mut warnings = Vec::new();
    let mut endpoints = aws_endpoints(current, &saved, &target.aws_endpoints, &mut warnings);
    endpoints.extend(rewritten_urls(
        current,
        &saved,
        &target.tls_origination_env,
        &mut warnings,
    ));
    wanted.extend(endpoints.iter().map(|(k, v)| (k.as_str(), v.clone())));
    if target.init_faults {
        wanted.push((INIT_FAULTS_ENV, "true".into()));
    }
    if let Some(role) = &target.config_role {
        wanted.push((CONFIG_ROLE_ENV, role.clone()));
    }
    if !already_enabled {
        if let Some(previous) = env.get("AWS_LAMBDA_EXEC_WRAPPER").filter(|w| *w != WRAPPER) {
            wanted.push(("FAULTLINE_NEXT_WRAPPER", previous.clone()));
        }
        let previous_proxy = ["https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY"]
            .into_iter()
            .filter_map(|key| env.get(key))
            .find(|p| *p != DEPENDENCY_PROXY);
        if let Some(previous) = previous_proxy {
            wanted.push(("FAULTLINE_UPSTREAM_PROXY", previous.clone()));
        }
    }
    let mut new_env = env.clone();
    // An endpoint, a rewritten URL, the cold-start opt-in or the config role an earlier enable
    // set, no longer asked for, goes back as it was.
    let rewritten_before: Vec<&str> = env
        .get(ORIGINATION_ENV)
        .map(|names| names.split(',').map(str::trim).collect())
        .unwrap_or_default();
    let dropped: Vec<String> = saved
        .env
        .keys()
        .filter(|key| {
            key.starts_with(ENDPOINT_PREFIX)
                || *key == ORIGINATION_ENV
                || *key == INIT_FAULTS_ENV
                || *key == CONFIG_ROLE_ENV
                || rewritten_before.contains(&key.as_str())
        })
        .filter(|key| !wanted.iter().any(|(wanted, _)| *wanted == key.as_str()))
        .cloned()
        .collect();
    for key in dropped {
        match saved.env.remove(&key).flatten() {
            Some(previous) => new_env.insert(key, previous),
            None => new_env.remove(&key),
        };
    }
    for (key, value) in wanted {
        // A variable not yet in FAULTLINE_SAVED was never set by faultline: its value now is
        // the function's own, whether or not faultline is already enabled (a re-run that adds
        // an AWS service records that service's variable then).
        if !saved.env.contains_key(key) && env.get(key) != Some(&value) {
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

/// The endpoint variables to set: each asked for, except where the function has its own (its
/// own per-service variable, or a global AWS_ENDPOINT_URL, which a per-service one would
/// override), which is kept with a warning.
fn aws_endpoints(
    current: &FunctionConfig,
    saved: &Saved,
    asked: &[(String, String)],
    warnings: &mut Vec<String>,
) -> Vec<(String, String)> {
    let global = ENDPOINT_PREFIX.trim_end_matches('_');
    let own = |key: &str| {
        current
            .env
            .get(key)
            .filter(|_| !saved.env.contains_key(key))
    };
    if asked.is_empty() {
        return Vec::new();
    }
    let runtime = current.runtime.as_deref().unwrap_or_default();
    if !sdk_follows_proxy_variables(runtime) {
        warnings.push(format!(
            "{}: runtime {runtime}: the AWS SDK for JavaScript v3 sends its calls through an HTTP \
             agent of its own, which follows HTTP(S)_PROXY only with faultline's Node preload, \
             and that needs nodejs24.x; no AWS service is wired for TLS origination (its SDK \
             would send plain HTTP to port 443 itself)",
            current.name
        ));
        return Vec::new();
    }
    if let Some(value) = own(global) {
        warnings.push(format!(
            "{}: it sets {global}={value} itself, which a per-service endpoint would override; \
             no AWS service is wired for TLS origination",
            current.name
        ));
        return Vec::new();
    }
    asked
        .iter()
        .filter(|(key, _)| match own(key) {
            Some(value) => {
                warnings.push(format!(
                    "{}: {key}={value} is the function's own and is kept; its calls are not \
                     originated by faultline",
                    current.name
                ));
                false
            }
            None => true,
        })
        .cloned()
        .collect()
}

/// Each `--tls-origination-env` variable rewritten from `https://HOST[:443]/...` to
/// `http://HOST:443/...` (from its value before faultline), and the list of them in
/// [`ORIGINATION_ENV`]; a variable that is not set or holds no such URL is left as it is, with a
/// warning naming it.
fn rewritten_urls(
    current: &FunctionConfig,
    saved: &Saved,
    names: &[String],
    warnings: &mut Vec<String>,
) -> Vec<(String, String)> {
    let mut rewritten: Vec<(String, String)> = Vec::new();
    for name in names {
        let original = match saved.env.get(name) {
            Some(before) => before.as_ref(),
            None => current.env.get(name),
        };
        let Some(original) = original else {
            warnings.push(format!(
                "{}: --tls-origination-env {name}: the function has no such variable",
                current.name
            ));
            continue;
        };
        match origination_url(original) {
            Some(url) => rewritten.push((name.clone(), url)),
            None => warnings.push(format!(
                "{}: --tls-origination-env {name}: `{original}` is not an https:// URL on port \
                 443; left as it is",
                current.name
            )),
        }
    }
    if !rewritten.is_empty() {
        let list = rewritten
            .iter()
            .map(|(name, _)| name.as_str())
            .collect::<Vec<_>>()
            .join(",");
        rewritten.push((ORIGINATION_ENV.to_string(), list));
    }
    rewritten
}

/// Whether the runtime's AWS SDK sends an `http://` endpoint through HTTP_PROXY (boto3, the
/// Java SDK v2 with the JVM proxy properties, Go, .NET, Ruby) so that TLS origination can carry
/// it. The JavaScript SDK v3 does so only with the layer's Node preload, which needs Node 24
/// (its agents' `proxyEnv` option): nodejs24.x and later.
fn sdk_follows_proxy_variables(runtime: &str) -> bool {
    match runtime.strip_prefix("nodejs") {
        Some(version) => version
            .split('.')
            .next()
            .and_then(|major| major.parse::<u32>().ok())
            .is_some_and(|major| major >= 24),
        None => true,
    }
}

fn env_bytes(env: &BTreeMap<String, String>) -> usize {
    env.iter().map(|(k, v)| k.len() + v.len()).sum()
}
