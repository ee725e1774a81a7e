//! The read policy: its document (written by `init`), and its attachment to functions'
//! execution roles (by `enable`; detached by `disable` only when no other enabled function uses
//! the role).

use crate::aws::Aws;
use crate::error::{DeployError, aws};
use crate::functions::rate_limit::RateLimit;
use serde_json::json;
use std::collections::HashSet;
use std::sync::Mutex;

/// Roles already known to carry the policy during one command, so that functions sharing a
/// role cost one IAM check, not one each.
#[derive(Default)]
pub struct AttachedRoles(Mutex<HashSet<String>>);

impl AttachedRoles {
    fn contains(&self, role: &str) -> bool {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(role)
    }

    fn insert(&self, role: &str) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(role.to_string());
    }
}

/// IAM's default quota of managed policies per role.
pub const MANAGED_POLICY_QUOTA: usize = 10;

/// Managed policies attached to `role`.
pub async fn attached(
    aws_: &Aws,
    limit: &RateLimit,
    role: &str,
) -> Result<Vec<String>, DeployError> {
    limit.acquire().await;
    let listed = aws_
        .iam
        .list_attached_role_policies()
        .role_name(role)
        .send()
        .await
        .map_err(|err| aws(format!("policies of role {role}"), err))?;
    Ok(listed
        .attached_policies()
        .iter()
        .filter_map(|p| p.policy_arn().map(str::to_string))
        .collect())
}

/// Attaches `policy_arn` to `role` unless it is there. Returns a warning when the role is near
/// its managed-policy quota.
pub async fn attach(
    aws_: &Aws,
    limit: &RateLimit,
    known: &AttachedRoles,
    role: &str,
    policy_arn: &str,
) -> Result<Option<String>, DeployError> {
    if known.contains(role) {
        return Ok(None);
    }
    let current = attached(aws_, limit, role).await?;
    if current.iter().any(|p| p == policy_arn) {
        known.insert(role);
        return Ok(None);
    }
    limit.acquire().await;
    aws_.iam
        .attach_role_policy()
        .role_name(role)
        .policy_arn(policy_arn)
        .send()
        .await
        .map_err(|err| aws(format!("attaching {policy_arn} to role {role}"), err))?;
    known.insert(role);
    let count = current.len() + 1;
    Ok((count + 1 >= MANAGED_POLICY_QUOTA).then(|| {
        format!("role {role} now has {count} managed policies (quota {MANAGED_POLICY_QUOTA})")
    }))
}

/// Detaches `policy_arn` from `role` if it is attached.
pub async fn detach(
    aws_: &Aws,
    limit: &RateLimit,
    role: &str,
    policy_arn: &str,
) -> Result<bool, DeployError> {
    if !attached(aws_, limit, role)
        .await?
        .iter()
        .any(|p| p == policy_arn)
    {
        return Ok(false);
    }
    limit.acquire().await;
    aws_.iam
        .detach_role_policy()
        .role_name(role)
        .policy_arn(policy_arn)
        .send()
        .await
        .map_err(|err| aws(format!("detaching {policy_arn} from role {role}"), err))?;
    Ok(true)
}

/// The alarms of the secret's partition, region and account: `arn:P:cloudwatch:R:A:alarm:*`.
pub fn region_alarms(secret_arn: &str) -> Option<String> {
    let mut parts = secret_arn.splitn(6, ':');
    let (Some("arn"), Some(partition), Some(_service), Some(region), Some(account)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    Some(format!(
        "arn:{partition}:cloudwatch:{region}:{account}:alarm:*"
    ))
}

/// The read policy: GetSecretValue on exactly this secret, DescribeAlarms on the region's alarms
/// (the experiments' stop conditions), and, when a customer key encrypts the secret, kms:Decrypt
/// on that key's ARN (`kms_key_arn`, resolved from whatever alias or id the secret names) used
/// through Secrets Manager in the secret's region only.
pub fn policy_document(secret_arn: &str, kms_key_arn: Option<&str>) -> serde_json::Value {
    let mut statements = vec![json!({
        "Sid": "ReadFaultlineConfig",
        "Effect": "Allow",
        "Action": "secretsmanager:GetSecretValue",
        "Resource": secret_arn,
    })];
    if let Some(alarms) = region_alarms(secret_arn) {
        statements.push(json!({
            "Sid": "ReadStopAlarms",
            "Effect": "Allow",
            "Action": "cloudwatch:DescribeAlarms",
            "Resource": alarms,
        }));
    }
    if let Some(key) = kms_key_arn.filter(|k| !k.is_empty()) {
        let region = secret_arn.split(':').nth(3).unwrap_or_default();
        statements.push(json!({
            "Sid": "DecryptFaultlineConfig",
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": key,
            "Condition": {
                "StringEquals": {"kms:ViaService": format!("secretsmanager.{region}.amazonaws.com")}
            },
        }));
    }
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// The ARN of the customer key that encrypts the secret (`kms_key` as DescribeSecret returns it:
/// an alias, a key id or an ARN), or `None` for Secrets Manager's AWS managed key, which needs no
/// statement.
pub async fn customer_key_arn(
    aws_: &Aws,
    kms_key: Option<&str>,
) -> Result<Option<String>, DeployError> {
    let Some(key) = kms_key.filter(|k| !k.is_empty()) else {
        return Ok(None);
    };
    if key.ends_with("alias/aws/secretsmanager") {
        return Ok(None);
    }
    let described = aws_
        .kms
        .describe_key()
        .key_id(key)
        .send()
        .await
        .map_err(|err| {
            aws(
                format!("resolving the secret's KMS key {key} (kms:DescribeKey)"),
                err,
            )
        })?;
    let metadata = described
        .key_metadata()
        .ok_or_else(|| DeployError::Failed(format!("kms:DescribeKey {key}: no key metadata")))?;
    if metadata.key_manager() == Some(&aws_sdk_kms::types::KeyManagerType::Aws) {
        return Ok(None);
    }
    Ok(Some(metadata.arn().unwrap_or(key).to_string()))
}
