//! The read policy that every function with faultline needs: its one definition, written out
//! three ways, as `deployer init` creates it (concrete ARNs), as the CloudFormation setup template
//! declares it (intrinsic functions) and as the Terraform setup module does (HCL references).
//! A change here changes all three; the IaC tests compare what each deploys.

use super::store::StoreKind;
use serde_json::{Value, json};

/// A value in the policy that each writer spells its own way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Term {
    /// The config secret's ARN.
    SecretArn,
    /// The config object's ARN (`--store s3`).
    ConfigObjectArn,
    /// The config object's bucket's ARN.
    ConfigBucketArn,
    /// The AppConfig configuration (`--store appconfig`): application, environment and
    /// profile, by id.
    AppConfigConfiguration,
    /// The role in the config's account that reads the config (`--config-role`).
    ConfigRole,
    /// Every CloudWatch alarm of the secret's partition, region and account.
    RegionAlarms,
    /// The customer managed key that encrypts the secret.
    KmsKey,
    /// Secrets Manager's endpoint in the secret's region, as `kms:ViaService` names it.
    SecretsManagerService,
}

/// One statement of the read policy.
struct Statement {
    sid: &'static str,
    action: &'static str,
    resource: Term,
    /// `StringEquals` conditions: key → value.
    condition: Option<(&'static str, Term)>,
    /// Only when a customer managed key encrypts the secret.
    with_key_only: bool,
    /// Only for this store (None: every store).
    store: Option<StoreKind>,
    /// Only when the config is read through a role in its account (true), only when it is read
    /// directly (false), or either way (None).
    via_role: Option<bool>,
}

/// The read policy: GetSecretValue on exactly the config secret (or GetObject on exactly the
/// config object), DescribeAlarms on the region's alarms (the experiments' stop conditions),
/// and, when a customer key encrypts the secret, kms:Decrypt on that key used through Secrets
/// Manager in the secret's region only. A config kept in another account is read through a
/// role there: then sts:AssumeRole on exactly that role replaces the store's statements (the
/// role's own policy reads the store, [`store_statements`]).
const STATEMENTS: [Statement; 8] = [
    Statement {
        sid: "ReadFaultlineConfig",
        action: "secretsmanager:GetSecretValue",
        resource: Term::SecretArn,
        condition: None,
        with_key_only: false,
        store: Some(StoreKind::Secretsmanager),
        via_role: Some(false),
    },
    Statement {
        sid: "ReadFaultlineConfigObject",
        action: "s3:GetObject",
        resource: Term::ConfigObjectArn,
        condition: None,
        with_key_only: false,
        store: Some(StoreKind::S3),
        via_role: Some(false),
    },
    // Without s3:ListBucket, S3 answers a missing object with 403 AccessDenied, not 404
    // NoSuchKey, and the extension could not tell "no experiments yet" from "not allowed". The
    // bucket is faultline's own: listing it shows the config's key, nothing else.
    Statement {
        sid: "FindFaultlineConfigObject",
        action: "s3:ListBucket",
        resource: Term::ConfigBucketArn,
        condition: None,
        with_key_only: false,
        store: Some(StoreKind::S3),
        via_role: Some(false),
    },
    // The data plane's two calls, on exactly the configuration.
    Statement {
        sid: "StartFaultlineConfigSession",
        action: "appconfig:StartConfigurationSession",
        resource: Term::AppConfigConfiguration,
        condition: None,
        with_key_only: false,
        store: Some(StoreKind::Appconfig),
        via_role: Some(false),
    },
    Statement {
        sid: "ReadFaultlineConfigDeployment",
        action: "appconfig:GetLatestConfiguration",
        resource: Term::AppConfigConfiguration,
        condition: None,
        with_key_only: false,
        store: Some(StoreKind::Appconfig),
        via_role: Some(false),
    },
    Statement {
        sid: "ReadStopAlarms",
        action: "cloudwatch:DescribeAlarms",
        resource: Term::RegionAlarms,
        condition: None,
        with_key_only: false,
        store: None,
        via_role: None,
    },
    Statement {
        sid: "DecryptFaultlineConfig",
        action: "kms:Decrypt",
        resource: Term::KmsKey,
        condition: Some(("kms:ViaService", Term::SecretsManagerService)),
        with_key_only: true,
        store: Some(StoreKind::Secretsmanager),
        via_role: Some(false),
    },
    Statement {
        sid: "AssumeConfigRole",
        action: "sts:AssumeRole",
        resource: Term::ConfigRole,
        condition: None,
        with_key_only: false,
        store: None,
        via_role: Some(true),
    },
];

/// The statements of one policy, in order: for `store`, read directly or through a role, with or
/// without a customer managed key.
fn selected(
    store: StoreKind,
    via_role: bool,
    key: bool,
) -> impl Iterator<Item = &'static Statement> {
    STATEMENTS
        .iter()
        .filter(move |s| s.store.is_none_or(|only| only == store))
        .filter(move |s| s.via_role.is_none_or(|via| via == via_role))
        .filter(move |s| key || !s.with_key_only)
}

