//! `experiment start`'s options, and the experiment they describe ([`ExperimentSpec`], the
//! schema's own type for a new experiment).

use crate::error::DeployError;
use faultline_schema::config::{
    AwsErrorSpec, BatchFailuresSpec, CorruptSpec, CpuSpec, DiskSpec, EffectSpec, ExperimentSpec,
    GuardSpec, HttpResponseSpec, MemorySpec, Rate, TimeoutSpec,
};
use std::collections::BTreeMap;
use std::time::Duration;

/// The window an experiment gets when `--duration` is not given.
const DEFAULT_WINDOW: Duration = Duration::from_secs(15 * 60);
/// The longest `--duration`.
const MAX_WINDOW: Duration = Duration::from_secs(24 * 60 * 60);

/// `deployer experiment start`
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("effect").required(true).multiple(true).args(["latency", "exception", "http_status", "aws_error", "corrupt", "timeout", "batch_item_failures", "disk_fill", "disk_leave_free", "memory", "cpu"])))]
pub struct StartArgs {
    /// Flag to target: ingress, http-ingress, response, egress, dependency-HOST, aws-SERVICE,
    /// init (cold starts of functions enabled with --init-faults), or an SDK flag
    #[arg(long)]
    pub flag: String,
    /// Experiment name (default: the flag and the time); `--name` is the install's name prefix
    #[arg(long = "experiment", id = "experiment_name", value_name = "NAME")]
    pub name: Option<String>,
    /// Label selector, key=value (several values: a|b); repeatable or comma-separated
    #[arg(long, value_delimiter = ',')]
    pub selector: Vec<String>,
    /// Share of matching requests affected: 0..1 (0.25) or a percentage with % (25%)
    #[arg(long, default_value = "1")]
    pub rate: String,
    /// Added latency in milliseconds
    #[arg(long)]
    pub latency: Option<u64>,
    /// Fail with this message
    #[arg(long)]
    pub exception: Option<String>,
    /// Answer with this HTTP status
    #[arg(long)]
    pub http_status: Option<u16>,
    /// Answer an AWS call with this service error code, in the service's own protocol (flag
    /// aws-<service>; the function enabled with --aws-services): ThrottlingException, SlowDown
    #[arg(long, value_name = "CODE")]
    pub aws_error: Option<String>,
    /// The HTTP status of --aws-error (default: the one AWS uses for the code: 400, 429, 500
    /// or 503)
    #[arg(long, value_name = "STATUS", requires = "aws_error")]
    pub aws_error_status: Option<u16>,
    /// Corrupt the function's answer after the handler ran (flag response): truncate=FRACTION
    /// keeps that part of the body (0 up to 1), mangle flips bytes so it no longer parses
    #[arg(long, value_name = "truncate=FRACTION|mangle")]
    pub corrupt: Option<String>,
    /// Make invocations time out (flag ingress or http-ingress): `hold` keeps the event past its
    /// deadline so Lambda times it out; a duration (300ms) delivers it with only that time left
    #[arg(long, value_name = "hold|DURATION")]
    pub timeout: Option<String>,
    /// Report each record of an SQS, Kinesis or DynamoDB-stream batch as failed with this
    /// probability, merged with the handler's own (flag response): 0..1 or a percentage (20%)
    #[arg(long, value_name = "RATE")]
    pub batch_item_failures: Option<String>,
    /// Fill the temporary directory (/tmp) with a file of this many MB while the experiment
    /// runs (flag environment); never more than the free space less 1 MiB
    #[arg(long, value_name = "MB", conflicts_with = "disk_leave_free")]
    pub disk_fill: Option<u64>,
    /// Fill the temporary directory until only this many MB are free (flag environment)
    #[arg(long, value_name = "MB")]
    pub disk_leave_free: Option<u64>,
    /// Hold this many MB of memory in the function's sandbox while the experiment runs (flag
    /// environment); refused above 90 % of the function's memory without --allow-oom
    #[arg(long, value_name = "MB")]
    pub memory: Option<u64>,
    /// Let --memory go past 90 % of the function's memory: a rehearsal of an out-of-memory kill
    #[arg(long, requires = "memory")]
    pub allow_oom: bool,
    /// Burn this share of one CPU while the experiment runs (flag environment): 1 to 100
    #[arg(long, value_name = "PERCENT")]
    pub cpu: Option<u8>,
    /// Suspend the experiment in an execution environment where this share of invocations
    /// fails on its own (their own errors, 5xx answers, timeouts; injected faults never count),
    /// over 60 s and at least 20 invocations: 0..1 or a percentage (50%). Default: no guard
    #[arg(long, value_name = "RATE")]
    pub guard: Option<String>,
    /// Stop by itself after this long, at most 24h (default 15m); starts now
    #[arg(long, conflicts_with = "until_stopped")]
    pub duration: Option<String>,
    /// Run with no end, until `experiment stop` (or a stop alarm, or the dead-man)
    #[arg(long)]
    pub until_stopped: bool,
    /// Halt the experiment when this CloudWatch alarm (name or ARN) is in ALARM; repeatable.
    /// Refused when the alarm does not exist or is in ALARM already
    #[arg(long = "stop-on-alarm", value_name = "ALARM")]
    pub stop_on_alarms: Vec<String>,
}

