//! What the deployer itself may do in AWS, command by command: the one source of the policy that
//! `deployer iam-policy` prints, `iam/deployer-policy.json` commits and the README tabulates.
//!
//! Every action the deployer calls is listed under the commands that call it, on the narrowest
//! resource IAM lets it be scoped to: the config secret, the read policy and the layers by their
//! `--name`, functions and roles by type (which ones is the user's choice at run time), and the
//! role attachments conditioned on `iam:PolicyARN` being faultline's read policy.
//! `sts:GetCallerIdentity` is not listed: AWS answers it without any permission.

use crate::install::names;
use crate::install::store::StoreKind;
use serde_json::{Value, json};

/// A command that calls AWS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum CommandName {
    Init,
    Enable,
    Disable,
    Status,
    Experiment,
    Render,
    Report,
    Stackset,
}

impl CommandName {
    pub const ALL: [CommandName; 8] = [
        CommandName::Init,
        CommandName::Enable,
        CommandName::Disable,
        CommandName::Status,
        CommandName::Experiment,
        CommandName::Render,
        CommandName::Report,
        CommandName::Stackset,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CommandName::Init => "init",
            CommandName::Enable => "enable",
            CommandName::Disable => "disable",
            CommandName::Status => "status",
            CommandName::Experiment => "experiment",
            CommandName::Render => "render",
            CommandName::Report => "report",
            CommandName::Stackset => "stackset",
        }
    }
}

use CommandName::{Disable, Enable, Experiment, Init, Render, Report, Stackset, Status};

/// One statement: actions (each with the commands that call it) on one resource pattern.
struct Grant {
    sid: &'static str,
    actions: &'static [(&'static str, &'static [CommandName])],
    /// `{p}` is the partition, `{name}` the `--name`, `{secret}` the config secret's name,
    /// `{bucket}` the config bucket's name prefix (`--store s3`) and
    /// `{policy}` the read policy's name in any region (both from `install::names`).
    resource: &'static str,
    /// Only when the policy being attached or detached is faultline's read policy.
    only_the_read_policy: bool,
    /// Only for this config store (None: whatever the store).
    store: Option<StoreKind>,
}

/// faultline's read policy, in any account and region (`names::policy_arn`).
const READ_POLICY: &str = "arn:{p}:iam::*:policy/{policy}";

