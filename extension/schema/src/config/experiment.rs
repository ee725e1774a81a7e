//! Experiments: which flag, which labels, how often, when, and what fault.
//!
//! Each experiment is validated on its own so that the extension can drop an invalid one (logging
//! why) and still apply the others. The deployer refuses the whole document instead.

use super::environment::{
    CpuEffect, DiskEffect, Guard, MemoryEffect, RawCpu, RawDisk, RawGuard, RawMemory,
};
use super::values::{HumanDuration, Rate, RawRate, Scalar, parse_duration};
use base64::Engine as _;
use chrono::{DateTime, Datelike as _, Utc};
use serde::Deserialize;
use serde_yaml_ng::Value;
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// Longest latency an experiment may inject: Lambda's maximum timeout.
pub const MAX_LATENCY: Duration = Duration::from_secs(15 * 60);
/// Longest window an experiment may be given with `duration`: a longer one is surely a typo
/// (leave `end` out for an experiment that runs until it is stopped).
pub const MAX_DURATION: Duration = Duration::from_secs(366 * 24 * 60 * 60);
/// errorType used when an exception effect does not name one.
pub const DEFAULT_ERROR_TYPE: &str = "FailureFlagException";

#[derive(Debug, Clone, PartialEq)]
/// One experiment: which flag, which labels, how often, when, and what fault.
pub struct Experiment {
    /// Unique name (`experiment stop NAME`).
    pub name: String,
    /// Exact flag name or a glob (`dependency-*.amazonaws.com`).
    pub flag: String,
    /// Every key must be present in the labels and one of its values (globs allowed) must match.
    /// Label name → accepted values.
    pub selector: BTreeMap<String, Vec<String>>,
    /// How often a matching request is affected.
    pub rate: Rate,
    /// When the experiment begins (inclusive); none: already begun.
    pub start: Option<DateTime<Utc>>,
    /// Explicit `end`, or `start + duration`.
    pub end: Option<DateTime<Utc>>,
    /// CloudWatch alarms (names or ARNs) that halt this experiment when one is in ALARM, besides
    /// the config's top-level ones.
    pub stop_on_alarms: Vec<String>,
    /// Suspends it in an environment where the function fails on its own (wins over the
    /// config's top-level guard).
    pub guard: Option<Guard>,
    /// What the fault does.
    pub effect: Effect,
}

#[derive(Debug, Clone, PartialEq, Default)]
/// What a fault does: any of latency, exception and httpResponse.
pub struct Effect {
    /// Delay the request.
    pub latency: Option<LatencyEffect>,
    /// Fail the request with an exception.
    pub exception: Option<ExceptionEffect>,
    /// Answer the request with a forged HTTP response.
    pub http_response: Option<HttpResponseEffect>,
    /// Answer an AWS call with a service error in its protocol's shape (`aws-*` flags only).
    pub aws_error: Option<AwsErrorEffect>,
    /// Corrupt the function's answer after the handler ran (`response` only).
    pub corrupt: Option<CorruptEffect>,
    /// Make the invocation time out (`ingress` and `http-ingress` only).
    pub timeout: Option<TimeoutEffect>,
    /// Report some of a batch's records as failed (`response` only, SQS and stream events).
    pub batch_item_failures: Option<BatchFailuresEffect>,
    /// Fill the temporary directory (`environment` only).
    pub disk: Option<DiskEffect>,
    /// Hold memory (`environment` only).
    pub memory: Option<MemoryEffect>,
    /// Burn a share of one CPU (`environment` only).
    pub cpu: Option<CpuEffect>,
}

impl Effect {
    /// Whether it acts on the execution environment (`disk`, `memory`, `cpu`).
    pub fn on_environment(&self) -> bool {
        self.disk.is_some() || self.memory.is_some() || self.cpu.is_some()
    }
}

