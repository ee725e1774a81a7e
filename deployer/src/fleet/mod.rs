//! One command across many accounts and Regions (`--regions`, `--accounts` or
//! `--accounts-from-org`, `--role-name`): a target per account and Region, each reached as the
//! role assumed in its account, all run side by side. Each target keeps to the command's pace
//! (AWS's API quotas are per account and Region) and the whole run to `--max-rate`. A target that
//! fails is named with its account, Region and error, and never stops the others.

pub mod discover;
pub mod progress;
pub mod report;

use crate::aws::Aws;
use crate::error::DeployError;
use crate::functions::rate_limit::RateLimit;
use crate::install::names;
use crate::output::{Output, Report};
use indicatif::ProgressBar;
use progress::Progress;
use report::FleetReport;
use std::future::Future;
use std::sync::Arc;

/// The pace of each target of [`FleetArgs::run_report`], in requests per second.
const REPORT_RATE: u32 = 10;

/// `--regions all-enabled`.
const ALL_ENABLED: &str = "all-enabled";

/// The whole run's pace when `--max-rate` is not given, in requests per second.
const MAX_RATE: u32 = 100;

/// Where a fleet run acts.
#[derive(Debug, Clone, Default, clap::Args)]
#[command(next_help_heading = "Fleet (many accounts and Regions)")]
pub struct FleetArgs {
    /// Run in each of these Regions, or `all-enabled`: every Region enabled in each account
    /// (account:ListRegions) (default: the one region)
    #[arg(long, value_delimiter = ',')]
    pub regions: Vec<String>,
    /// Run in each of these accounts, as --role-name assumed there (default: the credentials'
    /// own account)
    #[arg(long, value_delimiter = ',', conflicts_with = "accounts_from_org")]
    pub accounts: Vec<String>,
    /// Run in every active account under this organizational unit or root (ou-... or r-...,
    /// and the units beneath it), listed with these credentials (the management account or a
    /// delegated administrator)
    #[arg(long, value_name = "OU_ID")]
    pub accounts_from_org: Option<String>,
    /// The role to assume in each account (`deployer iam-policy --role-name` prints its
    /// policies)
    #[arg(long)]
    pub role_name: Option<String>,
    /// Requests per second at most across the whole run (default 100); each account and Region
    /// also keeps to the command's own pace
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_rate: Option<u32>,
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

/// A target, reached: its clients (as the role assumed in its account) and its pace.
pub struct Reached {
    pub aws: Aws,
    pub target: Target,
    pub limit: Arc<RateLimit>,
}

impl FleetArgs {
    /// Whether any fleet option was given (the run then goes through [`FleetArgs::run`], which
    /// checks them all).
    pub fn is_fleet(&self) -> bool {
        !self.regions.is_empty()
            || !self.accounts.is_empty()
            || self.accounts_from_org.is_some()
            || self.role_name.is_some()
            || self.max_rate.is_some()
    }

    /// The options checked, before anything is read: the accounts given (none when found in the
    /// organization or when there is only the credentials' own), and the Regions given (None for
    /// `all-enabled`, empty for the credentials' own).
    fn checked(&self) -> Result<(Vec<String>, Option<Vec<String>>), DeployError> {
        for account in &self.accounts {
            if !names::is_account_id(account) {
                return Err(DeployError::Input(format!(
                    "--accounts: {account:?} is not a 12-digit AWS account id"
                )));
            }
        }
        if let Some(parent) = &self.accounts_from_org
            && !discover::is_parent_id(parent)
        {
            return Err(DeployError::Input(format!(
                "--accounts-from-org: {parent:?} is not an organizational unit id \
                 (ou-xxxx-xxxxxxxx) or a root id (r-xxxx)"
            )));
        }
        let other_accounts = !self.accounts.is_empty() || self.accounts_from_org.is_some();
        match (&self.role_name, other_accounts) {
            (None, true) => {
                return Err(DeployError::Input(
                    "--accounts and --accounts-from-org need --role-name: the role to assume in \
                     each account"
                        .into(),
                ));
            }
            (Some(_), false) => {
                return Err(DeployError::Input(
                    "--role-name needs --accounts or --accounts-from-org".into(),
                ));
            }
            _ => {}
        }
        if self.regions.iter().any(|r| r == ALL_ENABLED) {
            if self.regions.len() > 1 {
                return Err(DeployError::Input(format!(
                    "--regions {ALL_ENABLED} stands alone: it means every Region enabled in \
                     each account"
                )));
            }
            return Ok((self.accounts.clone(), None));
        }
        for region in &self.regions {
            if !names::is_region(region) {
                return Err(DeployError::Input(format!(
                    "--regions: {region:?} is not a Region name (like us-east-1) or \
                     {ALL_ENABLED}"
                )));
            }
        }
        Ok((self.accounts.clone(), Some(self.regions.clone())))
    }

