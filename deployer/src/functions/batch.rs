//! Runs one command over many functions: at most ten at a time (the rate limit paces the calls),
//! a progress bar for more than a few, and a report with one line (or JSON object) per function.

use crate::error::DeployError;
use crate::output::{Output, Report};
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use std::fmt;
use std::future::Future;

/// Functions handled at the same time.
const CONCURRENCY: usize = 10;

/// What happened to one function.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub changed: bool,
    pub diff: Vec<String>,
    pub warnings: Vec<String>,
}

/// A progress bar for one account and Region's `len` functions, when `show` and there are more
/// than a few (a fleet run gives each target its line instead: [`crate::fleet::progress`]).
fn bar(show: bool, len: usize) -> Option<ProgressBar> {
    (show && len > 3).then(|| {
        let bar = ProgressBar::new(len as u64);
        if let Ok(style) = ProgressStyle::with_template("{bar:30} {pos}/{len} functions {msg}") {
            bar.set_style(style);
        }
        bar
    })
}

/// A command that changes functions (`enable`, `disable`) in one account and Region, once
/// `prepared` (its functions selected: `names`): one confirmation (`question`, skipped with
/// `yes`), `apply` with a progress bar on a terminal (its report and how many things failed),
/// the report printed; fails with `failure(failed, report)` when anything failed. A fleet run
/// has the same flow over many: [`crate::fleet::FleetArgs::run_batch`].
pub async fn run_in_one<P, App, AppFut>(
    prepared: P,
    output: Output,
    question: &str,
    yes: bool,
    names: impl Fn(&P) -> &[String],
    apply: App,
    failure: impl Fn(usize, &BatchReport) -> String,
) -> Result<(), DeployError>
where
    App: FnOnce(P, Option<ProgressBar>) -> AppFut,
    AppFut: Future<Output = (BatchReport, usize)>,
{
    crate::confirm::confirm(question, names(&prepared), yes)?;
    let bar = bar(output == Output::Text, names(&prepared).len());
    let (report, failed) = apply(prepared, bar.clone()).await;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    crate::output::print(output, &report);
    match failed {
        0 => Ok(()),
        failed => Err(DeployError::Failed(failure(failed, &report))),
    }
}

/// Runs `work` on each function, at most [`CONCURRENCY`] at a time, counting them on `bar`; the
/// results sorted by name.
pub async fn run_each<F, Fut>(
    names: Vec<String>,
    bar: Option<ProgressBar>,
    work: F,
) -> Vec<(String, Result<Outcome, DeployError>)>
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Result<Outcome, DeployError>>,
{
    let mut results: Vec<(String, Result<Outcome, DeployError>)> =
        futures::stream::iter(names.into_iter().map(|name| {
            let fut = work(name.clone());
            let bar = bar.clone();
            async move {
                let result = fut.await;
                if let Some(bar) = &bar {
                    bar.inc(1);
                }
                (name, result)
            }
        }))
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    results.sort_by(|a, b| a.0.cmp(&b.0));
    results
}

/// What one command did to every function: the diff per function, warnings, errors (with the
/// AWS code), and the number of AWS calls.
#[derive(Debug, Serialize)]
pub struct BatchReport {
    pub command: &'static str,
    pub dry_run: bool,
    pub functions: Vec<FunctionReport>,
    pub aws_calls: u64,
}

/// One function's line of a [`BatchReport`].
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum FunctionReport {
    Done {
        function: String,
        changed: bool,
        diff: Vec<String>,
        warnings: Vec<String>,
    },
    Failed {
        function: String,
        error: String,
        code: Option<String>,
    },
}

impl BatchReport {
    pub fn new(
        command: &'static str,
        dry_run: bool,
        outcomes: &[(String, Result<Outcome, DeployError>)],
        aws_calls: u64,
    ) -> BatchReport {
        let functions = outcomes
            .iter()
            .map(|(name, result)| match result {
                Ok(o) => FunctionReport::Done {
                    function: name.clone(),
                    changed: o.changed,
                    diff: o.diff.clone(),
                    warnings: o.warnings.clone(),
                },
                Err(err) => FunctionReport::Failed {
                    function: name.clone(),
                    error: err.to_string(),
                    code: err.aws_code().map(str::to_string),
                },
            })
            .collect();
        BatchReport {
            command,
            dry_run,
            functions,
            aws_calls,
        }
    }

    /// How many functions failed.
    pub fn failed(&self) -> usize {
        self.functions
            .iter()
            .filter(|f| matches!(f, FunctionReport::Failed { .. }))
            .count()
    }
}

impl fmt::Display for BatchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut lines = Vec::new();
        for function in &self.functions {
            if let FunctionReport::Done {
                function,
                changed,
                diff,
                ..
            } = function
            {
                let state = match (changed, self.dry_run) {
                    (false, _) => "no change",
                    (true, true) => "would change",
                    (true, false) => "changed",
                };
                lines.push(format!("{function}: {state}"));
                lines.extend(diff.iter().cloned());
            }
        }
        write!(f, "{}", lines.join("\n"))
    }
}

impl Report for BatchReport {
    fn diagnostics(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for function in &self.functions {
            match function {
                FunctionReport::Done { warnings, .. } => {
                    lines.extend(warnings.iter().map(|w| format!("warning: {w}")));
                }
                FunctionReport::Failed { error, .. } => lines.push(format!("error: {error}")),
            }
        }
        lines.push(format!(
            "{}: {} function(s), {} failed, {} AWS call(s){}",
            self.command,
            self.functions.len(),
            self.failed(),
            self.aws_calls,
            if self.dry_run {
                " (dry run: nothing changed)"
            } else {
                ""
            }
        ));
        lines
    }
}
