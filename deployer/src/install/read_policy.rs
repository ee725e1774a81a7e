//! The read policy that every function with faultline needs: its one definition, written out
//! three ways, as `deployer init` creates it (concrete ARNs), as the CloudFormation setup template
//! declares it (intrinsic functions) and as the Terraform setup module does (HCL references).
//! A change here changes all three; the IaC tests compare what each deploys.

use serde_json::{Value, json};

/// A value in the policy that each writer spells its own way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Term {
    /// The config secret's ARN.
    SecretArn,
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
}

/// The read policy: GetSecretValue on exactly the config secret, DescribeAlarms on the region's
/// alarms (the experiments' stop conditions), and, when a customer key encrypts the secret,
/// kms:Decrypt on that key used through Secrets Manager in the secret's region only.
const STATEMENTS: [Statement; 3] = [
    Statement {
        sid: "ReadFaultlineConfig",
        action: "secretsmanager:GetSecretValue",
        resource: Term::SecretArn,
        condition: None,
        with_key_only: false,
    },
    Statement {
        sid: "ReadStopAlarms",
        action: "cloudwatch:DescribeAlarms",
        resource: Term::RegionAlarms,
        condition: None,
        with_key_only: false,
    },
    Statement {
        sid: "DecryptFaultlineConfig",
        action: "kms:Decrypt",
        resource: Term::KmsKey,
        condition: Some(("kms:ViaService", Term::SecretsManagerService)),
        with_key_only: true,
    },
];

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

/// The policy document `init` writes for this secret and (customer managed) key.
pub fn document(secret_arn: &str, kms_key_arn: Option<&str>) -> Value {
    let key = kms_key_arn.filter(|k| !k.is_empty());
    let parts = arn_parts(secret_arn);
    let concrete = |term: Term| -> Option<String> {
        match term {
            Term::SecretArn => Some(secret_arn.to_string()),
            Term::RegionAlarms => parts.as_ref().map(|p| {
                format!(
                    "arn:{}:cloudwatch:{}:{}:alarm:*",
                    p.partition, p.region, p.account
                )
            }),
            Term::KmsKey => key.map(str::to_string),
            Term::SecretsManagerService => parts
                .as_ref()
                .map(|p| format!("secretsmanager.{}.{}", p.region, dns_suffix(p.partition))),
        }
    };
    let statements: Vec<Value> = STATEMENTS
        .iter()
        .filter(|s| key.is_some() || !s.with_key_only)
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

/// How the CloudFormation setup template spells a term.
fn cfn(term: Term) -> &'static str {
    match term {
        Term::SecretArn => "!If [CreateSecret, !Ref ConfigSecret, !Ref ExistingSecretArn]",
        Term::RegionAlarms => {
            "!Sub \"arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:*\""
        }
        Term::KmsKey => "!Ref KmsKeyArn",
        Term::SecretsManagerService => "!Sub \"secretsmanager.${AWS::Region}.${AWS::URLSuffix}\"",
    }
}

/// How the Terraform setup module spells a term.
fn hcl(term: Term) -> &'static str {
    match term {
        Term::SecretArn => "aws_secretsmanager_secret.config.arn",
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

/// The statements for the templates: `always` (every install) and `with_key` (a customer
/// managed key), each with its CloudFormation and HCL spellings.
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
    let part = |with_key: bool| -> Vec<Value> {
        STATEMENTS
            .iter()
            .filter(|s| s.with_key_only == with_key)
            .map(statement)
            .collect()
    };
    json!({"always": part(false), "with_key": part(true)})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_names_exactly_the_secret() {
        let arn = "arn:aws:secretsmanager:eu-west-1:123:secret:faultline-config-AbCdEf";
        let doc = document(arn, None);
        assert_eq!(doc["Statement"].as_array().map(Vec::len), Some(2));
        assert_eq!(doc["Statement"][0]["Resource"], arn);
        assert_eq!(doc["Statement"][1]["Action"], "cloudwatch:DescribeAlarms");
        assert_eq!(
            doc["Statement"][1]["Resource"],
            "arn:aws:cloudwatch:eu-west-1:123:alarm:*"
        );
        let with_key = document(arn, Some("arn:aws:kms:eu-west-1:123:key/k1"));
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
    fn the_templates_get_every_statement_once() {
        let context = template_context();
        let sids: Vec<&str> = ["always", "with_key"]
            .iter()
            .flat_map(|k| context[k].as_array().into_iter().flatten())
            .filter_map(|s| s["sid"].as_str())
            .collect();
        assert_eq!(
            sids,
            [
                "ReadFaultlineConfig",
                "ReadStopAlarms",
                "DecryptFaultlineConfig"
            ]
        );
        assert_eq!(context["with_key"][0]["condition_key"], "kms:ViaService");
    }
}
