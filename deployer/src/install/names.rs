//! Names of what faultline creates, derived from `--name` (default `faultline`) and the region.

use crate::plan::Arch;

/// `--name`: 1 to 40 letters, digits, `-` or `_`, as the Terraform setup module enforces (the
/// name goes into a secret, a policy and layer names, whose rules differ; this fits them all).
pub fn parse_name(text: &str) -> Result<String, String> {
    let ok = !text.is_empty()
        && text.len() <= 40
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(text.to_string())
    } else {
        Err(format!("{text:?}: use 1 to 40 letters, digits, '-' or '_'"))
    }
}

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

/// Where the credentials live: the partition (`aws`, `aws-cn`, `aws-us-gov`, ...) and the
/// account, both read from the caller identity's ARN, so no ARN assumes the commercial partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub partition: String,
    pub id: String,
}

impl Account {
    /// From `sts:GetCallerIdentity`: its `Arn` (`arn:PARTITION:iam::ACCOUNT:...`) and `Account`.
    pub fn from_identity(arn: &str, account: &str) -> Option<Account> {
        let mut parts = arn.splitn(3, ':');
        let (Some("arn"), Some(partition)) = (parts.next(), parts.next()) else {
            return None;
        };
        (!partition.is_empty() && !account.is_empty()).then(|| Account {
            partition: partition.to_string(),
            id: account.to_string(),
        })
    }
}

pub fn policy_arn(account: &Account, name: &str, region: &str) -> String {
    format!(
        "arn:{}:iam::{}:policy/{}",
        account.partition,
        account.id,
        policy(name, region)
    )
}

/// The layer ARN (no version) of `layer(name, arch)` in this account and region.
pub fn layer_arn(region: &str, account: &Account, name: &str, arch: Arch) -> String {
    format!(
        "arn:{}:lambda:{region}:{}:layer:{}",
        account.partition,
        account.id,
        layer(name, arch)
    )
}

/// Tag set on enabled functions.
pub const MANAGED_TAG: &str = "faultline:managed";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_follow_the_partition() {
        for (partition, region) in [
            ("aws", "eu-west-1"),
            ("aws-cn", "cn-north-1"),
            ("aws-us-gov", "us-gov-west-1"),
        ] {
            let account = Account::from_identity(
                &format!("arn:{partition}:iam::123456789012:user/ops"),
                "123456789012",
            )
            .expect("an identity");
            assert_eq!(account.partition, partition);
            assert_eq!(
                policy_arn(&account, "faultline", region),
                format!("arn:{partition}:iam::123456789012:policy/faultline-read-config-{region}")
            );
            assert_eq!(
                layer_arn(region, &account, "faultline", Arch::Arm64),
                format!("arn:{partition}:lambda:{region}:123456789012:layer:faultline-arm64")
            );
        }
        assert_eq!(Account::from_identity("not an arn", "1"), None);
    }

    #[test]
    fn names_are_checked_like_the_terraform_module_does() {
        assert!(parse_name("faultline").is_ok());
        assert!(parse_name("team_a-1").is_ok());
        for bad in ["", "my faultline", "a/b", &"x".repeat(41)] {
            assert!(parse_name(bad).is_err(), "{bad:?}");
        }
    }
}