/// The experiment `start` describes, beginning at `now`; each bad option is named.
pub fn spec(
    args: &StartArgs,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<ExperimentSpec, DeployError> {
    let name = args
        .name
        .clone()
        .unwrap_or_else(|| format!("{}-{}", args.flag, now.format("%Y%m%d%H%M%S")));
    let mut selector = BTreeMap::new();
    for pair in &args.selector {
        let (key, values) = pair.split_once('=').ok_or_else(|| {
            DeployError::Input(format!(
                "--selector {pair}: expected key=value (values separated by |)"
            ))
        })?;
        let values = values.split('|').map(|v| v.trim().to_string()).collect();
        selector.insert(key.trim().to_string(), values);
    }
    let rate = Rate::parse(&args.rate)
        .map_err(|reason| DeployError::Input(format!("--rate {}: {reason}", args.rate)))?;
    let window = if args.until_stopped {
        None
    } else {
        Some(window(args.duration.as_deref())?)
    };
    let effect = EffectSpec {
        latency: args.latency,
        exception: args.exception.clone(),
        http_response: args.http_status.map(|code| HttpResponseSpec { code }),
        aws_error: args.aws_error.as_ref().map(|code| AwsErrorSpec {
            code: code.trim().to_string(),
            status: args.aws_error_status,
        }),
        corrupt: args.corrupt.as_deref().map(corrupt).transpose()?,
        timeout: args.timeout.as_deref().map(timeout).transpose()?,
        batch_item_failures: args
            .batch_item_failures
            .as_deref()
            .map(|text| {
                Rate::parse(text)
                    .map(|rate| BatchFailuresSpec { rate: rate.value() })
                    .map_err(|reason| {
                        DeployError::Input(format!("--batch-item-failures {text}: {reason}"))
                    })
            })
            .transpose()?,
        disk: match (args.disk_fill, args.disk_leave_free) {
            (Some(fill_mb), _) => Some(DiskSpec::Fill { fill_mb }),
            (None, Some(leave_free_mb)) => Some(DiskSpec::LeaveFree { leave_free_mb }),
            (None, None) => None,
        },
        memory: args.memory.map(|mb| MemorySpec {
            mb,
            allow_oom: args.allow_oom,
        }),
        cpu: args.cpu.map(|percent| CpuSpec { percent }),
    };
    let guard = args
        .guard
        .as_deref()
        .map(|text| {
            Rate::parse(text)
                .map(|rate| GuardSpec {
                    max_error_rate: rate.value(),
                })
                .map_err(|reason| DeployError::Input(format!("--guard {text}: {reason}")))
        })
        .transpose()?;
    if effect.is_empty() {
        return Err(DeployError::Input(
            "give an effect: --latency MS, --exception MESSAGE, --http-status CODE, \
             --aws-error CODE, --corrupt truncate=FRACTION|mangle, --timeout hold|DURATION or \
             --batch-item-failures RATE (or, on the environment flag, --disk-fill MB, \
             --disk-leave-free MB, --memory MB, --cpu PERCENT)"
                .into(),
        ));
    }
    Ok(ExperimentSpec {
        name,
        flag: args.flag.clone(),
        selector,
        rate: rate.value(),
        start: window.map(|_| now),
        duration: window,
        stop_on_alarms: args
            .stop_on_alarms
            .iter()
            .map(|a| a.trim().to_string())
            .collect(),
        guard,
        effect,
    })
}

/// `--corrupt`: `truncate=FRACTION` or `mangle` (the schema checks the fraction).
fn corrupt(text: &str) -> Result<CorruptSpec, DeployError> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("mangle") {
        return Ok(CorruptSpec::Mangle { mangle: true });
    }
    text.strip_prefix("truncate=")
        .and_then(|fraction| fraction.trim().parse::<f64>().ok())
        .map(|truncate| CorruptSpec::Truncate { truncate })
        .ok_or_else(|| {
            DeployError::Input(format!(
                "--corrupt {text}: give truncate=FRACTION (0.5 keeps half the body) or mangle"
            ))
        })
}

