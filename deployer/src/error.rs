//! Errors of the deployer and their exit codes: 2 for bad usage or input (nothing was changed),
//! 1 for a failure while talking to AWS, 3 for a report whose objectives were missed
//! (`report --fail-on-miss`). AWS errors carry what was being done (naming the
//! function or resource) and the AWS error code.

use aws_sdk_lambda::error::{DisplayErrorContext, ProvideErrorMetadata};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum DeployError {
    /// Bad usage or input: nothing was changed.
    #[error("{0}")]
    Input(String),
    /// An AWS call failed.
    #[error("{context}: {code}: {message}")]
    Aws {
        context: String,
        code: String,
        message: String,
    },
    /// Anything else that stopped the command.
    #[error("{0}")]
    Failed(String),
    /// A rehearsal missed an objective (`report --fail-on-miss`): the report was written.
    #[error("{0}")]
    Missed(String),
}

impl DeployError {
    pub fn exit_code(&self) -> u8 {
        match self {
            DeployError::Input(_) => 2,
            DeployError::Aws { .. } | DeployError::Failed(_) => 1,
            DeployError::Missed(_) => 3,
        }
    }

    /// The AWS error code, if this is an AWS error.
    pub fn aws_code(&self) -> Option<&str> {
        match self {
            DeployError::Aws { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// Wraps an AWS SDK error with what was being done.
pub fn aws<E>(context: impl Into<String>, err: E) -> DeployError
where
    E: ProvideErrorMetadata + std::error::Error,
{
    let code = err.code().unwrap_or("Unknown").to_string();
    let message = err
        .message()
        .map(str::to_string)
        .unwrap_or_else(|| DisplayErrorContext(&err).to_string());
    DeployError::Aws {
        context: context.into(),
        code,
        message,
    }
}
