//! Choosing functions: names, --all, --regex, --tag, --exclude.

use super::rate_limit::RateLimit;
use super::read::{Function, list_all};
use crate::aws::Aws;
use crate::error::{DeployError, aws};
use std::collections::HashMap;

/// Which functions a command acts on.
#[derive(Debug, clap::Args)]
pub struct Selection {
    /// Function names or ARNs
    pub functions: Vec<String>,
    /// Every function in the region
    #[arg(long)]
    pub all: bool,
    /// Functions whose name matches this regular expression
    #[arg(long)]
    pub regex: Option<String>,
    /// Functions with this tag (KEY=VALUE)
    #[arg(long)]
    pub tag: Option<String>,
    /// Leave these functions out (names, repeatable)
    #[arg(long)]
    pub exclude: Vec<String>,
}

/// A command that changes many functions: which ones, and how (`enable`, `disable`).
#[derive(Debug, clap::Args)]
pub struct Batch {
    #[command(flatten)]
    pub selection: Selection,
    /// Show the plan, change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask before changing more than one function
    #[arg(long)]
    pub yes: bool,
    /// Requests per second at most, in each account and Region (AWS's API quotas are per account
    /// and Region; a fleet run is also held to --max-rate as a whole)
    #[arg(long, default_value_t = 10)]
    pub rate: u32,
    #[command(flatten)]
    pub fleet: crate::fleet::FleetArgs,
}

/// The functions a selection stands for.
pub struct Selected {
    /// Names, in a stable order, without the excluded ones.
    pub names: Vec<String>,
    /// Configurations already read while listing (so they need not be read again).
    pub listed: HashMap<String, Function>,
}

/// The names a selection stands for, in a stable order, without the excluded ones.
pub async fn select(
    aws_: &Aws,
    limit: &RateLimit,
    selection: &Selection,
) -> Result<Selected, DeployError> {
    let by_listing = selection.all || selection.regex.is_some() || selection.tag.is_some();
    if by_listing && !selection.functions.is_empty() {
        return Err(DeployError::Input(
            "give function names or --all/--regex/--tag, not both".into(),
        ));
    }
    if !by_listing && selection.functions.is_empty() {
        return Err(DeployError::Input(
            "name at least one function, or use --all, --regex RE or --tag K=V".into(),
        ));
    }
    let regex = selection
        .regex
        .as_deref()
        .map(|re| {
            regex::Regex::new(re).map_err(|err| DeployError::Input(format!("--regex {re}: {err}")))
        })
        .transpose()?;
    let tag = selection
        .tag
        .as_deref()
        .map(|t| {
            t.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or_else(|| DeployError::Input(format!("--tag {t}: expected KEY=VALUE")))
        })
        .transpose()?;
    let mut listed = HashMap::new();
    let mut names: Vec<String> = if by_listing {
        let mut chosen = Vec::new();
        for function in list_all(aws_, limit).await? {
            let name = function.config.name.clone();
            if regex.as_ref().is_some_and(|re| !re.is_match(&name)) {
                continue;
            }
            if let Some((key, value)) = &tag {
                limit.acquire().await;
                let tags = aws_
                    .lambda
                    .list_tags()
                    .resource(&function.arn)
                    .send()
                    .await
                    .map_err(|err| aws(format!("tags of function {name}"), err))?;
                if tags.tags().and_then(|t| t.get(key)) != Some(value) {
                    continue;
                }
            }
            chosen.push(name.clone());
            listed.insert(name, function);
        }
        chosen
    } else {
        selection.functions.clone()
    };
    names.retain(|n| !selection.exclude.contains(n));
    names.sort();
    names.dedup();
    Ok(Selected { names, listed })
}