/// A partial batch failure: `batchItemFailures: {rate: 0.2}` reports each record of an SQS,
/// Kinesis or DynamoDB-stream batch as failed with that probability, merged with the
/// `batchItemFailures` the handler returned, so Lambda redelivers them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatchFailuresEffect {
    /// The probability that each record is reported failed.
    pub rate: Rate,
}

/// A timeout: `timeout: {}` holds the event until 100 ms past the invocation's deadline, so
/// Lambda times it out itself; `timeout: {buffer_ms: 300}` delivers it at once with only that
/// much time left on its `Lambda-Runtime-Deadline-Ms`, for the handler's own deadline logic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TimeoutEffect {
    /// The time the handler is told it has left, in milliseconds; None: hold the event instead.
    pub buffer_ms: Option<u64>,
}

/// Lambda's longest function timeout (15 minutes): a longer buffer tells the handler nothing.
const MAX_TIMEOUT_BUFFER_MS: u64 = 15 * 60 * 1000;

/// How a corrupted answer is corrupted: `corrupt: {truncate: 0.5}` or `corrupt: {mangle: true}`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CorruptEffect {
    /// The body cut to this fraction of its length (`0 <= fraction < 1`).
    Truncate(f64),
    /// Bytes of the body flipped, so that it is no longer valid JSON (nor UTF-8).
    Mangle,
}

#[derive(Debug, Clone, PartialEq, Eq)]
/// An AWS service error: `{code: ProvisionedThroughputExceededException, message, status}`.
pub struct AwsErrorEffect {
    /// The error code the SDK reports (`ThrottlingException`, `SlowDown`, ...).
    pub code: String,
    /// The error message.
    pub message: String,
    /// The HTTP status: given, or the one AWS uses for such a code.
    pub status: u16,
}

/// The status AWS answers an error code with, for the codes whose status is well known
/// (throttling 400, or 429 where the service uses it; unavailable 503; internal 500); 400
/// otherwise, as for any client error.
pub fn default_aws_error_status(code: &str) -> u16 {
    match code {
        "SlowDown" | "ServiceUnavailable" | "ServiceUnavailableException" | "RequestTimeout" => 503,
        "InternalServerError"
        | "InternalFailure"
        | "InternalError"
        | "InternalServiceError"
        | "InternalServerException" => 500,
        "TooManyRequestsException" => 429,
        _ => 400,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
/// A delay of `ms` milliseconds plus up to `jitter_ms`.
pub struct LatencyEffect {
    /// The fixed part of the delay, in milliseconds.
    pub ms: u64,
    /// Up to this many extra milliseconds, drawn uniformly per request.
    pub jitter_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
/// An error: `{errorMessage, errorType}` for Lambda, a 502 for a dependency.
pub struct ExceptionEffect {
    /// The error message.
    pub message: String,
    /// The error type (`errorType`).
    pub error_type: String,
}

#[derive(Clone, PartialEq, Eq)]
/// A forged HTTP response.
pub struct HttpResponseEffect {
    /// The status code.
    pub code: u16,
    /// Decoded body (it is written base64 in the config).
    pub body: Vec<u8>,
    /// Header name (lower case) → value.
    pub headers: BTreeMap<String, String>,
}

impl fmt::Debug for HttpResponseEffect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpResponseEffect")
            .field("code", &self.code)
            .field("body_bytes", &self.body.len())
            .field("headers", &self.headers)
            .finish()
    }
}

/// Why one experiment was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExperimentError {
    /// Position of the experiment in the `experiments` list.
    pub index: usize,
    /// Its name, when it has a readable one.
    pub name: Option<String>,
    /// Key path inside the experiment (`effect.latency.ms`), empty for the experiment itself.
    pub field: String,
    /// Why it was refused.
    pub reason: String,
}

impl ExperimentError {
    /// Full key path in the document: `experiments[2].rate`.
    pub fn path(&self) -> String {
        if self.field.is_empty() || self.field == "." {
            format!("experiments[{}]", self.index)
        } else {
            format!("experiments[{}].{}", self.index, self.field)
        }
    }
}

