//! Runs one command over many functions: at most ten at a time (the rate limit paces the calls),
//! a progress bar for more than a few, and a report with one line (or JSON object) per function.

use crate::cli::Output;
use crate::error::DeployError;
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
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

pub async fn run_each<F, Fut>(
    names: Vec<String>,
    show_progress: bool,
    work: F,
) -> Vec<(String, Result<Outcome, DeployError>)>
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Result<Outcome, DeployError>>,
{
    let bar = (show_progress && names.len() > 3).then(|| {
        let bar = ProgressBar::new(names.len() as u64);
        if let Ok(style) = ProgressStyle::with_template("{bar:30} {pos}/{len} functions {msg}") {
            bar.set_style(style);
        }
        bar
    });
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
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    results.sort_by(|a, b| a.0.cmp(&b.0));
    results
}

/// Prints what happened: the diff per function, warnings, errors (with the AWS code), a summary.
pub fn report(
    format: Output,
    verb: &str,
    dry_run: bool,
    outcomes: &[(String, Result<Outcome, DeployError>)],
    calls: u64,
) {
    match format {
        Output::Text => {
            for (name, result) in outcomes {
                match result {
                    Ok(outcome) => {
                        let state = match (outcome.changed, dry_run) {
                            (false, _) => "no change",
                            (true, true) => "would change",
                            (true, false) => "changed",
                        };
                        println!("{name}: {state}");
                        for line in &outcome.diff {
                            println!("{line}");
                        }
                        for warning in &outcome.warnings {
                            eprintln!("warning: {warning}");
                        }
                    }
                    Err(err) => eprintln!("error: {err}"),
                }
            }
            let failed = outcomes.iter().filter(|(_, r)| r.is_err()).count();
            eprintln!(
                "{verb}: {} function(s), {failed} failed, {calls} AWS call(s){}",
                outcomes.len(),
                if dry_run {
                    " (dry run: nothing changed)"
                } else {
                    ""
                }
            );
        }
        Output::Json => {
            let functions: Vec<_> = outcomes
                .iter()
                .map(|(name, result)| match result {
                    Ok(o) => json!({"function": name, "changed": o.changed, "diff": o.diff, "warnings": o.warnings}),
                    Err(err) => json!({"function": name, "error": err.to_string(), "code": err.aws_code()}),
                })
                .collect();
            let value = json!({"command": verb, "dry_run": dry_run, "functions": functions, "aws_calls": calls});
            crate::output::print_json(&value);
        }
    }
}
