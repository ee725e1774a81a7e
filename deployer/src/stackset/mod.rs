//! The setup across an organisation: one service-managed CloudFormation StackSet of the
//! StackSet form of the setup template (`cfn/faultline-setup-stackset.yaml`), deployed to
//! organisational units and Regions, with automatic deployment to accounts that join them.
//! [`Plan`] is what `deployer stackset plan` prints as AWS CLI calls and, with `--apply`, makes.

use crate::aws::Aws;
use crate::error::{DeployError, aws};
use crate::install::names;
use aws_sdk_cloudformation::error::ProvideErrorMetadata as _;
use aws_sdk_cloudformation::types::{
    AutoDeployment, CallAs, Capability, DeploymentTargets, Parameter, PermissionModels,
    RegionConcurrencyType, StackSetOperationPreferences, StackSetOperationStatus,
};
use serde::Serialize;
use std::time::Duration;

/// Where the StackSet's template is written for the printed calls.
pub const TEMPLATE_FILE: &str = "faultline-setup-stackset.yaml";

/// The StackSet and its instances.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub stack_set_name: String,
    pub organizational_units: Vec<String>,
    pub regions: Vec<String>,
    /// Template parameters, in order.
    pub parameters: Vec<(String, String)>,
    /// Run as the organisation's delegated administrator for StackSets, not its management
    /// account.
    pub delegated_admin: bool,
    #[serde(skip)]
    pub template_body: String,
}

/// What `--apply` did.
#[derive(Debug, Clone, Serialize)]
pub struct Applied {
    pub stack_set: &'static str,
    pub operation_id: String,
    pub status: String,
}

