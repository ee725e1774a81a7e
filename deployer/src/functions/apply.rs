//! Applying a plan to a function: guarded by its RevisionId, with back-off on conflicts and
//! throttling, and a wait for LastUpdateStatus.

use super::rate_limit::RateLimit;
use super::read::Function;
use crate::aws::Aws;
use crate::error::{DeployError, aws};
use crate::plan::Plan;
use aws_sdk_lambda::types::{Environment, LastUpdateStatus};
use std::time::Duration;

/// Attempts of one update before giving up on conflicts and throttling.
const ATTEMPTS: u32 = 6;
/// How long a function may take to finish an update.
const UPDATE_WAIT: Duration = Duration::from_secs(120);

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