impl fmt::Display for ExperimentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(name) => write!(f, "experiment `{name}` ({}): {}", self.path(), self.reason),
            None => write!(f, "{}: {}", self.path(), self.reason),
        }
    }
}

impl std::error::Error for ExperimentError {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExperiment {
    name: String,
    flag: String,
    #[serde(default)]
    selector: BTreeMap<String, OneOrMany>,
    #[serde(default)]
    rate: Option<RawRate>,
    #[serde(default)]
    start: Option<Scalar>,
    #[serde(default)]
    end: Option<Scalar>,
    #[serde(default)]
    duration: Option<HumanDuration>,
    #[serde(default)]
    stop_on_alarms: Vec<String>,
    #[serde(default)]
    guard: Option<RawGuard>,
    effect: RawEffect,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawEffect {
    #[serde(default)]
    latency: Option<LatencyEffect>,
    #[serde(default)]
    exception: Option<ExceptionEffect>,
    #[serde(default)]
    http_response: Option<RawHttpResponse>,
    #[serde(default)]
    aws_error: Option<RawAwsError>,
    #[serde(default)]
    corrupt: Option<RawCorrupt>,
    #[serde(default)]
    timeout: Option<RawTimeout>,
    #[serde(default)]
    batch_item_failures: Option<RawBatchFailures>,
    #[serde(default)]
    disk: Option<RawDisk>,
    #[serde(default)]
    memory: Option<RawMemory>,
    #[serde(default)]
    cpu: Option<RawCpu>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBatchFailures {
    rate: RawRate,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTimeout {
    #[serde(default)]
    buffer_ms: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCorrupt {
    #[serde(default)]
    truncate: Option<f64>,
    #[serde(default)]
    mangle: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAwsError {
    code: String,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    status: Option<u16>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttpResponse {
    code: u16,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, Scalar>,
}

/// A selector value: one string or a list of them.
struct OneOrMany(Vec<String>);

impl<'de> Deserialize<'de> for OneOrMany {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Value::deserialize(deserializer)? {
            Value::Sequence(items) => items
                .into_iter()
                .map(|item| scalar_text(&item).map_err(serde::de::Error::custom))
                .collect::<Result<Vec<_>, _>>()
                .map(OneOrMany),
            other => scalar_text(&other)
                .map(|s| OneOrMany(vec![s]))
                .map_err(serde::de::Error::custom),
        }
    }
}

impl<'de> Deserialize<'de> for LatencyEffect {
    /// `2000`, `"2000"`, `"2s"` or `{ms: 2000, jitter: 500}`.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        let (ms, jitter_ms) = match &value {
            Value::Mapping(map) => {
                for key in map.keys() {
                    let key = key.as_str().unwrap_or("?");
                    if key != "ms" && key != "jitter" {
                        return Err(serde::de::Error::custom(format!(
                            "unknown key `{key}` in latency: expected `ms` and optionally `jitter`"
                        )));
                    }
                }
                let ms = map
                    .get("ms")
                    .ok_or_else(|| serde::de::Error::custom("latency needs `ms`"))
                    .and_then(|v| millis(v).map_err(serde::de::Error::custom))?;
                let jitter = match map.get("jitter") {
                    Some(v) => millis(v).map_err(serde::de::Error::custom)?,
                    None => 0,
                };
                (ms, jitter)
            }
            other => (millis(other).map_err(serde::de::Error::custom)?, 0),
        };
        let total = Duration::from_millis(ms.saturating_add(jitter_ms));
        if total > MAX_LATENCY {
            return Err(serde::de::Error::custom(format!(
                "latency of {ms} ms plus jitter {jitter_ms} ms exceeds Lambda's 15 minute maximum"
            )));
        }
        Ok(LatencyEffect { ms, jitter_ms })
    }
}

impl<'de> Deserialize<'de> for ExceptionEffect {
    /// `"orders down"` or `{message: "orders down", errorType: OrdersUnavailable}`.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        match value {
            Value::String(message) => Ok(ExceptionEffect {
                message,
                error_type: DEFAULT_ERROR_TYPE.into(),
            }),
            Value::Mapping(map) => {
                let mut message = None;
                let mut error_type = None;
                for (key, value) in map {
                    let key = key.as_str().unwrap_or("?").to_string();
                    let text = scalar_text(&value).map_err(serde::de::Error::custom)?;
                    match key.as_str() {
                        "message" => message = Some(text),
                        "errorType" | "error_type" => error_type = Some(text),
                        _ => {
                            return Err(serde::de::Error::custom(format!(
                                "unknown key `{key}` in exception: expected `message` and `errorType`"
                            )));
                        }
                    }
                }
                let error_type = error_type.unwrap_or_else(|| DEFAULT_ERROR_TYPE.into());
                if error_type.trim().is_empty() {
                    return Err(serde::de::Error::custom("errorType must not be empty"));
                }
                Ok(ExceptionEffect {
                    message: message.unwrap_or_else(|| "fault injected by faultline".into()),
                    error_type,
                })
            }
            _ => Err(serde::de::Error::custom(
                "expected a message string or {message, errorType}",
            )),
        }
    }
}

fn scalar_text(value: &Value) -> Result<String, String> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => Err("expected a string".into()),
    }
}