/// The partition, Region and account of the install: where an S3 config's alarms are (S3 ARNs
/// name neither Region nor account).
#[derive(Debug, Clone, Copy)]
pub struct ArnHome<'a> {
    pub partition: &'a str,
    pub region: &'a str,
    pub account: &'a str,
}

/// The parts of an ARN (`arn:PARTITION:SERVICE:REGION:ACCOUNT:...`) the policy needs.
struct ArnParts<'a> {
    partition: &'a str,
    region: &'a str,
    account: &'a str,
}

fn arn_parts(arn: &str) -> Option<ArnParts<'_>> {
    let mut parts = arn.splitn(6, ':');
    match (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) {
        (Some("arn"), Some(partition), Some(_service), Some(region), Some(account)) => {
            Some(ArnParts {
                partition,
                region,
                account,
            })
        }
        _ => None,
    }
}

/// The DNS suffix of a partition's service endpoints.
fn dns_suffix(partition: &str) -> &'static str {
    match partition {
        "aws-cn" => "amazonaws.com.cn",
        _ => "amazonaws.com",
    }
}

/// The policy document `init` writes for this config store (a secret's or an S3 object's ARN),
/// (customer managed) key, and role in the config's account when the config is read through
/// one; the stop alarms are those of `home`, the functions' account and Region.
pub fn document(
    config_arn: &str,
    kms_key_arn: Option<&str>,
    home: ArnHome<'_>,
    role: Option<&str>,
) -> Value {
    let key = kms_key_arn.filter(|k| !k.is_empty());
    let store = if config_arn.starts_with("appconfig:") {
        StoreKind::Appconfig
    } else if config_arn.split(':').nth(2) == Some("s3") {
        StoreKind::S3
    } else {
        StoreKind::Secretsmanager
    };
    let parts = arn_parts(config_arn)
        .filter(|p| !p.region.is_empty() && !p.account.is_empty())
        .unwrap_or(ArnParts {
            partition: home.partition,
            region: home.region,
            account: home.account,
        });
    let concrete = |term: Term| -> Option<String> {
        match term {
            Term::SecretArn | Term::ConfigObjectArn => Some(config_arn.to_string()),
            // `appconfig:APP/ENV/PROFILE` by id, in the functions' account and Region (the
            // data plane reads the Region's configuration).
            Term::AppConfigConfiguration => {
                let path = config_arn.strip_prefix("appconfig:")?;
                let mut ids = path.split('/');
                let (app, env, profile) = (ids.next()?, ids.next()?, ids.next()?);
                Some(format!(
                    "arn:{}:appconfig:{}:{}:application/{app}/environment/{env}/configuration/{profile}",
                    home.partition, home.region, home.account
                ))
            }
            Term::ConfigBucketArn => config_arn.rsplit_once(':').and_then(|(head, resource)| {
                let (bucket, _) = resource.split_once('/')?;
                Some(format!("{head}:{bucket}"))
            }),
            Term::ConfigRole => role.map(str::to_string),
            // Stop alarms are read with the function's own credentials, in its own Region.
            Term::RegionAlarms => Some(format!(
                "arn:{}:cloudwatch:{}:{}:alarm:*",
                home.partition, home.region, home.account
            )),
            Term::KmsKey => key.map(str::to_string),
            Term::SecretsManagerService => Some(format!(
                "secretsmanager.{}.{}",
                parts.region,
                dns_suffix(parts.partition)
            )),
        }
    };
    let statements: Vec<Value> = selected(store, role.is_some(), key.is_some())
        .filter_map(|s| {
            let mut statement = json!({
                "Sid": s.sid,
                "Effect": "Allow",
                "Action": s.action,
                "Resource": concrete(s.resource)?,
            });
            if let Some((condition, term)) = s.condition {
                statement["Condition"] = json!({"StringEquals": {condition: concrete(term)?}});
            }
            Some(statement)
        })
        .collect();
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// The statements that read the store itself (no alarms, no role): the policy of the role that
/// other accounts assume to read a config kept here.
pub fn store_statements(config_arn: &str, kms_key_arn: Option<&str>, home: ArnHome<'_>) -> Value {
    let mut doc = document(config_arn, kms_key_arn, home, None);
    if let Some(statements) = doc["Statement"].as_array_mut() {
        statements.retain(|s| s["Sid"] != "ReadStopAlarms");
    }
    doc
}

/// How the CloudFormation setup template spells a term.
fn cfn(term: Term) -> &'static str {
    match term {
        Term::SecretArn => "!If [HasExistingSecret, !Ref ExistingSecretArn, !Ref ConfigSecret]",
        Term::ConfigObjectArn => {
            "!Sub \"arn:${AWS::Partition}:s3:::${ConfigBucket}/faultline.yaml\""
        }
        Term::ConfigBucketArn => "!GetAtt ConfigBucket.Arn",
        Term::AppConfigConfiguration => {
            "!Sub \"arn:${AWS::Partition}:appconfig:${AWS::Region}:${AWS::AccountId}:application/${ConfigApplication}/environment/${ConfigEnvironment}/configuration/${ConfigProfile}\""
        }
        Term::RegionAlarms => {
            "!Sub \"arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:*\""
        }
        Term::KmsKey => "!Ref KmsKeyArn",
        Term::ConfigRole => "!Ref ConfigRoleArn",
        Term::SecretsManagerService => "!Sub \"secretsmanager.${AWS::Region}.${AWS::URLSuffix}\"",
    }
}

