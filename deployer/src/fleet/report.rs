//! A command's report from every target of a fleet run: each account and Region with what the
//! command reported there, or why it failed there.

use super::Target;
use crate::error::DeployError;
use crate::output::Report;
use serde::Serialize;
use std::fmt;

/// One target's part.
#[derive(Debug, Serialize)]
pub struct TargetReport<R> {
    #[serde(flatten)]
    pub target: Target,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<R>,
    /// Why the target failed as a whole (its functions' failures are in its report).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Every target's part, in target order.
#[derive(Debug, Serialize)]
pub struct FleetReport<R> {
    pub targets: Vec<TargetReport<R>>,
}

impl<R> FleetReport<R> {
    pub fn new(outcomes: Vec<(Target, Result<R, DeployError>)>) -> FleetReport<R> {
        FleetReport {
            targets: outcomes
                .into_iter()
                .map(|(target, result)| match result {
                    Ok(report) => TargetReport {
                        target,
                        report: Some(report),
                        error: None,
                    },
                    Err(err) => TargetReport {
                        target,
                        report: None,
                        error: Some(err.to_string()),
                    },
                })
                .collect(),
        }
    }
}

impl<R: fmt::Display> fmt::Display for FleetReport<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, target) in self.targets.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "# {} {}", target.target.account, target.target.region)?;
            match (&target.report, &target.error) {
                (_, Some(error)) => write!(f, "\nFAILED: {error}")?,
                (Some(report), None) => {
                    let text = report.to_string();
                    if !text.is_empty() {
                        write!(f, "\n{text}")?;
                    }
                }
                (None, None) => {}
            }
        }
        Ok(())
    }
}

impl<R: Report> Report for FleetReport<R> {
    fn diagnostics(&self) -> Vec<String> {
        self.targets
            .iter()
            .flat_map(|target| {
                let prefix = format!("{} {}", target.target.account, target.target.region);
                let lines = match (&target.report, &target.error) {
                    (_, Some(error)) => vec![format!("error: {error}")],
                    (Some(report), None) => report.diagnostics(),
                    (None, None) => Vec::new(),
                };
                lines
                    .into_iter()
                    .map(move |line| format!("{prefix}: {line}"))
            })
            .collect()
    }
}