/// Milliseconds from `2000`, `"2000"` or `"2s"`.
fn millis(value: &Value) -> Result<u64, String> {
    match value {
        Value::Number(n) => n
            .as_u64()
            .ok_or_else(|| format!("{n} is not a whole, non-negative number of milliseconds")),
        Value::String(s) => {
            let trimmed = s.trim();
            if let Ok(ms) = trimmed.parse::<u64>() {
                return Ok(ms);
            }
            parse_duration(trimmed).map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        }
        _ => Err("expected milliseconds (2000) or a duration (\"2s\")".into()),
    }
}

fn parse_time(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| format!("`{text}` is not an RFC 3339 time like 2026-11-21T10:00:00Z"))
}

fn validate_glob(pattern: &str) -> Result<(), String> {
    globset::Glob::new(pattern)
        .map(|_| ())
        .map_err(|err| format!("`{pattern}` is not a valid glob: {}", err.kind()))
}

/// Parses every experiment; returns the valid ones and the reasons for the others. Duplicate
/// names are refused (the second and later ones), since `experiment stop NAME` must be unambiguous.
pub(crate) fn parse_all(values: Vec<Value>) -> (Vec<Experiment>, Vec<ExperimentError>) {
    let mut valid: Vec<Experiment> = Vec::new();
    let mut rejected = Vec::new();
    for (index, value) in values.into_iter().enumerate() {
        let name = value
            .get("name")
            .and_then(Value::as_str)
            .map(str::to_string);
        match parse_one(value) {
            Ok(experiment) if valid.iter().any(|e| e.name == experiment.name) => {
                rejected.push(ExperimentError {
                    index,
                    name,
                    field: "name".into(),
                    reason: format!("duplicate experiment name `{}`", experiment.name),
                })
            }
            Ok(experiment) => valid.push(experiment),
            Err((field, reason)) => rejected.push(ExperimentError {
                index,
                name,
                field,
                reason,
            }),
        }
    }
    (valid, rejected)
}