/// How the Terraform setup module spells a term.
fn hcl(term: Term) -> &'static str {
    match term {
        Term::SecretArn => "local.secret_arn",
        Term::ConfigObjectArn => "local.config_object_arn",
        Term::ConfigBucketArn => "local.config_bucket_arn",
        Term::AppConfigConfiguration => "local.appconfig_configuration_arn",
        Term::ConfigRole => "var.config_role_arn",
        Term::RegionAlarms => {
            "\"arn:${data.aws_partition.current.partition}:cloudwatch:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:alarm:*\""
        }
        Term::KmsKey => "var.kms_key_id",
        Term::SecretsManagerService => {
            "\"secretsmanager.${data.aws_region.current.name}.${data.aws_partition.current.dns_suffix}\""
        }
    }
}

/// A statement's attributes in HCL, one line each, the `=` signs aligned as `terraform fmt`
/// aligns them.
fn hcl_attributes(s: &Statement) -> Vec<String> {
    let quoted = |text: &str| format!("\"{text}\"");
    let mut pairs = vec![
        ("Sid", quoted(s.sid)),
        ("Effect", quoted("Allow")),
        ("Action", quoted(s.action)),
        ("Resource", hcl(s.resource).to_string()),
    ];
    if let Some((key, term)) = s.condition {
        pairs.push((
            "Condition",
            format!("{{ StringEquals = {{ \"{key}\" = {} }} }}", hcl(term)),
        ));
    }
    let width = pairs.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    pairs
        .into_iter()
        .map(|(key, value)| format!("{key:width$} = {value}"))
        .collect()
}

