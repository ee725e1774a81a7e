//! The role that other accounts assume to read a config kept in this one (`init
//! --reader-accounts`): `<name>-config-reader`, trusted by exactly the accounts given, allowed
//! exactly the store's read statements. Functions there read the config with
//! GREMLIN_CONFIG_ARN_ROLE set to it (`enable --config-role`).

use super::names::Account;
use crate::aws::Aws;
use crate::error::{DeployError, aws};
use aws_sdk_iam::error::ProvideErrorMetadata as _;
use serde_json::{Value, json};

/// The role's name.
pub fn name(install: &str) -> String {
    format!("{install}-config-reader")
}

/// The inline policy's name on the role.
const POLICY: &str = "read-faultline-config";

/// `--config-arn`, trimmed: a config store faultline reads, or why not.
pub fn config_arn(arn: &str) -> Result<String, DeployError> {
    let arn = arn.trim();
    if faultline_schema::cost::Store::of_arn(arn).is_none() {
        return Err(DeployError::Input(format!(
            "--config-arn {arn:?}: not a config store ARN (a secret, an SSM parameter, an S3 \
             object or appconfig:APP/ENV/PROFILE)"
        )));
    }
    Ok(arn.to_string())
}

/// `--config-role`, trimmed: an IAM role ARN, or why not.
pub fn config_role(role: &str) -> Result<String, DeployError> {
    let role = role.trim();
    if !faultline_schema::wiring::is_role_arn(role) {
        return Err(DeployError::Input(format!(
            "--config-role {role:?}: not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)"
        )));
    }
    Ok(role.to_string())
}

/// Twelve digits each, or a clear error naming the bad one.
pub fn parse_accounts(accounts: &[String]) -> Result<Vec<String>, DeployError> {
    accounts
        .iter()
        .map(|a| a.trim().to_string())
        .map(|a| {
            if super::names::is_account_id(&a) {
                Ok(a)
            } else {
                Err(DeployError::Input(format!(
                    "--reader-accounts: {a:?} is not a 12-digit AWS account id"
                )))
            }
        })
        .collect()
}

/// The trust policy: the given accounts (their IAM decides which of their roles may assume it).
pub fn trust_policy(partition: &str, accounts: &[String]) -> Value {
    let principals: Vec<String> = accounts
        .iter()
        .map(|a| format!("arn:{partition}:iam::{a}:root"))
        .collect();
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "WorkloadAccountsReadTheConfig",
            "Effect": "Allow",
            "Principal": {"AWS": principals},
            "Action": "sts:AssumeRole",
        }],
    })
}

/// Creates the role, or brings an existing one's trust and policy to these; returns its ARN and
/// what was done.
pub async fn ensure(
    aws_: &Aws,
    account: &Account,
    install: &str,
    accounts: &[String],
    read_policy: &Value,
    dry_run: bool,
) -> Result<(String, &'static str), DeployError> {
    let role = name(install);
    let arn = format!("arn:{}:iam::{}:role/{role}", account.partition, account.id);
    let trust = trust_policy(&account.partition, accounts).to_string();
    let exists = match aws_.iam.get_role().role_name(&role).send().await {
        Ok(_) => true,
        Err(err) if err.code() == Some("NoSuchEntity") => false,
        Err(err) => return Err(aws(format!("reading role {role}"), err)),
    };
    if dry_run {
        return Ok((
            arn,
            if exists {
                "would be updated"
            } else {
                "would be created"
            },
        ));
    }
    if exists {
        aws_.iam
            .update_assume_role_policy()
            .role_name(&role)
            .policy_document(&trust)
            .send()
            .await
            .map_err(|err| aws(format!("updating the trust of role {role}"), err))?;
    } else {
        aws_.iam
            .create_role()
            .role_name(&role)
            .description("Assumed by faultline in other accounts to read its config")
            .assume_role_policy_document(&trust)
            .send()
            .await
            .map_err(|err| aws(format!("creating role {role}"), err))?;
    }
    aws_.iam
        .put_role_policy()
        .role_name(&role)
        .policy_name(POLICY)
        .policy_document(read_policy.to_string())
        .send()
        .await
        .map_err(|err| aws(format!("writing the policy of role {role}"), err))?;
    Ok((arn, if exists { "updated" } else { "created" }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_are_twelve_digits_and_become_principals() {
        let accounts =
            parse_accounts(&["111111111111".into(), " 222222222222 ".into()]).expect("valid");
        let trust = trust_policy("aws", &accounts);
        assert_eq!(
            trust["Statement"][0]["Principal"]["AWS"][1],
            "arn:aws:iam::222222222222:root"
        );
        assert!(parse_accounts(&["1234".into()]).is_err());
    }
}
