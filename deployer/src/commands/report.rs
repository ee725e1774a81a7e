//! `deployer report`: the window (an experiment's, from the config store, or `--from/--to`), the
//! functions, the objectives, in one account and Region or across a fleet (one report of every
//! target's functions); the work is in [`crate::report`].

use crate::aws::Aws;
use crate::error::DeployError;
use crate::fleet::progress::Progress;
use crate::fleet::{self, FleetArgs};
use crate::functions::rate_limit::RateLimit;
use crate::functions::select::{Selection, select};
use crate::global::Global;
use crate::install::store::Store;
use crate::output::Output;
use crate::report::verdict::{Objectives, Window};
use crate::report::{self, Request, write};
use chrono::{DateTime, Utc};
use faultline_schema::config::Config;
use std::path::PathBuf;

/// How the report is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One self-contained page with SVG charts
    Html,
    /// Markdown, for pull requests and tickets
    Md,
    /// JSON, for scripts
    Json,
}

impl Format {
    fn extension(self) -> &'static str {
        match self {
            Format::Html => "html",
            Format::Md => "md",
            Format::Json => "json",
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The experiment whose window to report on (its start and end in the config store)
    #[arg(long, conflicts_with_all = ["from", "to"])]
    pub experiment: Option<String>,
    /// Start of the window (RFC 3339, e.g. 2026-12-06T10:00:00Z), with --to
    #[arg(long, requires = "to")]
    pub from: Option<String>,
    /// End of the window (RFC 3339), with --from
    #[arg(long, requires = "from")]
    pub to: Option<String>,
    #[command(flatten)]
    pub selection: Selection,
    /// How long before the window to show
    #[arg(long, default_value = "15m")]
    pub before: humantime::Duration,
    /// How long after the window to show
    #[arg(long, default_value = "15m")]
    pub after: humantime::Duration,
    /// Where to write it (default report.html, report.md or report.json; `-` for stdout)
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// html, md or json
    #[arg(long, value_enum, default_value_t = Format::Html)]
    pub format: Format,
    /// Objective: errors over invocations while the fault is on, at most (e.g. 1%)
    #[arg(long)]
    pub slo_error_rate: Option<String>,
    /// Objective: p99 duration while the fault is on, at most (e.g. 800ms)
    #[arg(long)]
    pub slo_p99: Option<String>,
    /// Exit 3 when an objective was missed (the report is written all the same)
    #[arg(long)]
    pub fail_on_miss: bool,
    #[command(flatten)]
    pub fleet: FleetArgs,
    /// One point per this long (default: 1m up to 3h, 5m up to a day, 1h beyond); 1s, 5s, 10s
    /// and 30s read high-resolution metrics only
    #[arg(long)]
    pub period: Option<humantime::Duration>,
}

/// `--period` in seconds: 1, 5, 10, 30 or a multiple of 60, as CloudWatch takes.
fn period(args: &Args) -> Result<Option<i32>, DeployError> {
    let Some(period) = args.period else {
        return Ok(None);
    };
    let seconds = period.as_secs();
    let valid = period.subsec_nanos() == 0
        && (matches!(seconds, 1 | 5 | 10 | 30) || (seconds >= 60 && seconds % 60 == 0));
    match i32::try_from(seconds) {
        Ok(seconds) if valid => Ok(Some(seconds)),
        _ => Err(DeployError::Input(format!(
            "--period {period}: CloudWatch takes 1s, 5s, 10s, 30s or a multiple of 1m"
        ))),
    }
}

fn instant(option: &str, text: &str) -> Result<DateTime<Utc>, DeployError> {
    DateTime::parse_from_rfc3339(text.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|err| {
            DeployError::Input(format!(
                "--{option} {text:?}: not an RFC 3339 time (2026-12-06T10:00:00Z): {err}"
            ))
        })
}

fn objectives(args: &Args) -> Result<Objectives, DeployError> {
    let error_rate = args
        .slo_error_rate
        .as_deref()
        .map(|text| {
            let number = text.trim().trim_end_matches('%').trim();
            number
                .parse::<f64>()
                .ok()
                .filter(|n| (0.0..=100.0).contains(n))
                .ok_or_else(|| {
                    DeployError::Input(format!(
                        "--slo-error-rate {text:?}: give a percentage from 0 to 100, e.g. 1%"
                    ))
                })
        })
        .transpose()?;
    let p99_ms = args
        .slo_p99
        .as_deref()
        .map(|text| {
            humantime::parse_duration(text.trim())
                .map(|d| d.as_secs_f64() * 1000.0)
                .map_err(|err| {
                    DeployError::Input(format!(
                        "--slo-p99 {text:?}: give a duration such as 800ms: {err}"
                    ))
                })
        })
        .transpose()?;
    Ok(Objectives { error_rate, p99_ms })
}

/// The window of `--experiment` (from the config) with its stop alarms, or of `--from/--to`.
async fn window(
    aws_: &Aws,
    global: &Global,
    args: &Args,
    now: DateTime<Utc>,
) -> Result<(DateTime<Utc>, DateTime<Utc>, Vec<String>), DeployError> {
    if let (Some(from), Some(to)) = (&args.from, &args.to) {
        let (from, to) = (instant("from", from)?, instant("to", to)?);
        if to <= from {
            return Err(DeployError::Input(format!(
                "--to {to} is not after --from {from}"
            )));
        }
        return Ok((from, to, Vec::new()));
    }
    let Some(name) = &args.experiment else {
        return Err(DeployError::Input(
            "say which window: --experiment NAME, or --from and --to".into(),
        ));
    };
    let store = Store::of(aws_, global.store, &global.name).await?;
    let (text, _) = store.read(aws_).await?;
    let config = Config::parse(&text)
        .map_err(|err| DeployError::Failed(format!("{}: {err}", store.describe())))?;
    let Some(experiment) = config.experiments.iter().find(|e| &e.name == name) else {
        return Err(DeployError::Input(format!(
            "no experiment named {name} in {} (an ended one is removed by the next \
             `experiment start`): pass --from and --to instead",
            store.describe()
        )));
    };
    let Some(from) = experiment.start else {
        return Err(DeployError::Input(format!(
            "experiment {name} has no start time (it runs until stopped): pass --from and --to"
        )));
    };
    // A running experiment's window ends now.
    let to = experiment.end.map_or(now, |end| end.min(now));
    let alarms = faultline_schema::stop_alarms::guarding(&config, experiment)
        .into_iter()
        .map(str::to_string)
        .collect();
    Ok((from, to.max(from), alarms))
}

/// Requests per second at most, in each account and Region.
const RATE: u32 = 10;

/// What every part of a report shares: the experiment, the objectives, the period, and the
/// margins around its window.
struct Asked {
    experiment: Option<String>,
    objectives: Objectives,
    period: Option<i32>,
    before: chrono::Duration,
    after: chrono::Duration,
    now: DateTime<Utc>,
}

impl Asked {
    fn request(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        alarms: Vec<String>,
        functions: Vec<String>,
    ) -> Request {
        Request {
            experiment: self.experiment.clone(),
            alarms,
            window: Window {
                start: from - self.before,
                from,
                to,
                end: (to + self.after).min(self.now.max(to)),
            },
            functions,
            objectives: self.objectives,
            period: self.period,
        }
    }
}

fn no_functions() -> DeployError {
    DeployError::Input("name the functions (FN..., --all, --regex or --tag)".into())
}

/// The report of every account and Region of a fleet run, and the targets that failed.
async fn fleet_report(
    aws_: &Aws,
    global: &Global,
    args: &Args,
    asked: &Asked,
) -> Result<(report::Report, Option<String>), DeployError> {
    let progress = &Progress::new(global.output == Output::Text);
    let found = args
        .fleet
        .run(aws_, RATE, progress, |target| async move {
            let (from, to, alarms) = window(&target.aws, global, args, asked.now).await?;
            let functions = select(&target.aws, &target.limit, &args.selection)
                .await?
                .names;
            Ok((target.aws, from, to, alarms, functions))
        })
        .await?;
    let failed = fleet::failures(&found);
    let found: Vec<_> = found
        .into_iter()
        .filter_map(|o| Some((o.target, o.result.ok()?)))
        .collect();
    // One window for all: from the earliest start to the latest end.
    let (Some(from), Some(to)) = (
        found.iter().map(|(_, (_, from, ..))| *from).min(),
        found.iter().map(|(_, (_, _, to, ..))| *to).max(),
    ) else {
        return Err(DeployError::Failed(
            failed.unwrap_or_else(|| "no account or Region to report on".into()),
        ));
    };
    if found
        .iter()
        .all(|(_, (.., functions))| functions.is_empty())
    {
        return Err(no_functions());
    }
    let parts = futures::future::join_all(found.into_iter().map(
        |(target, (aws_, _, _, alarms, functions))| {
            let request = asked.request(from, to, alarms, functions);
            async move {
                progress.says(&target, "reading metrics");
                let part = report::gather(&aws_, &request).await;
                progress.finish(&target, &format!("{} function(s)", part.functions.len()));
                (format!("{} {}", target.account, target.region), part)
            }
        },
    ))
    .await;
    let report = report::combine(parts)
        .ok_or_else(|| DeployError::Failed("no account or Region to report on".into()))?;
    Ok((report, failed))
}

pub async fn run(global: &Global, args: &Args) -> Result<(), DeployError> {
    // Inputs first.
    let asked = Asked {
        experiment: args.experiment.clone(),
        objectives: objectives(args)?,
        period: period(args)?,
        before: chrono::Duration::from_std(*args.before)
            .map_err(|_| DeployError::Input("--before is too long".into()))?,
        after: chrono::Duration::from_std(*args.after)
            .map_err(|_| DeployError::Input("--after is too long".into()))?,
        now: Utc::now(),
    };
    let aws_ = Aws::connect(&global.aws).await?;
    let (report, failed) = if args.fleet.is_fleet() {
        fleet_report(&aws_, global, args, &asked).await?
    } else {
        let (from, to, alarms) = window(&aws_, global, args, asked.now).await?;
        let limit = RateLimit::per_second(RATE);
        let functions = select(&aws_, &limit, &args.selection).await?.names;
        if functions.is_empty() {
            return Err(no_functions());
        }
        let request = asked.request(from, to, alarms, functions);
        (report::gather(&aws_, &request).await, None)
    };
    let text = match args.format {
        Format::Html => write::html(&report),
        Format::Md => write::markdown(&report),
        Format::Json => write::json(&report),
    };
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("report.{}", args.format.extension())));
    // The summary goes to stdout, unless the report itself does.
    let mut summary = Vec::new();
    for function in &report.functions {
        for verdict in &function.verdicts {
            summary.push(format!(
                "{}: {}: {}",
                function.name,
                verdict.objective(),
                verdict.said()
            ));
        }
    }
    if out.as_os_str() == "-" {
        print!("{text}");
        for line in summary {
            eprintln!("{line}");
        }
    } else {
        std::fs::write(&out, &text)
            .map_err(|err| DeployError::Failed(format!("cannot write {}: {err}", out.display())))?;
        println!("wrote {}", out.display());
        for line in summary {
            println!("{line}");
        }
    }
    // A target that could not be read fails the run, the report of the others written.
    if let Some(failed) = failed {
        return Err(DeployError::Failed(failed));
    }
    if args.fail_on_miss && report.missed() {
        return Err(DeployError::Missed(
            "an objective was missed (see the report)".into(),
        ));
    }
    Ok(())
}