const GRANTS: &[Grant] = &[
    Grant {
        sid: "ConfigSecret",
        actions: &[
            ("secretsmanager:CreateSecret", &[Init]),
            (
                "secretsmanager:DescribeSecret",
                &[Init, Enable, Status, Experiment, Render, Report],
            ),
            (
                "secretsmanager:GetSecretValue",
                &[Init, Status, Experiment, Report],
            ),
            ("secretsmanager:PutSecretValue", &[Init, Experiment]),
            (
                "secretsmanager:UpdateSecretVersionStage",
                &[Init, Experiment],
            ),
        ],
        resource: "arn:{p}:secretsmanager:*:*:secret:{secret}-*",
        only_the_read_policy: false,
        store: Some(StoreKind::Secretsmanager),
    },
    Grant {
        sid: "ConfigBucket",
        actions: &[
            ("s3:CreateBucket", &[Init]),
            (
                "s3:ListBucket",
                &[Init, Enable, Status, Experiment, Render, Report],
            ),
            ("s3:PutBucketPublicAccessBlock", &[Init]),
            ("s3:PutBucketVersioning", &[Init]),
            ("s3:PutEncryptionConfiguration", &[Init]),
        ],
        resource: "arn:{p}:s3:::{bucket}*",
        only_the_read_policy: false,
        store: Some(StoreKind::S3),
    },
    Grant {
        sid: "ConfigObject",
        actions: &[
            (
                "s3:GetObject",
                &[Init, Enable, Status, Experiment, Render, Report],
            ),
            ("s3:PutObject", &[Init, Experiment]),
        ],
        resource: "arn:{p}:s3:::{bucket}*/faultline.yaml",
        only_the_read_policy: false,
        store: Some(StoreKind::S3),
    },
    Grant {
        sid: "ConfigAppConfigListings",
        actions: &[
            (
                "appconfig:ListApplications",
                &[Init, Enable, Status, Experiment, Render, Report],
            ),
            ("appconfig:ListDeploymentStrategies", &[Init, Experiment]),
        ],
        resource: "*",
        only_the_read_policy: false,
        store: Some(StoreKind::Appconfig),
    },
    Grant {
        sid: "ConfigAppConfig",
        actions: &[
            ("appconfig:CreateApplication", &[Init]),
            ("appconfig:CreateEnvironment", &[Init]),
            ("appconfig:CreateConfigurationProfile", &[Init]),
            (
                "appconfig:ListEnvironments",
                &[Init, Enable, Status, Experiment, Render, Report],
            ),
            (
                "appconfig:ListConfigurationProfiles",
                &[Init, Enable, Status, Experiment, Render, Report],
            ),
            (
                "appconfig:ListHostedConfigurationVersions",
                &[Init, Status, Experiment, Report],
            ),
            (
                "appconfig:GetHostedConfigurationVersion",
                &[Init, Status, Experiment, Report],
            ),
            (
                "appconfig:CreateHostedConfigurationVersion",
                &[Init, Experiment],
            ),
            ("appconfig:StartDeployment", &[Init, Experiment]),
        ],
        // AppConfig names its resources by generated ids: applications (and their
        // environments, profiles and versions) of any id.
        resource: "arn:{p}:appconfig:*:*:application/*",
        only_the_read_policy: false,
        store: Some(StoreKind::Appconfig),
    },
    Grant {
        sid: "ConfigAppConfigStrategy",
        actions: &[
            ("appconfig:CreateDeploymentStrategy", &[Init]),
            ("appconfig:StartDeployment", &[Init, Experiment]),
        ],
        resource: "arn:{p}:appconfig:*:*:deploymentstrategy/*",
        only_the_read_policy: false,
        store: Some(StoreKind::Appconfig),
    },
    Grant {
        sid: "ReadPolicy",
        actions: &[
            ("iam:CreatePolicy", &[Init]),
            ("iam:CreatePolicyVersion", &[Init]),
            ("iam:DeletePolicyVersion", &[Init]),
            ("iam:GetPolicy", &[Init]),
            ("iam:GetPolicyVersion", &[Init]),
            ("iam:ListPolicyVersions", &[Init]),
        ],
        resource: READ_POLICY,
        only_the_read_policy: false,
        store: None,
    },
    Grant {
        sid: "ConfigReaderRole",
        actions: &[
            ("iam:CreateRole", &[Init]),
            ("iam:GetRole", &[Init]),
            ("iam:PutRolePolicy", &[Init]),
            ("iam:UpdateAssumeRolePolicy", &[Init]),
        ],
        resource: "arn:{p}:iam::*:role/{name}-config-reader",
        only_the_read_policy: false,
        store: None,
    },
    Grant {
        sid: "SecretKey",
        actions: &[("kms:DescribeKey", &[Init])],
        resource: "arn:{p}:kms:*:*:key/*",
        only_the_read_policy: false,
        store: None,
    },
    Grant {
        sid: "Layers",
        actions: &[("lambda:PublishLayerVersion", &[Init])],
        resource: "arn:{p}:lambda:*:*:layer:{name}-*",
        only_the_read_policy: false,
        store: None,
    },
    Grant {
        sid: "LayerVersions",
        actions: &[("lambda:GetLayerVersion", &[Enable])],
        resource: "arn:{p}:lambda:*:*:layer:{name}-*:*",
        only_the_read_policy: false,
        store: None,
    },
    Grant {
        sid: "Functions",
        actions: &[
            ("lambda:GetFunction", &[Enable, Disable, Status]),
            ("lambda:GetFunctionConfiguration", &[Enable, Disable]),
            ("lambda:ListTags", &[Enable, Disable]),
            ("lambda:TagResource", &[Enable]),
            ("lambda:UntagResource", &[Disable]),
            ("lambda:UpdateFunctionConfiguration", &[Enable, Disable]),
        ],
        resource: "arn:{p}:lambda:*:*:function:*",
        only_the_read_policy: false,
        store: None,
    },
    Grant {
        sid: "FunctionRoles",
        actions: &[("iam:ListAttachedRolePolicies", &[Enable, Disable, Status])],
        resource: "arn:{p}:iam::*:role/*",
        only_the_read_policy: false,
        store: None,
    },
    Grant {
        sid: "AttachTheReadPolicyOnly",
        actions: &[
            ("iam:AttachRolePolicy", &[Enable]),
            ("iam:DetachRolePolicy", &[Disable]),
        ],
        resource: "arn:{p}:iam::*:role/*",
        only_the_read_policy: true,
        store: None,
    },
    Grant {
        sid: "SetupStackSet",
        actions: &[
            ("cloudformation:DescribeStackSet", &[Stackset]),
            ("cloudformation:CreateStackSet", &[Stackset]),
            ("cloudformation:CreateStackInstances", &[Stackset]),
            ("cloudformation:DescribeStackSetOperation", &[Stackset]),
        ],
        // StackSets and their targets (CreateStackInstances is authorised on both): IAM names
        // a target by ids, not by its StackSet's name.
        resource: "arn:{p}:cloudformation:*:*:stackset*",
        only_the_read_policy: false,
        store: None,
    },
    Grant {
        sid: "Listings",
        actions: &[
            ("cloudwatch:DescribeAlarms", &[Experiment]),
            ("cloudwatch:DescribeAlarmHistory", &[Report]),
            ("cloudwatch:GetMetricData", &[Report]),
            ("cloudwatch:ListMetrics", &[Report]),
            ("lambda:ListFunctions", &[Enable, Disable, Status, Report]),
            (
                "lambda:ListLayerVersions",
                &[Init, Enable, Disable, Status, Render],
            ),
        ],
        resource: "*",
        only_the_read_policy: false,
        store: None,
    },
];

