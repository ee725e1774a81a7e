//! `deployer report`: did the system stay within its objectives while the fault was on? The
//! experiment's window (from the config, or given), the periods before and after it, each
//! function's Lambda metrics and faultline's own, the stop alarms' transitions; written as one
//! self-contained HTML page with SVG charts ([`chart`], [`write`]), as Markdown, or as JSON.
//!
//! Reading never fails the report as a whole: a metric CloudWatch refuses (moto answers 500 to
//! percentile statistics and to `DescribeAlarmHistory`) is "no data", with the reason.

pub mod chart;
pub mod metrics;
pub mod series;
pub mod verdict;
pub mod write;

use crate::aws::Aws;
use chrono::{DateTime, Utc};
use metrics::{Query, Transition};
use serde::Serialize;
use series::Series;
use verdict::{Figures, Objectives, Phase, Verdict, Window};

/// What to report on.
#[derive(Debug, Clone)]
pub struct Request {
    /// The experiment, when the window is its own.
    pub experiment: Option<String>,
    /// Its stop alarms (their transitions are marked).
    pub alarms: Vec<String>,
    pub window: Window,
    pub functions: Vec<String>,
    pub objectives: Objectives,
    /// The period asked for, in seconds (else one suited to the span).
    pub period: Option<i32>,
}

/// faultline's own series for the experiment.
#[derive(Debug, Clone, Serialize)]
pub struct ExperimentSeries {
    pub faults: Series,
    pub halted: Series,
    pub guard_tripped: Series,
}

/// The stop alarms and what they did.
#[derive(Debug, Clone, Serialize)]
pub struct Alarms {
    pub names: Vec<String>,
    pub transitions: Vec<Transition>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing: Option<String>,
}

/// One function's part.
#[derive(Debug, Clone, Serialize)]
pub struct FunctionReport {
    pub name: String,
    pub invocations: Series,
    pub errors: Series,
    pub throttles: Series,
    pub p50: Series,
    pub p99: Series,
    pub faults: Series,
    pub suspended: Series,
    pub figures: Vec<Figures>,
    pub verdicts: Vec<Verdict>,
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub experiment: Option<String>,
    pub window: Window,
    pub period_seconds: i32,
    pub objectives: Objectives,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub experiment_series: Option<ExperimentSeries>,
    pub alarms: Alarms,
    pub functions: Vec<FunctionReport>,
    pub generated: DateTime<Utc>,
}

impl Report {
    /// Whether any objective was missed (`--fail-on-miss` exits 3).
    pub fn missed(&self) -> bool {
        self.functions
            .iter()
            .any(|f| f.verdicts.iter().any(Verdict::is_missed))
    }
}

/// The period suited to a span: a minute up to three hours, five minutes up to a day, an hour
/// beyond (GetMetricData keeps minutes for 15 days, five minutes for 63).
pub fn period_for(window: &Window) -> i32 {
    let span = window.end - window.start;
    if span <= chrono::Duration::hours(3) {
        60
    } else if span <= chrono::Duration::hours(24) {
        300
    } else {
        3600
    }
}

const LAMBDA: &str = "AWS/Lambda";
const FAULTLINE: &str = "faultline";

async fn function_report(aws_: &Aws, request: &Request, name: &str, period: i32) -> FunctionReport {
    let window = &request.window;
    let (start, end) = (window.start, window.end);
    let by_name = || vec![("FunctionName", name.to_string())];
    let mut sums = metrics::fetch(
        aws_,
        &[
            Query::new(LAMBDA, "Invocations", by_name(), "Sum"),
            Query::new(LAMBDA, "Errors", by_name(), "Sum"),
            Query::new(LAMBDA, "Throttles", by_name(), "Sum"),
            Query::new(
                FAULTLINE,
                "ExperimentsSuspended",
                vec![("function-name", name.to_string())],
                "Sum",
            ),
        ],
        start,
        end,
        period,
    )
    .await
    .into_iter();
    let mut next = || sums.next().unwrap_or_default();
    let (invocations, errors, throttles, suspended) = (next(), next(), next(), next());
    // Percentiles apart: a refusal of them (moto) leaves the sums standing.
    let mut percentiles = metrics::fetch(
        aws_,
        &[
            Query::new(LAMBDA, "Duration", by_name(), "p50"),
            Query::new(LAMBDA, "Duration", by_name(), "p99"),
        ],
        start,
        end,
        period,
    )
    .await
    .into_iter();
    let p50 = percentiles.next().unwrap_or_default();
    let p99 = percentiles.next().unwrap_or_default();
    let faults = match metrics::fault_flags(aws_, name).await {
        Ok(flags) => {
            let queries: Vec<Query> = flags
                .iter()
                .map(|flag| {
                    Query::new(
                        FAULTLINE,
                        "FaultsInjected",
                        vec![("function-name", name.to_string()), ("flag", flag.clone())],
                        "Sum",
                    )
                })
                .collect();
            let mut total = Series::default();
            if !queries.is_empty() {
                for series in metrics::fetch(aws_, &queries, start, end, period).await {
                    total.add(&series);
                }
            }
            total
        }
        Err(reason) => Series::missing(reason),
    };
    let figures: Vec<Figures> = Phase::ALL
        .iter()
        .map(|phase| Figures::of(*phase, window, &invocations, &errors, &p99, &faults))
        .collect();
    let during = figures
        .iter()
        .find(|f| f.phase == Phase::During)
        .cloned()
        .unwrap_or_else(|| {
            Figures::of(Phase::During, window, &invocations, &errors, &p99, &faults)
        });
    let why_errors = errors.missing.as_deref().or(invocations.missing.as_deref());
    let verdicts = verdict::verdicts(
        &request.objectives,
        &during,
        why_errors,
        p99.missing.as_deref(),
    );
    FunctionReport {
        name: name.to_string(),
        invocations,
        errors,
        throttles,
        p50,
        p99,
        faults,
        suspended,
        figures,
        verdicts,
    }
}

