//! Reading functions from Lambda: one by name, or every function in the region.

use super::rate_limit::RateLimit;
use crate::aws::Aws;
use crate::error::{DeployError, aws};
use crate::plan::{Arch, FunctionConfig};
use aws_sdk_lambda::types::{FunctionConfiguration, PackageType};

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
                env_error: c.environment().and_then(|e| e.error()).map(|e| {
                    format!(
                        "{}: {}",
                        e.error_code().unwrap_or("Error"),
                        e.message().unwrap_or("no message")
                    )
                }),
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