    /// Every account with every Region; an account whose Regions could not be listed is one
    /// failed target (its Region `all-enabled`).
    async fn targets(
        &self,
        base: &Aws,
        own_account: &str,
        partition: &str,
    ) -> Result<(Vec<Target>, Vec<(Target, DeployError)>), DeployError> {
        let (mut accounts, regions) = self.checked()?;
        if let Some(parent) = &self.accounts_from_org {
            accounts = discover::org_accounts(base, parent).await?;
            if accounts.is_empty() {
                return Err(DeployError::Input(format!(
                    "--accounts-from-org {parent}: no active account there"
                )));
            }
        }
        if accounts.is_empty() {
            accounts.push(own_account.to_string());
        }
        match regions {
            Some(regions) if regions.is_empty() => {
                return Ok((
                    cross(&accounts, std::slice::from_ref(&base.region)),
                    Vec::new(),
                ));
            }
            Some(regions) => return Ok((cross(&accounts, &regions), Vec::new())),
            None => {}
        }
        // all-enabled: each account's own list, side by side.
        let listed = futures::future::join_all(accounts.iter().map(|account| async move {
            let role = self.role_arn(partition, account);
            let regions = match base.target(&base.region, role.as_deref()).await {
                Ok(aws_) => discover::enabled_regions(&aws_).await,
                Err(err) => Err(err),
            };
            (account, regions)
        }))
        .await;
        let mut targets = Vec::new();
        let mut failed = Vec::new();
        for (account, regions) in listed {
            match regions {
                Ok(regions) => targets.extend(cross(std::slice::from_ref(account), &regions)),
                Err(err) => failed.push((
                    Target {
                        account: account.clone(),
                        region: ALL_ENABLED.to_string(),
                    },
                    err,
                )),
            }
        }
        Ok((targets, failed))
    }

    /// The role to assume in `account`, when the run names one.
    fn role_arn(&self, partition: &str, account: &str) -> Option<String> {
        self.role_name
            .as_ref()
            .map(|name| format!("arn:{partition}:iam::{account}:role/{name}"))
    }

    /// Runs `work` in every target side by side, each at `rate` requests per second within the
    /// whole run's `--max-rate`; the outcomes in target order (an account whose Regions could
    /// not be listed last). `progress` shows each target's line.
    pub async fn run<T, F, Fut>(
        &self,
        base: &Aws,
        rate: u32,
        progress: &Progress,
        work: F,
    ) -> Result<Vec<Outcome<T>>, DeployError>
    where
        F: Fn(Reached) -> Fut,
        Fut: Future<Output = Result<T, DeployError>>,
    {
        let own = base.account().await?;
        let (targets, unlisted) = self.targets(base, &own.id, &own.partition).await?;
        let whole = Arc::new(RateLimit::per_second(self.max_rate.unwrap_or(MAX_RATE)));
        let runs = targets.into_iter().map(|target| {
            let work = &work;
            let role = self.role_arn(&own.partition, &target.account);
            let limit = Arc::new(RateLimit::within(&whole, rate));
            async move {
                progress.says(&target, "reading");
                let result = match base.target(&target.region, role.as_deref()).await {
                    Ok(aws_) => {
                        work(Reached {
                            aws: aws_,
                            target: target.clone(),
                            limit,
                        })
                        .await
                    }
                    Err(err) => Err(err),
                };
                if let Err(err) = &result {
                    progress.finish(&target, &format!("failed: {err}"));
                }
                Outcome { target, result }
            }
        });
        let mut outcomes = futures::future::join_all(runs).await;
        outcomes.extend(unlisted.into_iter().map(|(target, err)| {
            progress.finish(&target, &format!("failed: {err}"));
            Outcome {
                target,
                result: Err(err),
            }
        }));
        Ok(outcomes)
    }