/// `--timeout`: `hold`, or the time the handler is left (`300ms`, `2s`).
fn timeout(text: &str) -> Result<TimeoutSpec, DeployError> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("hold") {
        return Ok(TimeoutSpec::default());
    }
    let left = humantime::parse_duration(text).map_err(|err| {
        DeployError::Input(format!(
            "--timeout {text}: give hold, or the time left to the handler like 300ms ({err})"
        ))
    })?;
    Ok(TimeoutSpec {
        buffer_ms: Some(u64::try_from(left.as_millis()).unwrap_or(u64::MAX)),
    })
}

/// `--duration`: 15 minutes when not given, at most 24 hours.
fn window(duration: Option<&str>) -> Result<Duration, DeployError> {
    let Some(text) = duration else {
        return Ok(DEFAULT_WINDOW);
    };
    let window = humantime::parse_duration(text.trim()).map_err(|err| {
        DeployError::Input(format!(
            "--duration {text}: not a duration like 15m or 2h ({err})"
        ))
    })?;
    if window.is_zero() || window > MAX_WINDOW {
        return Err(DeployError::Input(format!(
            "--duration {text}: give at most 24h (or --until-stopped for no end)"
        )));
    }
    Ok(window)
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_schema::config::{Config, Document};

    pub(crate) fn start_args(flag: &str) -> StartArgs {
        StartArgs {
            flag: flag.into(),
            name: Some("slow".into()),
            selector: vec!["function-name=checkout|payments".into()],
            rate: "50%".into(),
            latency: Some(200),
            exception: None,
            http_status: None,
            aws_error: None,
            aws_error_status: None,
            corrupt: None,
            timeout: None,
            batch_item_failures: None,
            disk_fill: None,
            disk_leave_free: None,
            memory: None,
            allow_oom: false,
            cpu: None,
            guard: None,
            duration: Some("15m".into()),
            until_stopped: false,
            stop_on_alarms: vec!["orders-5xx".into()],
        }
    }

    #[test]
    fn started_experiments_pass_the_shared_schema() {
        let mut doc = Document::parse("debug: true\n").unwrap();
        doc.add(&spec(&start_args("ingress"), chrono::Utc::now()).unwrap())
            .unwrap();
        let config = Config::parse_strict(&doc.render().unwrap()).expect("valid");
        assert!(config.debug);
        assert_eq!(
            config.experiments[0].selector["function-name"],
            ["checkout", "payments"]
        );
        assert!(config.experiments[0].end.is_some());
        let mut no_effect = start_args("ingress");
        no_effect.latency = None;
        assert!(spec(&no_effect, chrono::Utc::now()).is_err());
    }

    #[test]
    fn windows_default_to_fifteen_minutes_and_are_bounded() {
        let now = chrono::Utc::now();
        let mut args = start_args("ingress");
        args.duration = None;
        let experiment = spec(&args, now).unwrap();
        assert_eq!(experiment.duration, Some(DEFAULT_WINDOW));
        assert_eq!(experiment.start, Some(now));
        assert_eq!(experiment.stop_on_alarms, ["orders-5xx"]);
        args.duration = Some("25h".into());
        assert!(matches!(spec(&args, now), Err(DeployError::Input(m)) if m.contains("24h")));
        args.duration = Some("300000y".into());
        assert!(spec(&args, now).is_err());
        args.duration = None;
        args.until_stopped = true;
        let open = spec(&args, now).unwrap();
        assert!(open.duration.is_none() && open.start.is_none());
        args.selector = vec!["nokey".into()];
        assert!(
            matches!(spec(&args, now), Err(DeployError::Input(m)) if m.contains("--selector nokey"))
        );
    }

    #[test]
    fn environment_effects_and_a_guard_pass_the_shared_schema() {
        let mut args = start_args("environment");
        args.latency = None;
        args.disk_fill = Some(400);
        args.memory = Some(512);
        args.allow_oom = true;
        args.cpu = Some(50);
        args.guard = Some("50%".into());
        let mut doc = Document::parse("").unwrap();
        doc.add(&spec(&args, chrono::Utc::now()).unwrap()).unwrap();
        let config = Config::parse_strict(&doc.render().unwrap()).expect("valid");
        let experiment = &config.experiments[0];
        assert!(experiment.effect.on_environment());
        assert_eq!(
            experiment.guard.map(|g| g.max_error_rate.value()),
            Some(0.5)
        );
        args.guard = Some("150%".into());
        assert!(
            matches!(spec(&args, chrono::Utc::now()), Err(DeployError::Input(m)) if m.contains("--guard"))
        );
    }
}
