//! What commands print: text for people, JSON for scripts (`--output json`). Secret values are
//! never part of either.

use crate::cli::Output;
use serde_json::Value;

pub fn print(format: Output, text: &str, json: &Value) {
    match format {
        Output::Text => println!("{text}"),
        Output::Json => print_json(json),
    }
}

/// One JSON document on stdout, pretty-printed.
pub fn print_json(json: &Value) {
    println!("{}", serde_json::to_string_pretty(json).unwrap_or_default());
}