/// Reads everything the report shows.
pub async fn gather(aws_: &Aws, request: &Request) -> Report {
    let window = request.window;
    let period = request.period.unwrap_or_else(|| period_for(&window));
    let experiment_series = match &request.experiment {
        Some(experiment) => {
            let by_experiment = || vec![("experiment", experiment.clone())];
            let mut read = metrics::fetch(
                aws_,
                &[
                    Query::new(FAULTLINE, "FaultsInjected", by_experiment(), "Sum"),
                    Query::new(FAULTLINE, "ExperimentHalted", by_experiment(), "Sum"),
                    Query::new(FAULTLINE, "ExperimentGuardTripped", by_experiment(), "Sum"),
                ],
                window.start,
                window.end,
                period,
            )
            .await
            .into_iter();
            let mut next = || read.next().unwrap_or_default();
            Some(ExperimentSeries {
                faults: next(),
                halted: next(),
                guard_tripped: next(),
            })
        }
        None => None,
    };
    let alarms = if request.alarms.is_empty() {
        Alarms {
            names: Vec::new(),
            transitions: Vec::new(),
            missing: None,
        }
    } else {
        match metrics::alarm_transitions(aws_, &request.alarms, window.start, window.end).await {
            Ok(transitions) => Alarms {
                names: request.alarms.clone(),
                transitions,
                missing: None,
            },
            Err(reason) => Alarms {
                names: request.alarms.clone(),
                transitions: Vec::new(),
                missing: Some(reason),
            },
        }
    };
    let mut functions = Vec::new();
    for name in &request.functions {
        functions.push(function_report(aws_, request, name, period).await);
    }
    Report {
        experiment: request.experiment.clone(),
        window,
        period_seconds: period,
        objectives: request.objectives,
        experiment_series,
        alarms,
        functions,
        generated: Utc::now(),
    }
}

/// The reports of many accounts and Regions as one (`report` across a fleet; all of the same
/// window, period and objectives): each part's functions and alarms named with its label
/// (`ACCOUNT REGION`), the experiment's own series summed over the parts. None for no part.
pub fn combine(parts: Vec<(String, Report)>) -> Option<Report> {
    let mut parts = parts.into_iter();
    let (label, mut whole) = parts.next()?;
    let named = |label: &str, report: &mut Report| {
        for function in &mut report.functions {
            function.name = format!("{label} {}", function.name);
        }
        for name in &mut report.alarms.names {
            *name = format!("{label} {name}");
        }
        for transition in &mut report.alarms.transitions {
            transition.alarm = format!("{label} {}", transition.alarm);
        }
        if let Some(missing) = &mut report.alarms.missing {
            *missing = format!("{label}: {missing}");
        }
    };
    named(&label, &mut whole);
    for (label, mut part) in parts {
        named(&label, &mut part);
        if let (Some(total), Some(series)) = (&mut whole.experiment_series, &part.experiment_series)
        {
            total.faults.add(&series.faults);
            total.halted.add(&series.halted);
            total.guard_tripped.add(&series.guard_tripped);
        }
        whole.alarms.names.append(&mut part.alarms.names);
        whole
            .alarms
            .transitions
            .append(&mut part.alarms.transitions);
        if whole.alarms.missing.is_none() {
            whole.alarms.missing = part.alarms.missing;
        }
        whole.functions.append(&mut part.functions);
    }
    whole.alarms.transitions.sort_by_key(|t| t.at);
    Some(whole)
}
