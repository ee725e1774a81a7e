//! Applying a plan to a function: guarded by its RevisionId, then the SDK's waiter for
//! LastUpdateStatus. A conflict goes back to the caller, which reads the function again and
//! re-plans ([`CONFLICT_ATTEMPTS`] times at most).

use super::rate_limit::RateLimit;
use super::read::Function;
use crate::aws::Aws;
use crate::error::{DeployError, aws};
use crate::plan::Plan;
use aws_sdk_lambda::client::Waiters as _;
use aws_sdk_lambda::error::DisplayErrorContext;
use aws_sdk_lambda::types::Environment;
use std::time::Duration;

/// Plans made (and applied) for one function before giving up on conflicts.
pub const CONFLICT_ATTEMPTS: u32 = 3;
/// How long a function may take to finish an update.
const UPDATE_WAIT: Duration = Duration::from_secs(120);

/// Whether `err` says the function changed since it was read (its RevisionId moved on): the
/// caller reads it again and plans anew rather than sending a stale plan again.
pub fn is_conflict(err: &DeployError) -> bool {
    matches!(
        err.aws_code(),
        Some("ResourceConflictException" | "PreconditionFailedException")
    )
}

/// Applies `plan` to `function`, guarded by the RevisionId it was read with, and waits (with the
/// SDK's waiter) until Lambda reports the update Successful. Throttling is retried by the SDK
/// (adaptive retry mode); a conflict is returned for the caller to re-plan.
pub async fn apply(
    aws_: &Aws,
    limit: &RateLimit,
    function: &Function,
    plan: &Plan,
) -> Result<(), DeployError> {
    let name = &function.config.name;
    limit.acquire().await;
    aws_.lambda
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
        .await
        .map_err(|err| aws(format!("updating function {name}"), err))?;
    limit.acquire().await;
    if let Err(err) = aws_
        .lambda
        .wait_until_function_updated_v2()
        .function_name(name)
        .wait(UPDATE_WAIT)
        .await
    {
        // Say why, from the function's own status.
        let reason = aws_
            .lambda
            .get_function_configuration()
            .function_name(name)
            .send()
            .await
            .ok()
            .map(|c| {
                format!(
                    "{} {}",
                    c.last_update_status().map_or("unknown", |s| s.as_str()),
                    c.last_update_status_reason().unwrap_or_default()
                )
            })
            .unwrap_or_else(|| DisplayErrorContext(&err).to_string());
        return Err(DeployError::Failed(format!(
            "function {name}: the update did not succeed within {UPDATE_WAIT:?}: {reason}"
        )));
    }
    Ok(())
}

/// Applies `plan` (made on `attempt` for `function`). A conflict with attempts left reads the
/// function again into `function` and answers `Ok(false)`: plan anew. `Ok(true)`: applied.
pub async fn apply_or_reread(
    aws_: &Aws,
    limit: &RateLimit,
    function: &mut Function,
    plan: &Plan,
    attempt: u32,
) -> Result<bool, DeployError> {
    match apply(aws_, limit, function, plan).await {
        Ok(()) => Ok(true),
        Err(err) if is_conflict(&err) && attempt < CONFLICT_ATTEMPTS => {
            *function = super::read::get(aws_, limit, &function.config.name).await?;
            Ok(false)
        }
        Err(err) => Err(err),
    }
}
