//! What commands print: one typed value per command, shown as text for people or as one JSON
//! document for scripts (`--output json`), from the same value. Secret values are never part of
//! either.

use serde::Serialize;
use std::fmt::Display;

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    /// Lines for people
    Text,
    /// One JSON document, for scripts
    Json,
}

/// A command's result: its `Display` is the text on stdout, its serialization the JSON document.
pub trait Report: Serialize + Display {
    /// Lines for stderr in text mode (warnings, errors, a summary); the JSON document carries
    /// the same facts in its own fields.
    fn diagnostics(&self) -> Vec<String> {
        Vec::new()
    }
}

/// Prints `report` in `format`.
pub fn print<R: Report>(format: Output, report: &R) {
    match format {
        Output::Text => {
            let text = report.to_string();
            if !text.is_empty() {
                println!("{text}");
            }
            for line in report.diagnostics() {
                eprintln!("{line}");
            }
        }
        Output::Json => println!(
            "{}",
            serde_json::to_string_pretty(report).unwrap_or_default()
        ),
    }
}

/// A document that is JSON whatever the format (a policy, say): pretty-printed on stdout.
pub fn print_document<T: Serialize>(document: &T) {
    println!(
        "{}",
        serde_json::to_string_pretty(document).unwrap_or_default()
    );
}
