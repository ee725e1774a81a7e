//! Labels that experiments select on: the function's facts, the config's labels and, per
//! invocation, the event's source, method and path (see [`crate::event`]).

use crate::config::Config;
use crate::event::EventFacts;
use std::collections::BTreeMap;

/// Labels describing one request: `function-name`, `event-source`, `host`, ... plus config labels.
pub type Labels = BTreeMap<String, String>;

/// The prefix of selector keys that match a value in the event itself: `event.<dot.path>`, with
/// array indexes as path segments (`event.Records.0.eventSource`).
pub const EVENT_PREFIX: &str = "event.";

/// The selector value that matches any value at an `event.` path, as long as there is one.
pub const EXISTS: &str = "exists";

/// The segments of an `event.` selector key (`event.a.0.b` → `[a, 0, b]`), or None for another
/// key, or one with an empty segment.
pub fn event_path(key: &str) -> Option<Vec<&str>> {
    let path = key.strip_prefix(EVENT_PREFIX)?;
    let segments: Vec<&str> = path.split('.').collect();
    segments.iter().all(|s| !s.is_empty()).then_some(segments)
}

/// The label of the invocation's tenant (`Lambda-Runtime-Aws-Tenant-Id`, tenant isolation).
pub const TENANT_LABEL: &str = "tenant-id";

/// Labels the Runtime API proxy learns per invocation, from the event and the `/next` answer: an
/// experiment selecting on one of these may apply to some invocations of a function and not to
/// others.
pub const INVOCATION_LABELS: [&str; 4] = ["event-source", "method", "path", TENANT_LABEL];

/// The function's own facts, read once from its environment.
#[derive(Debug, Clone, Default)]
pub struct FunctionFacts {
    /// AWS_LAMBDA_FUNCTION_NAME.
    pub function_name: Option<String>,
    /// AWS_LAMBDA_FUNCTION_VERSION.
    pub function_version: Option<String>,
    /// AWS_REGION (or AWS_DEFAULT_REGION).
    pub region: Option<String>,
    /// AWS_LAMBDA_FUNCTION_MEMORY_SIZE, in MB: what a `memory` effect is measured against.
    pub memory_mb: Option<u64>,
}

impl FunctionFacts {
    /// Reads the facts through `lookup` (the environment, in the extension).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> FunctionFacts {
        let get = |key: &str| lookup(key).filter(|v| !v.trim().is_empty());
        FunctionFacts {
            function_name: get("AWS_LAMBDA_FUNCTION_NAME"),
            function_version: get("AWS_LAMBDA_FUNCTION_VERSION"),
            region: get("AWS_REGION").or_else(|| get("AWS_DEFAULT_REGION")),
            memory_mb: get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE").and_then(|v| v.trim().parse().ok()),
        }
    }

    /// Labels every flag carries: the config's labels, then the function's facts (which win on a
    /// clash, since they are facts) and `service` (`service_name`, else the function name).
    pub fn base_labels(&self, config: &Config) -> Labels {
        let mut labels = config.labels.clone();
        let mut put = |key: &str, value: Option<&String>| {
            if let Some(value) = value {
                labels.insert(key.to_string(), value.clone());
            }
        };
        put("function-name", self.function_name.as_ref());
        put("function-version", self.function_version.as_ref());
        put("region", self.region.as_ref());
        put(
            "service",
            config.service_name.as_ref().or(self.function_name.as_ref()),
        );
        labels
    }
}

/// Labels for one invocation: the function's base labels (see [`FunctionFacts::base_labels`])
/// plus event-source, method and path.
pub fn invocation_labels(base: &Labels, facts: &EventFacts) -> Labels {
    let mut labels = base.clone();
    labels.insert("event-source".into(), facts.source.as_str().into());
    if let Some(method) = &facts.method {
        labels.insert("method".into(), method.clone());
    }
    if let Some(path) = &facts.path {
        labels.insert("path".into(), path.clone());
    }
    labels
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::EventSource;

    #[test]
    fn facts_win_over_config_labels() {
        let config = Config::parse("labels: {team: payments, region: nowhere}").expect("valid");
        let facts = FunctionFacts {
            function_name: Some("checkout".into()),
            function_version: Some("$LATEST".into()),
            region: Some("eu-west-1".into()),
            memory_mb: None,
        };
        let labels = invocation_labels(
            &facts.base_labels(&config),
            &EventFacts {
                source: EventSource::Direct,
                method: None,
                path: None,
            },
        );
        assert_eq!(labels["team"], "payments");
        assert_eq!(labels["region"], "eu-west-1");
        assert_eq!(labels["service"], "checkout");
        assert_eq!(labels["event-source"], "direct");
        assert!(!labels.contains_key("method"));
    }
}
