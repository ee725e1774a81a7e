//! One command across many accounts and Regions (`--regions`, `--accounts`, `--role-name`): a
//! target per account and Region, each reached as the role assumed in its account, all run side
//! by side under the command's one request-rate limit. A target that fails is named with its
//! account, Region and error, and never stops the others.

pub mod report;

use crate::aws::Aws;
use crate::error::DeployError;
use crate::install::names;
use crate::output::{Output, Report};
use report::FleetReport;
use std::future::Future;

/// Where a fleet run acts.
#[derive(Debug, Clone, Default, clap::Args)]
#[command(next_help_heading = "Fleet (many accounts and Regions)")]
pub struct FleetArgs {
    /// Run in each of these Regions (default: the one region)
    #[arg(long, value_delimiter = ',')]
    pub regions: Vec<String>,
    /// Run in each of these accounts, as --role-name assumed there (default: the credentials'
    /// own account)
    #[arg(long, value_delimiter = ',', requires = "role_name")]
    pub accounts: Vec<String>,
    /// The role to assume in each of --accounts (`deployer iam-policy --role-name` prints its
    /// policies)
    #[arg(long, requires = "accounts")]
    pub role_name: Option<String>,
}

/// One account and Region.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Target {
    pub account: String,
    pub region: String,
}

/// What one target gave: its result, or why it failed.
pub struct Outcome<T> {
    pub target: Target,
    pub result: Result<T, DeployError>,
}

impl FleetArgs {
    /// Whether the run spans more than the credentials' account and Region.
    pub fn is_fleet(&self) -> bool {
        !self.regions.is_empty() || !self.accounts.is_empty()
    }

    /// The targets, checked: every account with every Region.
    fn targets(&self, own_account: &str, own_region: &str) -> Result<Vec<Target>, DeployError> {
        for account in &self.accounts {
            if !names::is_account_id(account) {
                return Err(DeployError::Input(format!(
                    "--accounts: {account:?} is not a 12-digit AWS account id"
                )));
            }
        }
        for region in &self.regions {
            if !names::is_region(region) {
                return Err(DeployError::Input(format!(
                    "--regions: {region:?} is not a Region name (like us-east-1)"
                )));
            }
        }
        let accounts = if self.accounts.is_empty() {
            vec![own_account.to_string()]
        } else {
            self.accounts.clone()
        };
        let regions = if self.regions.is_empty() {
            vec![own_region.to_string()]
        } else {
            self.regions.clone()
        };
        Ok(accounts
            .iter()
            .flat_map(|account| {
                regions.iter().map(move |region| Target {
                    account: account.clone(),
                    region: region.clone(),
                })
            })
            .collect())
    }

    /// Runs `work` in every target side by side; the outcomes in target order.
    pub async fn run<T, F, Fut>(&self, base: &Aws, work: F) -> Result<Vec<Outcome<T>>, DeployError>
    where
        F: Fn(Aws, Target) -> Fut,
        Fut: Future<Output = Result<T, DeployError>>,
    {
        let own = base.account().await?;
        let targets = self.targets(&own.id, &base.region)?;
        let runs = targets.into_iter().map(|target| {
            let work = &work;
            let role = self
                .role_name
                .as_ref()
                .map(|name| format!("arn:{}:iam::{}:role/{name}", own.partition, target.account));
            async move {
                let result = match base.target(&target.region, role.as_deref()).await {
                    Ok(aws_) => work(aws_, target.clone()).await,
                    Err(err) => Err(err),
                };
                Outcome { target, result }
            }
        });
        Ok(futures::future::join_all(runs).await)
    }