fn fill(template: &str, partition: &str, name: &str) -> String {
    template
        .replace("{p}", partition)
        .replace("{secret}", &names::secret(name))
        .replace("{bucket}", &names::config_bucket_prefix(name))
        .replace("{policy}", &names::policy(name, "*"))
        .replace("{name}", name)
}

fn wanted(calls: &[CommandName], commands: &[CommandName]) -> bool {
    calls.iter().any(|c| commands.contains(c))
}

/// Whether `grant` serves the store `store` (`--store`; None: the stores an install's commands
/// look for, S3 and Secrets Manager).
fn serves(grant: &Grant, store: Option<StoreKind>) -> bool {
    match (grant.store, store) {
        (None, _) => true,
        (Some(only), Some(store)) => only == store,
        (Some(only), None) => only != StoreKind::Appconfig,
    }
}

/// The policy document for `commands` on `store`, with `name` (`--name`) and `partition`
/// filled in.
pub fn policy(
    commands: &[CommandName],
    name: &str,
    partition: &str,
    store: Option<StoreKind>,
) -> Value {
    let statements: Vec<Value> = GRANTS
        .iter()
        .filter(|grant| serves(grant, store))
        .filter_map(|grant| {
            let actions: Vec<&str> = grant
                .actions
                .iter()
                .filter(|(_, calls)| wanted(calls, commands))
                .map(|(action, _)| *action)
                .collect();
            if actions.is_empty() {
                return None;
            }
            let mut statement = json!({
                "Sid": grant.sid,
                "Effect": "Allow",
                "Action": actions,
                "Resource": fill(grant.resource, partition, name),
            });
            if grant.only_the_read_policy {
                statement["Condition"] =
                    json!({"ArnLike": {"iam:PolicyARN": fill(READ_POLICY, partition, name)}});
            }
            Some(statement)
        })
        .collect();
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// For a fleet run (the deployer assuming `role` in each target account): the role's policy
/// (`policy`), its trust policy, which lets exactly the orchestrator (an account, or one role of
/// it) assume it, and the orchestrator's statement allowing `sts:AssumeRole` on that role in any
/// account. Errors name a bad role name or orchestrator.
pub fn fleet_role(
    policy: Value,
    role: &str,
    orchestrator: &str,
    partition: &str,
) -> Result<Value, String> {
    let valid_name = !role.is_empty()
        && role.len() <= 64
        && role
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b));
    if !valid_name {
        return Err(format!(
            "--role-name {role:?}: an IAM role name has 1 to 64 letters, digits and +=,.@_-"
        ));
    }
    let principal = if names::is_account_id(orchestrator) {
        format!("arn:{partition}:iam::{orchestrator}:root")
    } else if faultline_schema::wiring::is_role_arn(orchestrator) {
        orchestrator.to_string()
    } else {
        return Err(format!(
            "--orchestrator {orchestrator:?}: give the 12-digit account or the IAM role ARN \
             the fleet is run from"
        ));
    };
    // `--regions all-enabled` asks each account, as this role, which Regions it has enabled.
    let mut policy = policy;
    if let Some(statements) = policy.get_mut("Statement").and_then(Value::as_array_mut) {
        statements.push(json!({
            "Sid": "ListTheAccountsEnabledRegions",
            "Effect": "Allow",
            "Action": "account:ListRegions",
            "Resource": "*",
        }));
    }
    Ok(json!({
        "RoleName": role,
        "RolePolicy": policy,
        "TrustPolicy": {
            "Version": "2012-10-17",
            "Statement": [{
                "Sid": "TheOrchestratorRunsTheDeployerHere",
                "Effect": "Allow",
                "Principal": {"AWS": principal},
                "Action": "sts:AssumeRole",
            }],
        },
        "OrchestratorPolicy": {
            "Version": "2012-10-17",
            "Statement": [{
                "Sid": "AssumeTheDeployerRoleInEachAccount",
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Resource": format!("arn:{partition}:iam::*:role/{role}"),
            }, {
                // `--accounts-from-org`, from the management account or a delegated
                // administrator (Organizations' list actions take no resource).
                "Sid": "FindTheAccountsOfAnOrganizationalUnit",
                "Effect": "Allow",
                "Action": [
                    "organizations:ListAccountsForParent",
                    "organizations:ListOrganizationalUnitsForParent",
                ],
                "Resource": "*",
            }],
        },
    }))
}

