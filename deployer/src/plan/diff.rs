//! The plan shown to people: what changes in a function's layers and environment, with secret
//! material masked (credentials in URLs, and the saved record, which may hold old values).

use crate::plan::{FunctionConfig, Plan, SAVED};
use std::collections::BTreeSet;

/// `http://user:pass@host` → `http://***@host`.
pub fn mask(value: &str) -> String {
    match value.split_once("://") {
        Some((scheme, rest)) => match rest.split_once('@') {
            Some((_, host)) => format!("{scheme}://***@{host}"),
            None => value.to_string(),
        },
        None => value.to_string(),
    }
}

fn shown(key: &str, value: &str) -> String {
    if key == SAVED {
        "(record of the previous values)".into()
    } else {
        mask(value)
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
        assert_eq!(mask("http://u:secret@corp:3128"), "http://***@corp:3128");
        assert_eq!(mask("http://localhost:5034"), "http://localhost:5034");
        assert_eq!(mask("plain"), "plain");
    }
}