    /// A command with one report per target (`experiment`): `work` in every target side by side,
    /// every target's report printed, failing when any target failed (each named).
    pub async fn run_report<R, F, Fut>(
        &self,
        base: &Aws,
        output: Output,
        work: F,
    ) -> Result<(), DeployError>
    where
        R: Report,
        F: Fn(Reached) -> Fut,
        Fut: Future<Output = Result<R, DeployError>>,
    {
        let progress = &Progress::new(output == Output::Text);
        let outcomes = self
            .run(base, REPORT_RATE, progress, |reached| {
                let target = reached.target.clone();
                let done = work(reached);
                async move {
                    let report = done.await?;
                    progress.finish(&target, "done");
                    Ok(report)
                }
            })
            .await?;
        let failed = failures(&outcomes);
        let report = FleetReport::new(outcomes.into_iter().map(|o| (o.target, o.result)).collect());
        crate::output::print(output, &report);
        match failed {
            Some(summary) => Err(DeployError::Failed(summary)),
            None => Ok(()),
        }
    }

    /// A command that changes functions (`enable`, `disable`) in every target: each prepared
    /// (its functions selected, by `prepare`, at `rate` requests per second), one confirmation
    /// for all of them (`question`, skipped with `yes`; `names` gives a target's), then each
    /// applied side by side (`apply`, given the target's progress line: its report and how many
    /// things failed). Prints every target's report; fails when anything failed, `verb`
    /// ("enabling") saying what was being done.
    #[allow(clippy::too_many_arguments)]
    pub async fn run_batch<P, R, Prep, PrepFut, App, AppFut>(
        &self,
        base: &Aws,
        rate: u32,
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
        Prep: Fn(Reached) -> PrepFut,
        PrepFut: Future<Output = Result<P, DeployError>>,
        App: Fn(P, Option<ProgressBar>) -> AppFut,
        AppFut: Future<Output = (R, usize)>,
    {
        let progress = Progress::new(output == Output::Text);
        let prepared = self.run(base, rate, &progress, prepare).await?;
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
            let (apply, progress, names) = (&apply, &progress, &names);
            async move {
                let result = match outcome.result {
                    Ok(prepared) => {
                        let bar = progress.counting(&outcome.target, names(&prepared).len());
                        let (report, failed) = apply(prepared, bar).await;
                        let said = match failed {
                            0 => "done".to_string(),
                            failed => format!("{failed} failed"),
                        };
                        progress.finish(&outcome.target, &said);
                        Ok((report, failed))
                    }
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

/// Every account with every Region.
fn cross(accounts: &[String], regions: &[String]) -> Vec<Target> {
    accounts
        .iter()
        .flat_map(|account| {
            regions.iter().map(move |region| Target {
                account: account.clone(),
                region: region.clone(),
            })
        })
        .collect()
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
            ..FleetArgs::default()
        };
        let (accounts, regions) = fleet.checked().expect("checked");
        let targets = cross(&accounts, &regions.expect("regions given"));
        assert_eq!(targets.len(), 4);
        assert_eq!(targets[1].account, "111111111111");
        assert_eq!(targets[1].region, "eu-west-1");
        let err = |fleet: FleetArgs| fleet.checked().map(|_| ()).unwrap_err().to_string();
        let bad = err(FleetArgs {
            accounts: vec!["1111".into()],
            role_name: Some("r".into()),
            ..FleetArgs::default()
        });
        assert!(bad.contains("--accounts: \"1111\""), "{bad}");
        let bad = err(FleetArgs {
            regions: vec!["Europe".into()],
            ..FleetArgs::default()
        });
        assert!(bad.contains("\"Europe\" is not a Region"), "{bad}");
        let bad = err(FleetArgs {
            accounts: vec!["111111111111".into()],
            ..FleetArgs::default()
        });
        assert!(bad.contains("need --role-name"), "{bad}");
        let bad = err(FleetArgs {
            role_name: Some("r".into()),
            ..FleetArgs::default()
        });
        assert!(bad.contains("--role-name needs"), "{bad}");
        let bad = err(FleetArgs {
            accounts_from_org: Some("111111111111".into()),
            role_name: Some("r".into()),
            ..FleetArgs::default()
        });
        assert!(
            bad.contains("--accounts-from-org: \"111111111111\""),
            "{bad}"
        );
        let bad = err(FleetArgs {
            regions: vec!["all-enabled".into(), "us-east-1".into()],
            ..FleetArgs::default()
        });
        assert!(bad.contains("stands alone"), "{bad}");
        let all = FleetArgs {
            regions: vec!["all-enabled".into()],
            ..FleetArgs::default()
        };
        assert_eq!(all.checked().expect("checked").1, None);
    }
}
