//! Names of what faultline creates, derived from `--name` (default `faultline`) and the region.

use crate::plan::Arch;

pub fn secret(name: &str) -> String {
    format!("{name}-config")
}

pub fn layer(name: &str, arch: Arch) -> String {
    format!("{name}-{arch}")
}

/// Managed policies are global in IAM; the region suffix keeps one per region.
pub fn policy(name: &str, region: &str) -> String {
    format!("{name}-read-config-{region}")
}

pub fn policy_arn(account: &str, name: &str, region: &str) -> String {
    format!("arn:aws:iam::{account}:policy/{}", policy(name, region))
}

/// The layer ARN (no version) of `layer(name, arch)` in this account and region.
pub fn layer_arn(region: &str, account: &str, name: &str, arch: Arch) -> String {
    format!(
        "arn:aws:lambda:{region}:{account}:layer:{}",
        layer(name, arch)
    )
}

/// Tag set on enabled functions.
pub const MANAGED_TAG: &str = "faultline:managed";