/// `ou-` ids (or the root, `r-`), each checked.
pub fn parse_units(units: &[String]) -> Result<Vec<String>, DeployError> {
    let valid = |unit: &str| {
        let rest = unit
            .strip_prefix("ou-")
            .or_else(|| unit.strip_prefix("r-"))
            .unwrap_or_default();
        !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    let units: Vec<String> = units.iter().map(|u| u.trim().to_string()).collect();
    if units.is_empty() {
        return Err(DeployError::Input(
            "--ous: give at least one organisational unit (ou-...) or the root (r-...)".into(),
        ));
    }
    match units.iter().find(|u| !valid(u)) {
        Some(bad) => Err(DeployError::Input(format!(
            "--ous: {bad:?} is not an organisational unit id (ou-...) or a root id (r-...)"
        ))),
        None => Ok(units),
    }
}

/// Region names, each checked (`us-east-1`, `eu-central-2`, `us-gov-west-1`, ...).
pub fn parse_regions(regions: &[String]) -> Result<Vec<String>, DeployError> {
    let regions: Vec<String> = regions.iter().map(|r| r.trim().to_string()).collect();
    if regions.is_empty() {
        return Err(DeployError::Input(
            "--regions: give at least one Region".into(),
        ));
    }
    match regions.iter().find(|r| !names::is_region(r)) {
        Some(bad) => Err(DeployError::Input(format!(
            "--regions: {bad:?} is not a Region name (like us-east-1)"
        ))),
        None => Ok(regions),
    }
}

/// A value as one shell word.
fn shell(word: &str) -> String {
    if !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:=,@+".contains(&b))
    {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

impl Plan {
    /// The AWS CLI calls that make it, the template read from `template_path`.
    pub fn cli(&self, template_path: &str) -> String {
        let call_as = if self.delegated_admin {
            " \\\n  --call-as DELEGATED_ADMIN"
        } else {
            ""
        };
        let parameters: Vec<String> = self
            .parameters
            .iter()
            // The CLI's shorthand splits on commas: a list's commas are escaped.
            .map(|(key, value)| {
                let value = value.replace(',', r"\,");
                shell(&format!("ParameterKey={key},ParameterValue={value}"))
            })
            .collect();
        format!(
            "aws cloudformation create-stack-set \\\n  --stack-set-name {name} \\\n  \
             --template-body file://{template} \\\n  --permission-model SERVICE_MANAGED \\\n  \
             --auto-deployment Enabled=true,RetainStacksOnAccountRemoval=true \\\n  \
             --capabilities CAPABILITY_NAMED_IAM \\\n  --parameters {parameters}{call_as}\n\
             aws cloudformation create-stack-instances \\\n  --stack-set-name {name} \\\n  \
             --deployment-targets OrganizationalUnitIds={units} \\\n  --regions {regions} \\\n  \
             --operation-preferences \
             RegionConcurrencyType=PARALLEL,MaxConcurrentPercentage=100,FailureTolerancePercentage=0{call_as}",
            name = shell(&self.stack_set_name),
            template = shell(template_path),
            parameters = parameters.join(" "),
            units = self.organizational_units.join(","),
            regions = self
                .regions
                .iter()
                .map(|r| shell(r))
                .collect::<Vec<_>>()
                .join(" "),
        )
    }

    fn call_as(&self) -> CallAs {
        if self.delegated_admin {
            CallAs::DelegatedAdmin
        } else {
            CallAs::SelfValue
        }
    }

    /// Creates the StackSet (kept when it exists) and its instances, and waits for the
    /// operation.
    pub async fn apply(&self, aws_: &Aws) -> Result<Applied, DeployError> {
        let cfn = &aws_.cloudformation;
        let parameters: Vec<Parameter> = self
            .parameters
            .iter()
            .map(|(key, value)| {
                Parameter::builder()
                    .parameter_key(key)
                    .parameter_value(value)
                    .build()
            })
            .collect();
        // An existing StackSet is kept (its template is updated with update-stack-set).
        let existing = cfn
            .describe_stack_set()
            .stack_set_name(&self.stack_set_name)
            .call_as(self.call_as())
            .send()
            .await;
        let exists = match existing {
            Ok(_) => true,
            Err(err) if err.code() == Some("StackSetNotFoundException") => false,
            Err(err) => {
                return Err(aws(
                    format!("reading StackSet {}", self.stack_set_name),
                    err,
                ));
            }
        };
        let created = if exists {
            Err(None)
        } else {
            cfn.create_stack_set()
                .stack_set_name(&self.stack_set_name)
                .description("faultline setup, across an organisation (deployer stackset plan)")
                .template_body(&self.template_body)
                .permission_model(PermissionModels::ServiceManaged)
                .auto_deployment(
                    AutoDeployment::builder()
                        .enabled(true)
                        .retain_stacks_on_account_removal(true)
                        .build(),
                )
                .capabilities(Capability::CapabilityNamedIam)
                .set_parameters(Some(parameters))
                .call_as(self.call_as())
                .send()
                .await
                .map_err(Some)
        };
        let kept =
            "kept: it exists (update its template with `aws cloudformation update-stack-set`)";
        let stack_set = match created {
            Ok(_) => "created",
            Err(None) => kept,
            Err(Some(err)) if err.code() == Some("NameAlreadyExistsException") => kept,
            Err(Some(err)) => {
                return Err(aws(
                    format!("creating StackSet {}", self.stack_set_name),
                    err,
                ));
            }
        };
        let instances = cfn
            .create_stack_instances()
            .stack_set_name(&self.stack_set_name)
            .deployment_targets(
                DeploymentTargets::builder()
                    .set_organizational_unit_ids(Some(self.organizational_units.clone()))
                    .build(),
            )
            .set_regions(Some(self.regions.clone()))
            .operation_preferences(
                StackSetOperationPreferences::builder()
                    .region_concurrency_type(RegionConcurrencyType::Parallel)
                    .max_concurrent_percentage(100)
                    .failure_tolerance_percentage(0)
                    .build(),
            )
            .call_as(self.call_as())
            .send()
            .await
            .map_err(|err| {
                aws(
                    format!("creating the instances of StackSet {}", self.stack_set_name),
                    err,
                )
            })?;
        let operation_id = instances.operation_id().unwrap_or_default().to_string();
        let status = self.wait(aws_, &operation_id).await?;
        Ok(Applied {
            stack_set,
            operation_id,
            status,
        })
    }

    /// The operation's final status (StackSets deploys in the background).
    async fn wait(&self, aws_: &Aws, operation_id: &str) -> Result<String, DeployError> {
        let mut pause = Duration::from_millis(200);
        for _ in 0..120 {
            let described = aws_
                .cloudformation
                .describe_stack_set_operation()
                .stack_set_name(&self.stack_set_name)
                .operation_id(operation_id)
                .call_as(self.call_as())
                .send()
                .await
                .map_err(|err| aws(format!("reading StackSet operation {operation_id}"), err))?;
            let status = described
                .stack_set_operation()
                .and_then(|o| o.status())
                .cloned();
            match status {
                Some(
                    done @ (StackSetOperationStatus::Succeeded
                    | StackSetOperationStatus::Failed
                    | StackSetOperationStatus::Stopped),
                ) => return Ok(done.as_str().to_string()),
                _ => {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(10));
                }
            }
        }
        Ok(
            "RUNNING (still: follow it with `aws cloudformation describe-stack-set-operation`)"
                .into(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_and_regions_are_checked_and_named() {
        assert!(parse_units(&["ou-ab12-cdef3456".into(), "r-ab12".into()]).is_ok());
        for bad in ["", "ou-", "123456789012", "ou-a b"] {
            let err = parse_units(&[bad.into()]).map(|_| ()).unwrap_err();
            assert!(err.to_string().contains("--ous"), "{err}");
        }
        assert!(parse_regions(&["us-east-1".into(), "us-gov-west-1".into()]).is_ok());
        for bad in ["", "us-east", "US-EAST-1", "eu west 1"] {
            assert!(parse_regions(&[bad.into()]).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_calls_are_shell_words() {
        let plan = Plan {
            stack_set_name: "faultline-setup".into(),
            organizational_units: vec!["ou-ab12-cdef3456".into()],
            regions: vec!["us-east-1".into(), "eu-west-1".into()],
            parameters: vec![
                ("LayerCodeBucket".into(), "layers".into()),
                ("ReaderAccounts".into(), "111111111111,222222222222".into()),
                ("ConfigYaml".into(), "experiments: []".into()),
            ],
            delegated_admin: true,
            template_body: String::new(),
        };
        let cli = plan.cli("cfn/faultline-setup-stackset.yaml");
        assert!(cli.contains("--permission-model SERVICE_MANAGED"), "{cli}");
        assert!(cli.contains("--regions us-east-1 eu-west-1"), "{cli}");
        assert!(
            cli.contains("ParameterKey=LayerCodeBucket,ParameterValue=layers "),
            "{cli}"
        );
        // A comma inside a value would split it for the AWS CLI: escaped, and quoted for the
        // shell, as a space is.
        assert!(
            cli.contains(
                r"'ParameterKey=ReaderAccounts,ParameterValue=111111111111\,222222222222'"
            ),
            "{cli}"
        );
        assert!(
            cli.contains("'ParameterKey=ConfigYaml,ParameterValue=experiments: []'"),
            "{cli}"
        );
        assert_eq!(cli.matches("--call-as DELEGATED_ADMIN").count(), 2, "{cli}");
    }
}