fn parse_one(value: Value) -> Result<Experiment, (String, String)> {
    let raw: RawExperiment = serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        let message = err.into_inner().to_string();
        (path, message)
    })?;
    let fail = |field: &str, reason: String| (field.to_string(), reason);

    let name = raw.name.trim().to_string();
    if name.is_empty() {
        return Err(fail("name", "must not be empty".into()));
    }
    let flag = raw.flag.trim().to_string();
    if flag.is_empty() {
        return Err(fail("flag", "must not be empty".into()));
    }
    validate_glob(&flag).map_err(|r| fail("flag", r))?;

    let mut selector = BTreeMap::new();
    for (key, OneOrMany(values)) in raw.selector {
        if values.is_empty() {
            return Err(fail(
                &format!("selector.{key}"),
                "needs at least one value".into(),
            ));
        }
        for value in &values {
            validate_glob(value).map_err(|r| fail(&format!("selector.{key}"), r))?;
        }
        if key.starts_with(crate::labels::EVENT_PREFIX) && crate::labels::event_path(&key).is_none()
        {
            return Err(fail(
                &format!("selector.{key}"),
                "an event path is `event.` and dot-separated keys or array indexes, none empty \
                 (event.requestContext.stage, event.Records.0.eventSource)"
                    .into(),
            ));
        }
        selector.insert(key, values);
    }

    let rate = match raw.rate {
        Some(RawRate(rate)) => rate.map_err(|r| fail("rate", r))?,
        None => Rate::ALWAYS,
    };

    let start = raw
        .start
        .map(|s| parse_time(&s.0))
        .transpose()
        .map_err(|r| fail("start", r))?;
    let explicit_end = raw
        .end
        .map(|s| parse_time(&s.0))
        .transpose()
        .map_err(|r| fail("end", r))?;
    let end = match (explicit_end, raw.duration) {
        (Some(_), Some(_)) => {
            return Err(fail(
                "duration",
                "give either `end` or `duration`, not both".into(),
            ));
        }
        (Some(end), None) => Some(end),
        (None, Some(HumanDuration(duration))) => {
            let start = start.ok_or_else(|| {
                fail(
                    "duration",
                    "needs `start` (when the experiment begins)".into(),
                )
            })?;
            if duration > MAX_DURATION {
                return Err(fail(
                    "duration",
                    format!(
                        "{} is longer than the {} days an experiment may last (leave out `end` and \
                         `duration` for one that runs until stopped)",
                        humantime::format_duration(duration),
                        MAX_DURATION.as_secs() / 86_400
                    ),
                ));
            }
            let end = chrono::Duration::from_std(duration)
                .ok()
                .and_then(|duration| start.checked_add_signed(duration))
                // RFC 3339 stops at 9999: an end past it could not be written back.
                .filter(|end| end.year() <= 9999)
                .ok_or_else(|| fail("duration", "ends after 9999-12-31".into()))?;
            Some(end)
        }
        (None, None) => None,
    };
    if let (Some(start), Some(end)) = (start, end)
        && end <= start
    {
        return Err(fail("end", "must be after `start`".into()));
    }

    let http_response = raw
        .effect
        .http_response
        .map(|raw| {
            if flag == crate::flags::INIT {
                return Err(fail(
                    "effect.httpResponse",
                    "a cold start (flag `init`) is delayed or failed, never answered: use \
                     `latency` or `exception`"
                        .into(),
                ));
            }
            if !(100..=599).contains(&raw.code) {
                return Err(fail(
                    "effect.httpResponse.code",
                    format!("{} is not an HTTP status code (100..599)", raw.code),
                ));
            }
            let body = match raw.body {
                Some(text) => base64::engine::general_purpose::STANDARD
                    .decode(text.trim())
                    .map_err(|err| {
                        fail(
                            "effect.httpResponse.body",
                            format!("is not valid base64 ({err})"),
                        )
                    })?,
                None => Vec::new(),
            };
            let mut headers = BTreeMap::new();
            for (name, Scalar(value)) in raw.headers {
                if http::HeaderName::from_bytes(name.as_bytes()).is_err()
                    || http::HeaderValue::from_str(&value).is_err()
                {
                    return Err(fail(
                        "effect.httpResponse.headers",
                        format!("`{name}` is not a valid HTTP header"),
                    ));
                }
                headers.insert(name.to_ascii_lowercase(), value);
            }
            Ok(HttpResponseEffect {
                code: raw.code,
                body,
                headers,
            })
        })
        .transpose()?;

    let aws_error = raw
        .effect
        .aws_error
        .map(|raw| {
            if !flag.starts_with(crate::flags::AWS_PREFIX) {
                return Err(fail(
                    "effect.awsError",
                    format!(
                        "applies to AWS calls only: the flag must be `aws-<service>` or a glob \
                         such as `aws-*`, not `{flag}`"
                    ),
                ));
            }
            let code = raw.code.trim().to_string();
            if code.is_empty() || !code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.') {
                return Err(fail(
                    "effect.awsError.code",
                    format!(
                        "`{}` is not an AWS error code (letters and digits)",
                        raw.code
                    ),
                ));
            }
            let status = raw
                .status
                .unwrap_or_else(|| default_aws_error_status(&code));
            if !(400..=599).contains(&status) {
                return Err(fail(
                    "effect.awsError.status",
                    format!("{status} is not an error status (400..599)"),
                ));
            }
            let message = raw
                .message
                .unwrap_or_else(|| format!("{code} injected by faultline"));
            Ok(AwsErrorEffect {
                code,
                message,
                status,
            })
        })
        .transpose()?;

    let corrupt = raw
        .effect
        .corrupt
        .map(|raw| {
            if flag != crate::flags::RESPONSE {
                return Err(fail(
                    "effect.corrupt",
                    format!(
                        "applies to the function's answer only: the flag must be `response`, \
                         not `{flag}`"
                    ),
                ));
            }
            match (raw.truncate, raw.mangle) {
                (Some(fraction), None | Some(false)) => {
                    if (0.0..1.0).contains(&fraction) {
                        Ok(CorruptEffect::Truncate(fraction))
                    } else {
                        Err(fail(
                            "effect.corrupt.truncate",
                            format!(
                                "{fraction} is not the fraction of the body to keep (0 up to, \
                                 not including, 1)"
                            ),
                        ))
                    }
                }
                (None, Some(true)) => Ok(CorruptEffect::Mangle),
                _ => Err(fail(
                    "effect.corrupt",
                    "give one of `truncate: FRACTION` (0 <= FRACTION < 1) or `mangle: true`".into(),
                )),
            }
        })
        .transpose()?;

    let timeout = raw
        .effect
        .timeout
        .map(|raw| {
            if flag != crate::flags::INGRESS && flag != crate::flags::HTTP_INGRESS {
                return Err(fail(
                    "effect.timeout",
                    format!(
                        "applies to events before the handler runs: the flag must be `ingress` \
                         or `http-ingress`, not `{flag}`"
                    ),
                ));
            }
            match raw.buffer_ms {
                Some(ms) if ms > MAX_TIMEOUT_BUFFER_MS => Err(fail(
                    "effect.timeout.buffer_ms",
                    format!(
                        "{ms} is more than Lambda's longest timeout ({MAX_TIMEOUT_BUFFER_MS} ms)"
                    ),
                )),
                buffer_ms => Ok(TimeoutEffect { buffer_ms }),
            }
        })
        .transpose()?;

    let batch_item_failures = raw
        .effect
        .batch_item_failures
        .map(|raw| {
            if flag != crate::flags::RESPONSE {
                return Err(fail(
                    "effect.batchItemFailures",
                    format!(
                        "applies to the function's answer to a batch: the flag must be \
                         `response`, not `{flag}`"
                    ),
                ));
            }
            let RawRate(rate) = raw.rate;
            rate.map(|rate| BatchFailuresEffect { rate })
                .map_err(|reason| fail("effect.batchItemFailures.rate", reason))
        })
        .transpose()?;

    let on_environment = flag == crate::flags::ENVIRONMENT;
    let resource = |name: &str| {
        if on_environment {
            Ok(())
        } else {
            Err(fail(
                &format!("effect.{name}"),
                format!(
                    "acts on the execution environment: the flag must be `environment`, not \
                     `{flag}`"
                ),
            ))
        }
    };
    let nested = |name: &str, (key, reason): (&str, String)| {
        let field = if key.is_empty() {
            format!("effect.{name}")
        } else {
            format!("effect.{name}.{key}")
        };
        (field, reason)
    };
    let disk = match raw.effect.disk {
        Some(raw) => {
            resource("disk")?;
            Some(raw.validate().map_err(|p| nested("disk", p))?)
        }
        None => None,
    };
    let memory = match raw.effect.memory {
        Some(raw) => {
            resource("memory")?;
            Some(raw.validate().map_err(|p| nested("memory", p))?)
        }
        None => None,
    };
    let cpu = match raw.effect.cpu {
        Some(raw) => {
            resource("cpu")?;
            Some(raw.validate().map_err(|p| nested("cpu", p))?)
        }
        None => None,
    };
    let effect = Effect {
        latency: raw.effect.latency,
        exception: raw.effect.exception,
        http_response,
        aws_error,
        corrupt,
        timeout,
        batch_item_failures,
        disk,
        memory,
        cpu,
    };
    if on_environment {
        if !effect.on_environment() {
            return Err(fail(
                "effect",
                "an `environment` experiment needs at least one of disk, memory, cpu".into(),
            ));
        }
        if effect.latency.is_some() || effect.exception.is_some() {
            return Err(fail(
                "effect",
                "an `environment` experiment acts on the environment, not on requests: give \
                 disk, memory or cpu only"
                    .into(),
            ));
        }
    } else if effect.latency.is_none()
        && effect.exception.is_none()
        && effect.http_response.is_none()
        && effect.aws_error.is_none()
        && effect.corrupt.is_none()
        && effect.timeout.is_none()
        && effect.batch_item_failures.is_none()
    {
        return Err(fail(
            "effect",
            "needs at least one of latency, exception, httpResponse, awsError, corrupt, timeout, \
             batchItemFailures (disk, memory and cpu on the `environment` flag)"
                .into(),
        ));
    }
    let guard = raw
        .guard
        .map(|raw| {
            raw.validate()
                .map_err(|(key, reason)| fail(&format!("guard.{key}"), reason))
        })
        .transpose()?;

    for (index, alarm) in raw.stop_on_alarms.iter().enumerate() {
        validate_alarm(alarm).map_err(|r| fail(&format!("stop_on_alarms[{index}]"), r))?;
    }

    Ok(Experiment {
        name,
        flag,
        selector,
        rate,
        start,
        end,
        stop_on_alarms: raw.stop_on_alarms,
        guard,
        effect,
    })
}

/// The alarm name of `NAME` or `arn:PARTITION:cloudwatch:REGION:ACCOUNT:alarm:NAME`.
pub fn alarm_name(alarm: &str) -> &str {
    let alarm = alarm.trim();
    match alarm.strip_prefix("arn:") {
        Some(rest) => rest
            .splitn(5, ':')
            .nth(4)
            .and_then(|resource| resource.strip_prefix("alarm:"))
            .unwrap_or(alarm),
        None => alarm,
    }
}

/// A CloudWatch alarm name (1 to 255 characters) or alarm ARN.
pub(crate) fn validate_alarm(alarm: &str) -> Result<(), String> {
    let trimmed = alarm.trim();
    if trimmed.starts_with("arn:")
        && !(trimmed.split(':').nth(2) == Some("cloudwatch") && trimmed.contains(":alarm:"))
    {
        return Err(format!(
            "`{alarm}` is not a CloudWatch alarm ARN (arn:aws:cloudwatch:REGION:ACCOUNT:alarm:NAME)"
        ));
    }
    let name = alarm_name(trimmed);
    if name.is_empty() || name.chars().count() > 255 {
        return Err(format!(
            "`{alarm}` is not an alarm name (1 to 255 characters)"
        ));
    }
    Ok(())
}