/// The statements for the templates, each with its CloudFormation and HCL spellings, by the
/// policy they make: `function` (the read policy) and `reader` (the role other accounts assume:
/// no alarms) for each store (`secretsmanager`, `secretsmanager_key` with a customer managed
/// key, `s3`, `appconfig`), and `via_role` (a config read through a role in another account).
pub fn template_context() -> Value {
    let statement = |s: &Statement| {
        json!({
            "sid": s.sid,
            "action": s.action,
            "cfn_resource": cfn(s.resource),
            "condition_key": s.condition.map(|(key, _)| key),
            "cfn_condition": s.condition.map(|(_, term)| cfn(term)),
            "hcl_attributes": hcl_attributes(s),
        })
    };
    let policy = |store: StoreKind, via_role: bool, key: bool| -> Value {
        let function: Vec<Value> = selected(store, via_role, key).map(statement).collect();
        let reader: Vec<Value> = selected(store, via_role, key)
            .filter(|s| s.resource != Term::RegionAlarms)
            .map(statement)
            .collect();
        json!({"function": function, "reader": reader})
    };
    json!({
        "secretsmanager": policy(StoreKind::Secretsmanager, false, false),
        "secretsmanager_key": policy(StoreKind::Secretsmanager, false, true),
        "s3": policy(StoreKind::S3, false, false),
        "appconfig": policy(StoreKind::Appconfig, false, false),
        "via_role": policy(StoreKind::S3, true, false),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_names_exactly_the_secret() {
        let arn = "arn:aws:secretsmanager:eu-west-1:123:secret:faultline-config-AbCdEf";
        let home = ArnHome {
            partition: "aws",
            region: "eu-west-1",
            account: "123",
        };
        let doc = document(arn, None, home, None);
        assert_eq!(doc["Statement"].as_array().map(Vec::len), Some(2));
        assert_eq!(doc["Statement"][0]["Resource"], arn);
        assert_eq!(doc["Statement"][1]["Action"], "cloudwatch:DescribeAlarms");
        assert_eq!(
            doc["Statement"][1]["Resource"],
            "arn:aws:cloudwatch:eu-west-1:123:alarm:*"
        );
        let with_key = document(arn, Some("arn:aws:kms:eu-west-1:123:key/k1"), home, None);
        assert_eq!(with_key["Statement"][2]["Action"], "kms:Decrypt");
        assert_eq!(
            with_key["Statement"][2]["Resource"],
            "arn:aws:kms:eu-west-1:123:key/k1"
        );
        assert_eq!(
            with_key["Statement"][2]["Condition"]["StringEquals"]["kms:ViaService"],
            "secretsmanager.eu-west-1.amazonaws.com"
        );
        let china = document(
            "arn:aws-cn:secretsmanager:cn-north-1:123:secret:faultline-config-AbCdEf",
            Some("arn:aws-cn:kms:cn-north-1:123:key/k1"),
            ArnHome {
                partition: "aws-cn",
                region: "cn-north-1",
                account: "123",
            },
            None,
        );
        assert_eq!(
            china["Statement"][1]["Resource"],
            "arn:aws-cn:cloudwatch:cn-north-1:123:alarm:*"
        );
        assert_eq!(
            china["Statement"][2]["Condition"]["StringEquals"]["kms:ViaService"],
            "secretsmanager.cn-north-1.amazonaws.com.cn"
        );
    }

    #[test]
    fn an_s3_store_reads_exactly_its_object_and_lists_only_its_bucket() {
        let home = ArnHome {
            partition: "aws",
            region: "eu-west-1",
            account: "123",
        };
        let doc = document(
            "arn:aws:s3:::faultline-config-123-eu-west-1/faultline.yaml",
            Some("arn:aws:kms:eu-west-1:123:key/ignored"),
            home,
            None,
        );
        let statements = doc["Statement"].as_array().cloned().unwrap_or_default();
        assert_eq!(statements.len(), 3, "{doc}");
        assert_eq!(statements[0]["Action"], "s3:GetObject");
        assert_eq!(
            statements[0]["Resource"],
            "arn:aws:s3:::faultline-config-123-eu-west-1/faultline.yaml"
        );
        // A missing object must read as 404, not 403: listing the bucket, only it.
        assert_eq!(statements[1]["Action"], "s3:ListBucket");
        assert_eq!(
            statements[1]["Resource"],
            "arn:aws:s3:::faultline-config-123-eu-west-1"
        );
        assert_eq!(
            statements[2]["Resource"],
            "arn:aws:cloudwatch:eu-west-1:123:alarm:*"
        );
    }

    #[test]
    fn an_appconfig_store_is_read_through_the_data_plane_on_exactly_its_configuration() {
        let home = ArnHome {
            partition: "aws",
            region: "eu-west-1",
            account: "123",
        };
        let doc = document("appconfig:abc1234/def5678/ghi9012", None, home, None);
        let statements = doc["Statement"].as_array().cloned().unwrap_or_default();
        let actions: Vec<&str> = statements
            .iter()
            .filter_map(|s| s["Action"].as_str())
            .collect();
        assert_eq!(
            actions,
            [
                "appconfig:StartConfigurationSession",
                "appconfig:GetLatestConfiguration",
                "cloudwatch:DescribeAlarms"
            ]
        );
        let configuration = "arn:aws:appconfig:eu-west-1:123:application/abc1234/environment/def5678/configuration/ghi9012";
        assert_eq!(statements[0]["Resource"], configuration);
        assert_eq!(statements[1]["Resource"], configuration);
    }

    #[test]
    fn a_config_in_another_account_is_read_through_its_role_only() {
        let home = ArnHome {
            partition: "aws",
            region: "eu-west-1",
            account: "111111111111",
        };
        let central = "arn:aws:s3:::faultline-config-222222222222-eu-west-1/faultline.yaml";
        let role = "arn:aws:iam::222222222222:role/faultline-config-reader";
        let doc = document(central, None, home, Some(role));
        let sids: Vec<&str> = doc["Statement"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s["Sid"].as_str())
            .collect();
        assert_eq!(sids, ["ReadStopAlarms", "AssumeConfigRole"]);
        assert_eq!(doc["Statement"][1]["Resource"], role);
        assert_eq!(
            doc["Statement"][0]["Resource"],
            "arn:aws:cloudwatch:eu-west-1:111111111111:alarm:*"
        );
        let reader = store_statements(central, None, home);
        assert_eq!(reader["Statement"].as_array().map(Vec::len), Some(2));
        assert_eq!(reader["Statement"][0]["Action"], "s3:GetObject");
        assert_eq!(reader["Statement"][1]["Action"], "s3:ListBucket");
    }

    #[test]
    fn the_templates_get_each_policy_as_init_writes_it() {
        let context = template_context();
        let sids = |policy: &str, part: &str| -> Vec<String> {
            context[policy][part]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|s| s["sid"].as_str().map(str::to_string))
                .collect()
        };
        assert_eq!(
            sids("secretsmanager", "function"),
            ["ReadFaultlineConfig", "ReadStopAlarms"]
        );
        assert_eq!(
            sids("secretsmanager_key", "function"),
            [
                "ReadFaultlineConfig",
                "ReadStopAlarms",
                "DecryptFaultlineConfig"
            ]
        );
        assert_eq!(
            sids("secretsmanager_key", "reader"),
            ["ReadFaultlineConfig", "DecryptFaultlineConfig"]
        );
        assert_eq!(
            sids("s3", "function"),
            [
                "ReadFaultlineConfigObject",
                "FindFaultlineConfigObject",
                "ReadStopAlarms"
            ]
        );
        assert_eq!(
            sids("appconfig", "reader"),
            [
                "StartFaultlineConfigSession",
                "ReadFaultlineConfigDeployment"
            ]
        );
        assert_eq!(
            sids("via_role", "function"),
            ["ReadStopAlarms", "AssumeConfigRole"]
        );
        assert_eq!(
            context["secretsmanager_key"]["function"][2]["condition_key"],
            "kms:ViaService"
        );
    }
}
