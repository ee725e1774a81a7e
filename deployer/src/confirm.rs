//! Asking before changing many functions.

use crate::error::DeployError;
use std::io::{BufRead, IsTerminal, Write};

/// Goes ahead for one function, with `--yes`, or when the user agrees on a terminal.
pub fn confirm(what: &str, names: &[String], yes: bool) -> Result<(), DeployError> {
    if yes || names.len() <= 1 {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(DeployError::Input(format!(
            "{what} {} functions: pass --yes to go ahead without a prompt (or --dry-run to look first)",
            names.len()
        )));
    }
    eprint!("{what} {} functions ({}…)? [y/N] ", names.len(), names[0]);
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    let _ = std::io::stdin().lock().read_line(&mut answer);
    if matches!(answer.trim(), "y" | "Y" | "yes") {
        Ok(())
    } else {
        Err(DeployError::Input("cancelled: nothing changed".into()))
    }
}