    /// A command that changes functions (`enable`, `disable`) in every target: each prepared
    /// (its functions selected, by `prepare`), one confirmation for all of them (`question`,
    /// skipped with `yes`; `names` gives a target's), then each applied side by side (`apply`: its report and how many things
    /// failed). Prints every target's report; fails when anything failed, `verb` ("enabling")
    /// saying what was being done.
    #[allow(clippy::too_many_arguments)]
    pub async fn run_batch<P, R, Prep, PrepFut, App, AppFut>(
        &self,
        base: &Aws,
        output: Output,
        question: &str,
        yes: bool,
        verb: &str,
        prepare: Prep,
        names: impl Fn(&P) -> &[String],
        apply: App,
    ) -> Result<(), DeployError>
    where
        R: Report,
        Prep: Fn(Aws) -> PrepFut,
        PrepFut: Future<Output = Result<P, DeployError>>,
        App: Fn(P) -> AppFut,
        AppFut: Future<Output = (R, usize)>,
    {
        let prepared = self.run(base, |aws_, _| prepare(aws_)).await?;
        let labels: Vec<String> = prepared
            .iter()
            .filter_map(|o| Some((&o.target, o.result.as_ref().ok()?)))
            .flat_map(|(target, p)| {
                names(p)
                    .iter()
                    .map(move |name| format!("{name} ({} {})", target.account, target.region))
            })
            .collect();
        crate::confirm::confirm(question, &labels, yes)?;
        let runs = prepared.into_iter().map(|outcome| {
            let apply = &apply;
            async move {
                let result = match outcome.result {
                    Ok(prepared) => Ok(apply(prepared).await),
                    Err(err) => Err(err),
                };
                (outcome.target, result)
            }
        });
        let results = futures::future::join_all(runs).await;
        // A target that failed as a whole counts once.
        let failed: usize = results
            .iter()
            .map(|(_, r)| r.as_ref().map_or(1, |(_, failed)| *failed))
            .sum();
        let report = FleetReport::new(
            results
                .into_iter()
                .map(|(target, r)| (target, r.map(|(report, _)| report)))
                .collect(),
        );
        crate::output::print(output, &report);
        match failed {
            0 => Ok(()),
            failed => Err(DeployError::Failed(format!(
                "{failed} failure(s) while {verb} across {} account(s) and Region(s)",
                report.targets.len()
            ))),
        }
    }
}

/// The failures of a run, one line each (`account Region: error`), or None when all went well.
pub fn failures<T>(outcomes: &[Outcome<T>]) -> Option<String> {
    let lines: Vec<String> = outcomes
        .iter()
        .filter_map(|o| {
            o.result
                .as_ref()
                .err()
                .map(|err| format!("{} {}: {err}", o.target.account, o.target.region))
        })
        .collect();
    (!lines.is_empty()).then(|| {
        format!(
            "{} of {} targets failed:\n{}",
            lines.len(),
            outcomes.len(),
            lines.join("\n")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_account_meets_every_region_and_bad_ones_are_named() {
        let fleet = FleetArgs {
            regions: vec!["us-east-1".into(), "eu-west-1".into()],
            accounts: vec!["111111111111".into(), "222222222222".into()],
            role_name: Some("faultline-deployer".into()),
        };
        let targets = fleet.targets("999999999999", "us-west-2").expect("targets");
        assert_eq!(targets.len(), 4);
        assert_eq!(targets[1].account, "111111111111");
        assert_eq!(targets[1].region, "eu-west-1");
        let own = FleetArgs {
            regions: vec!["us-east-1".into()],
            ..FleetArgs::default()
        };
        let targets = own.targets("999999999999", "us-west-2").expect("targets");
        assert_eq!(targets[0].account, "999999999999");
        let bad = FleetArgs {
            accounts: vec!["1111".into()],
            ..FleetArgs::default()
        };
        let err = bad.targets("9", "us-east-1").map(|_| ()).unwrap_err();
        assert!(err.to_string().contains("--accounts"), "{err}");
        let bad = FleetArgs {
            regions: vec!["Europe".into()],
            ..FleetArgs::default()
        };
        assert!(bad.targets("9", "us-east-1").is_err());
    }
}
