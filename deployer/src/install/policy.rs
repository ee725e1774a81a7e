//! The read policy in IAM: created or updated by `init` (its document is
//! [`super::read_policy`]), and its attachment to functions'
//! execution roles (by `enable`; detached by `disable` only when no other enabled function uses
//! the role).

use crate::aws::Aws;
use crate::error::{DeployError, aws};
use crate::functions::rate_limit::RateLimit;
use percent_encoding::percent_decode_str;
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

/// Creates the read policy, or gives it a new default version when its document differs (IAM
/// keeps five: the oldest other one is dropped first).
pub async fn ensure(
    aws_: &Aws,
    policy_arn: &str,
    policy_name: &str,
    document: &serde_json::Value,
    dry_run: bool,
) -> Result<&'static str, DeployError> {
    let text = document.to_string();
    let context = format!("policy {policy_name}");
    match aws_.iam.get_policy().policy_arn(policy_arn).send().await {
        Ok(found) => {
            let default_version = found
                .policy
                .and_then(|p| p.default_version_id)
                .unwrap_or_default();
            let version = aws_
                .iam
                .get_policy_version()
                .policy_arn(policy_arn)
                .version_id(&default_version)
                .send()
                .await
                .map_err(|err| aws(format!("reading {context}"), err))?;
            let current = version
                .policy_version
                .and_then(|v| v.document)
                // IAM returns policy documents URL-encoded.
                .map(|d| percent_decode_str(&d).decode_utf8_lossy().into_owned())
                .and_then(|d| serde_json::from_str::<serde_json::Value>(&d).ok());
            if current.as_ref() == Some(document) {
                return Ok("unchanged");
            }
            if dry_run {
                return Ok("would be updated");
            }
            // IAM keeps five versions: drop the oldest non-default one first.
            let versions = aws_
                .iam
                .list_policy_versions()
                .policy_arn(policy_arn)
                .send()
                .await
                .map_err(|err| aws(format!("listing versions of {context}"), err))?;
            let versions = versions.versions.unwrap_or_default();
            if versions.len() >= 5
                && let Some(oldest) = versions
                    .iter()
                    .filter(|v| !v.is_default_version)
                    .filter_map(|v| v.version_id.clone())
                    // Version ids are v1, v2, ...: the lowest number is the oldest.
                    .min_by_key(|id| id.trim_start_matches('v').parse::<u64>().unwrap_or(0))
            {
                aws_.iam
                    .delete_policy_version()
                    .policy_arn(policy_arn)
                    .version_id(oldest)
                    .send()
                    .await
                    .map_err(|err| aws(format!("pruning {context}"), err))?;
            }
            aws_.iam
                .create_policy_version()
                .policy_arn(policy_arn)
                .policy_document(text)
                .set_as_default(true)
                .send()
                .await
                .map_err(|err| aws(format!("updating {context}"), err))?;
            Ok("updated")
        }
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_no_such_entity_exception()) =>
        {
            if dry_run {
                return Ok("would be created");
            }
            aws_.iam
                .create_policy()
                .policy_name(policy_name)
                .description("Lets faultline read its config secret")
                .policy_document(text)
                .send()
                .await
                .map_err(|err| aws(format!("creating {context}"), err))?;
            Ok("created")
        }
        Err(err) => Err(aws(format!("reading {context}"), err)),
    }
}
