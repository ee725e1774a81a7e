//! Reading functions, choosing them (names, --all, --regex, --tag, --exclude) and applying a plan
//! with RevisionId, back-off on conflicts and throttling, and a wait for LastUpdateStatus.

use crate::aws::Aws;
use crate::cli::Selection;
use crate::error::{DeployError, aws};
use crate::plan::{Arch, FunctionConfig, Plan};
use crate::rate_limit::RateLimit;
use aws_sdk_lambda::types::{Environment, FunctionConfiguration, LastUpdateStatus, PackageType};
use std::collections::HashMap;
use std::time::Duration;

/// Attempts of one update before giving up on conflicts and throttling.
const ATTEMPTS: u32 = 6;
/// How long a function may take to finish an update.
const UPDATE_WAIT: Duration = Duration::from_secs(120);

/// A function as read from Lambda.
#[derive(Debug, Clone)]
pub struct Function {
    pub config: FunctionConfig,
    pub arn: String,
    pub revision_id: Option<String>,
    pub role: String,
}

impl Function {
    pub fn from_configuration(c: &FunctionConfiguration) -> Function {
        let arch = c
            .architectures()
            .first()
            .and_then(|a| Arch::parse(a.as_str()))
            .unwrap_or(Arch::X86_64);
        Function {
            config: FunctionConfig {
                name: c.function_name().unwrap_or_default().to_string(),
                runtime: c.runtime().map(|r| r.as_str().to_string()),
                arch,
                layers: c
                    .layers()
                    .iter()
                    .filter_map(|l| l.arn().map(str::to_string))
                    .collect(),
                env: c
                    .environment()
                    .and_then(|e| e.variables())
                    .map(|v| v.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                    .unwrap_or_default(),
                is_image: c.package_type() == Some(&PackageType::Image),
            },
            arn: c.function_arn().unwrap_or_default().to_string(),
            revision_id: c.revision_id().map(str::to_string),
            role: c.role().unwrap_or_default().to_string(),
        }
    }

    /// The role's name, from its ARN (`arn:aws:iam::123:role/path/name`).
    pub fn role_name(&self) -> &str {
        self.role.rsplit('/').next().unwrap_or(&self.role)
    }
}

pub async fn get(aws_: &Aws, limit: &RateLimit, name: &str) -> Result<Function, DeployError> {
    limit.acquire().await;
    let found = aws_
        .lambda
        .get_function()
        .function_name(name)
        .send()
        .await
        .map_err(|err| aws(format!("function {name}"), err))?;
    let configuration = found.configuration().ok_or_else(|| {
        DeployError::Failed(format!("function {name}: no configuration returned"))
    })?;
    Ok(Function::from_configuration(configuration))
}

/// Every function in the region.
pub async fn list_all(aws_: &Aws, limit: &RateLimit) -> Result<Vec<Function>, DeployError> {
    let mut functions = Vec::new();
    let mut marker = None;
    loop {
        limit.acquire().await;
        let page = aws_
            .lambda
            .list_functions()
            .set_marker(marker)
            .max_items(50)
            .send()
            .await
            .map_err(|err| aws("listing functions", err))?;
        functions.extend(page.functions().iter().map(Function::from_configuration));
        marker = page.next_marker;
        if marker.is_none() {
            return Ok(functions);
        }
    }
}

/// The functions a selection stands for.
pub struct Selected {
    /// Names, in a stable order, without the excluded ones.
    pub names: Vec<String>,
    /// Configurations already read while listing (so they need not be read again).
    pub listed: HashMap<String, Function>,
}

/// The names a selection stands for, in a stable order, without the excluded ones.
pub async fn select(
    aws_: &Aws,
    limit: &RateLimit,
    selection: &Selection,
) -> Result<Selected, DeployError> {
    let by_listing = selection.all || selection.regex.is_some() || selection.tag.is_some();
    if by_listing && !selection.functions.is_empty() {
        return Err(DeployError::Input(
            "give function names or --all/--regex/--tag, not both".into(),
        ));
    }
    if !by_listing && selection.functions.is_empty() {
        return Err(DeployError::Input(
            "name at least one function, or use --all, --regex RE or --tag K=V".into(),
        ));
    }
    let regex = selection
        .regex
        .as_deref()
        .map(|re| {
            regex::Regex::new(re).map_err(|err| DeployError::Input(format!("--regex {re}: {err}")))
        })
        .transpose()?;
    let tag = selection
        .tag
        .as_deref()
        .map(|t| {
            t.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or_else(|| DeployError::Input(format!("--tag {t}: expected KEY=VALUE")))
        })
        .transpose()?;
    let mut listed = HashMap::new();
    let mut names: Vec<String> = if by_listing {
        let mut chosen = Vec::new();
        for function in list_all(aws_, limit).await? {
            let name = function.config.name.clone();
            if regex.as_ref().is_some_and(|re| !re.is_match(&name)) {
                continue;
            }
            if let Some((key, value)) = &tag {
                limit.acquire().await;
                let tags = aws_
                    .lambda
                    .list_tags()
                    .resource(&function.arn)
                    .send()
                    .await
                    .map_err(|err| aws(format!("tags of function {name}"), err))?;
                if tags.tags().and_then(|t| t.get(key)) != Some(value) {
                    continue;
                }
            }
            chosen.push(name.clone());
            listed.insert(name, function);
        }
        chosen
    } else {
        selection.functions.clone()
    };
    names.retain(|n| !selection.exclude.contains(n));
    names.sort();
    names.dedup();
    Ok(Selected { names, listed })
}

fn retryable(code: Option<&str>) -> bool {
    matches!(
        code,
        Some("ResourceConflictException" | "TooManyRequestsException" | "ThrottlingException")
    )
}

/// Applies `plan` to `function` (guarded by its RevisionId) and waits until Lambda reports the
/// update Successful.
pub async fn apply(
    aws_: &Aws,
    limit: &RateLimit,
    function: &Function,
    plan: &Plan,
) -> Result<(), DeployError> {
    let name = &function.config.name;
    let mut attempt = 0;
    let updated = loop {
        attempt += 1;
        limit.acquire().await;
        let result = aws_
            .lambda
            .update_function_configuration()
            .function_name(name)
            .set_revision_id(function.revision_id.clone())
            .set_layers(Some(plan.layers.clone()))
            .environment(
                Environment::builder()
                    .set_variables(Some(plan.env.clone().into_iter().collect()))
                    .build(),
            )
            .send()
            .await;
        match result {
            Ok(updated) => break updated,
            Err(err) => {
                let err = aws(format!("updating function {name}"), err);
                if attempt < ATTEMPTS && retryable(err.aws_code()) {
                    tokio::time::sleep(Duration::from_millis(200 * 2u64.pow(attempt - 1))).await;
                    continue;
                }
                return Err(err);
            }
        }
    };
    let mut status = updated.last_update_status().cloned();
    let mut reason = updated.last_update_status_reason().map(str::to_string);
    let deadline = tokio::time::Instant::now() + UPDATE_WAIT;
    loop {
        match status {
            None | Some(LastUpdateStatus::Successful) => return Ok(()),
            Some(LastUpdateStatus::Failed) => {
                return Err(DeployError::Failed(format!(
                    "function {name}: update failed: {}",
                    reason.unwrap_or_default()
                )));
            }
            _ if tokio::time::Instant::now() >= deadline => {
                return Err(DeployError::Failed(format!(
                    "function {name}: update still in progress after {UPDATE_WAIT:?}"
                )));
            }
            _ => {}
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        limit.acquire().await;
        let c = aws_
            .lambda
            .get_function_configuration()
            .function_name(name)
            .send()
            .await
            .map_err(|err| aws(format!("function {name}"), err))?;
        status = c.last_update_status().cloned();
        reason = c.last_update_status_reason().map(str::to_string);
    }
}
