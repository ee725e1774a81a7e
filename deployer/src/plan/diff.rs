//! The plan shown to people: what changes in a function's layers and environment, with secret
//! material masked (credentials in URLs, and the saved record, which may hold old values).

use crate::plan::{FunctionConfig, Plan, SAVED};
use faultline_schema::config::mask_userinfo;
use std::collections::BTreeSet;

/// A variable's value with URL credentials masked: `http://user:pass@host` → `http://***@host`
/// (the whole userinfo, however many `@` the password holds). A proxy variable is masked even
/// without a scheme (`user:pass@host:3128`).
pub fn mask(key: &str, value: &str) -> String {
    if value.contains("://") || key.to_ascii_uppercase().ends_with("_PROXY") {
        mask_userinfo(value)
    } else {
        value.to_string()
    }
}

fn shown(key: &str, value: &str) -> String {
    if key == SAVED {
        "(record of the previous values)".into()
    } else {
        mask(key, value)
    }
}

/// Lines describing the change, empty when there is none.
pub fn lines(current: &FunctionConfig, plan: &Plan) -> Vec<String> {
    let mut out = Vec::new();
    if current.layers != plan.layers {
        for layer in &current.layers {
            if !plan.layers.contains(layer) {
                out.push(format!("  - layer {layer}"));
            }
        }
        for layer in &plan.layers {
            if !current.layers.contains(layer) {
                out.push(format!("  + layer {layer}"));
            }
        }
    }
    let keys: BTreeSet<&String> = current.env.keys().chain(plan.env.keys()).collect();
    for key in keys {
        match (current.env.get(key), plan.env.get(key)) {
            (None, Some(new)) => out.push(format!("  + env {key}={}", shown(key, new))),
            (Some(_), None) => out.push(format!("  - env {key}")),
            (Some(old), Some(new)) if old != new => out.push(format!(
                "  ~ env {key}: {} → {}",
                shown(key, old),
                shown(key, new)
            )),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_masked() {
        assert_eq!(
            mask("HTTPS_PROXY", "http://u:secret@corp:3128"),
            "http://***@corp:3128"
        );
        // The password `p@ss-w0rd`, written with a bare `@`: masked whole.
        assert_eq!(
            mask("FAULTLINE_UPSTREAM_PROXY", "http://svc:p@ss-w0rd@corp:3128"),
            "http://***@corp:3128"
        );
        assert_eq!(mask("https_proxy", "svc:secret@corp:3128"), "***@corp:3128");
        assert_eq!(
            mask("HTTP_PROXY", "http://localhost:5034"),
            "http://localhost:5034"
        );
        assert_eq!(mask("OWNER", "team@example.com"), "team@example.com");
        assert_eq!(mask("LOG_LEVEL", "plain"), "plain");
    }
}
