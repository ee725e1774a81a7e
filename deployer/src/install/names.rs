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

/// The config bucket's name prefix: bucket names are lowercase, without `_`, and global, so the
/// bucket is `<prefix><account>-<region>` ([`config_bucket`]).
pub fn config_bucket_prefix(name: &str) -> String {
    format!("{}-config-", name.to_ascii_lowercase().replace('_', "-"))
}

/// The config bucket of `--store s3`: unique per account and Region. Bucket names have at most
/// 63 characters: a long `--name` in a long Region name does not fit, and is refused.
pub fn config_bucket(name: &str, account: &Account, region: &str) -> Result<String, String> {
    let bucket = format!("{}{}-{region}", config_bucket_prefix(name), account.id);
    if bucket.len() > 63 {
        return Err(format!(
            "the config bucket name {bucket} is longer than S3's 63 characters: use a --name \
             of at most {} characters with --store s3 in {region}",
            name.len().saturating_sub(bucket.len() - 63)
        ));
    }
    Ok(bucket)
}

/// A 12-digit AWS account id.
pub fn is_account_id(text: &str) -> bool {
    text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit())
}

/// A Region name: lowercase words and a number last, joined by `-` (`us-east-1`,
/// `eu-central-2`, `us-gov-west-1`).
pub fn is_region(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    parts.len() >= 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
        && parts
            .last()
            .is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()))
}

/// The AppConfig application of `--store appconfig` (applications are per Region).
pub fn appconfig_application(name: &str) -> String {
    name.to_string()
}

/// The AppConfig environment the functions read.
pub const APPCONFIG_ENVIRONMENT: &str = "rehearsals";

/// The AppConfig configuration profile holding the config.
pub const APPCONFIG_PROFILE: &str = "faultline";

/// The AppConfig deployment strategy that deploys at once.
pub fn appconfig_strategy(name: &str) -> String {
    format!("{name}-immediate")
}

/// The config object's key in the bucket.
pub const CONFIG_KEY: &str = "faultline.yaml";

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
    fn config_buckets_are_valid_bucket_names_or_refused() {
        let account = Account::from_identity("arn:aws:iam::123456789012:user/ops", "123456789012")
            .expect("an identity");
        assert_eq!(
            config_bucket("Team_A", &account, "eu-west-1"),
            Ok("team-a-config-123456789012-eu-west-1".into())
        );
        let long = "x".repeat(40);
        let refused = config_bucket(&long, &account, "ap-southeast-5").expect_err("too long");
        assert!(refused.contains("at most 28 characters"), "{refused}");
        assert!(config_bucket(&"x".repeat(28), &account, "ap-southeast-5").is_ok());
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
