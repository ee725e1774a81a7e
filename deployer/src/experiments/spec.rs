//! `experiment start`'s options, and the experiment they describe ([`ExperimentSpec`], the
//! schema's own type for a new experiment).

use crate::error::DeployError;
use faultline_schema::config::{
    AwsErrorSpec, BatchFailuresSpec, CorruptSpec, EffectSpec, ExperimentSpec, HttpResponseSpec,
    Rate, TimeoutSpec,
};
use std::collections::BTreeMap;
use std::time::Duration;

/// The window an experiment gets when `--duration` is not given.
const DEFAULT_WINDOW: Duration = Duration::from_secs(15 * 60);
/// The longest `--duration`.
const MAX_WINDOW: Duration = Duration::from_secs(24 * 60 * 60);

/// `deployer experiment start`
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("effect").required(true).multiple(true).args(["latency", "exception", "http_status", "aws_error", "corrupt", "timeout", "batch_item_failures"])))]
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
    };
    if effect.is_empty() {
        return Err(DeployError::Input(
            "give an effect: --latency MS, --exception MESSAGE, --http-status CODE, \
             --aws-error CODE, --corrupt truncate=FRACTION|mangle, --timeout hold|DURATION or \
             --batch-item-failures RATE"
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
}