/// The README's table: each command and the actions it needs.
pub fn markdown_table() -> String {
    let mut table = String::from("| command | actions |\n|---|---|\n");
    for command in CommandName::ALL {
        let actions: Vec<String> = GRANTS
            .iter()
            .filter(|grant| serves(grant, None))
            .flat_map(|grant| grant.actions.iter())
            .filter(|(_, calls)| calls.contains(&command))
            .map(|(action, _)| format!("`{action}`"))
            .collect();
        let label = match command {
            CommandName::Render => "render --from-aws",
            CommandName::Stackset => "stackset plan --apply",
            other => other.as_str(),
        };
        table.push_str(&format!("| `{label}` | {} |\n", actions.join(", ")));
    }
    table.push_str("| `layer`, `render` without `--from-aws`, `iam-policy` | none |\n");
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actions(policy: &Value) -> Vec<String> {
        policy["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|s| s["Action"].as_array().unwrap().clone())
            .map(|a| a.as_str().unwrap().to_string())
            .collect()
    }

    #[test]
    fn each_command_gets_only_what_it_calls() {
        let status = policy(&[Status], "faultline", "aws", None);
        let got = actions(&status);
        assert!(got.contains(&"lambda:GetFunction".to_string()));
        assert!(
            !got.iter()
                .any(|a| a.contains("Update") || a.contains("Put"))
        );
        let experiment = actions(&policy(&[Experiment], "faultline", "aws", None));
        assert!(experiment.iter().all(|a| a.starts_with("secretsmanager:")
            || a == "s3:ListBucket"
            || a == "s3:GetObject"
            || a == "s3:PutObject"
            || a == "cloudwatch:DescribeAlarms"));
    }

    #[test]
    fn attaching_is_limited_to_the_read_policy_in_the_partition() {
        let all = policy(&CommandName::ALL, "team-a", "aws-cn", None);
        let attach = all["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["Sid"] == "AttachTheReadPolicyOnly")
            .unwrap();
        assert_eq!(
            attach["Condition"]["ArnLike"]["iam:PolicyARN"],
            "arn:aws-cn:iam::*:policy/team-a-read-config-*"
        );
        let text = all.to_string();
        assert!(!text.contains("arn:aws:"), "{text}");
        assert!(text.contains("secret:team-a-config-*"), "{text}");
    }

    #[test]
    fn a_fleet_role_is_trusted_by_exactly_the_orchestrator() {
        let policy = policy(&[Status], "faultline", "aws", None);
        let documents = fleet_role(policy.clone(), "faultline-deployer", "111111111111", "aws")
            .expect("documents");
        // The commands' statements, and the one `--regions all-enabled` needs.
        let statements = documents["RolePolicy"]["Statement"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let given = policy["Statement"].as_array().cloned().unwrap_or_default();
        assert_eq!(statements[..given.len()], given[..]);
        assert_eq!(statements[given.len()]["Action"], "account:ListRegions");
        assert_eq!(
            documents["OrchestratorPolicy"]["Statement"][1]["Action"][0],
            "organizations:ListAccountsForParent"
        );
        assert_eq!(
            documents["TrustPolicy"]["Statement"][0]["Principal"]["AWS"],
            "arn:aws:iam::111111111111:root"
        );
        assert_eq!(
            documents["OrchestratorPolicy"]["Statement"][0]["Resource"],
            "arn:aws:iam::*:role/faultline-deployer"
        );
        let by_role = fleet_role(
            policy.clone(),
            "faultline-deployer",
            "arn:aws-cn:iam::111111111111:role/game-days",
            "aws-cn",
        )
        .expect("documents");
        assert_eq!(
            by_role["TrustPolicy"]["Statement"][0]["Principal"]["AWS"],
            "arn:aws-cn:iam::111111111111:role/game-days"
        );
        assert!(fleet_role(policy.clone(), "no spaces", "111111111111", "aws").is_err());
        let err = fleet_role(policy, "faultline-deployer", "1111", "aws").unwrap_err();
        assert!(err.contains("--orchestrator"), "{err}");
    }

    #[test]
    fn no_action_is_listed_twice() {
        let all = actions(&policy(&CommandName::ALL, "faultline", "aws", None));
        let mut unique = all.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(all.len(), unique.len());
    }

    #[test]
    fn each_store_gets_only_its_own_statements() {
        let default = actions(&policy(&CommandName::ALL, "faultline", "aws", None));
        assert!(default.iter().any(|a| a.starts_with("s3:")));
        assert!(default.iter().any(|a| a.starts_with("secretsmanager:")));
        assert!(!default.iter().any(|a| a.starts_with("appconfig:")));
        let appconfig = policy(
            &CommandName::ALL,
            "faultline",
            "aws",
            Some(StoreKind::Appconfig),
        );
        let names = actions(&appconfig);
        assert!(
            names
                .iter()
                .any(|a| a == "appconfig:CreateHostedConfigurationVersion")
        );
        assert!(
            !names
                .iter()
                .any(|a| a.starts_with("s3:") || a.starts_with("secretsmanager:"))
        );
        // StartDeployment acts on the application and on the strategy: granted on each.
        let text = appconfig.to_string();
        assert!(
            text.contains("arn:aws:appconfig:*:*:application/*"),
            "{text}"
        );
        assert!(
            text.contains("arn:aws:appconfig:*:*:deploymentstrategy/*"),
            "{text}"
        );
        let s3 = actions(&policy(
            &[Experiment],
            "faultline",
            "aws",
            Some(StoreKind::S3),
        ));
        assert!(
            !s3.iter().any(|a| a.starts_with("secretsmanager:")),
            "{s3:?}"
        );
    }
}
