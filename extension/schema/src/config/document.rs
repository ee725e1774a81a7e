//! The config as a document to edit (what `deployer experiment` and `deployer init` do to the
//! stored config): the YAML mapping with every other key left as written, and its `experiments`
//! list edited through [`ExperimentSpec`], never through keys spelt by the editor. What an edit
//! gives is still checked whole by [`Config::parse_strict`] before it is stored.

use super::Config;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_yaml_ng::{Mapping, Value};
use std::collections::BTreeMap;
use std::time::Duration;

/// The key of the experiments list.
const EXPERIMENTS: &str = "experiments";

/// Why a document cannot be edited.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentError {
    /// The text is YAML but not a mapping of keys.
    #[error("the config is not a YAML mapping")]
    NotAMapping,
    /// The text is not YAML.
    #[error("the config is not valid YAML: {0}")]
    NotYaml(String),
    /// `experiments` is there but is not a list.
    #[error("`experiments` is not a list")]
    ExperimentsNotAList,
    /// An experiment of that name exists.
    #[error("an experiment named {0} exists")]
    DuplicateName(String),
    /// The document cannot be written as YAML.
    #[error("cannot write the config as YAML: {0}")]
    Write(String),
}

/// A new experiment, as `deployer experiment start` writes it: each field is the document key of
/// the same meaning (see the README's configuration reference), and
/// [`Config::parse_strict`] reads back exactly these values (tested below).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExperimentSpec {
    /// Unique name.
    pub name: String,
    /// Flag or glob.
    pub flag: String,
    /// Label → accepted values.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub selector: BTreeMap<String, Vec<String>>,
    /// Share of matching requests, 0..=1.
    pub rate: f64,
    /// When it begins; none: already begun.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "rfc3339")]
    pub start: Option<DateTime<Utc>>,
    /// How long it runs from `start`; none: until stopped.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "human")]
    pub duration: Option<Duration>,
    /// Alarms (names or ARNs) that halt it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stop_on_alarms: Vec<String>,
    /// Its own guard.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guard: Option<GuardSpec>,
    /// What it does.
    pub effect: EffectSpec,
}

/// The guard of an [`ExperimentSpec`]: the error share that suspends it (the window and the
/// least number of invocations are the schema's defaults).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GuardSpec {
    /// The share of invocations failing on their own, 0..1.
    pub max_error_rate: f64,
}

/// The effect of an [`ExperimentSpec`]: any of latency, exception and an HTTP answer.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EffectSpec {
    /// Added latency in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency: Option<u64>,
    /// Fail with this message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exception: Option<String>,
    /// Answer with this HTTP status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_response: Option<HttpResponseSpec>,
    /// Answer an AWS call with this service error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aws_error: Option<AwsErrorSpec>,
    /// Corrupt the function's answer (`response`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub corrupt: Option<CorruptSpec>,
    /// Make the invocation time out (`ingress`, `http-ingress`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<TimeoutSpec>,
    /// Report records of a batch as failed (`response`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch_item_failures: Option<BatchFailuresSpec>,
    /// Fill the temporary directory (`environment`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk: Option<DiskSpec>,
    /// Hold memory (`environment`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<MemorySpec>,
    /// Burn a share of one CPU (`environment`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu: Option<CpuSpec>,
}

/// A `disk` effect of an [`EffectSpec`]: `{fill_mb}` or `{leave_free_mb}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum DiskSpec {
    /// A file of this many MiB.
    #[serde(untagged)]
    Fill {
        /// MiB.
        fill_mb: u64,
    },
    /// A file leaving this many MiB free.
    #[serde(untagged)]
    LeaveFree {
        /// MiB.
        leave_free_mb: u64,
    },
}

/// A `memory` effect of an [`EffectSpec`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MemorySpec {
    /// MiB held.
    pub mb: u64,
    /// Above 90 % of the function's memory: a rehearsal of an out-of-memory kill.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub allow_oom: bool,
}

/// A `cpu` effect of an [`EffectSpec`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CpuSpec {
    /// Share of one CPU, 1..=100.
    pub percent: u8,
}

/// A partial batch failure of an [`EffectSpec`]: each record failed with probability `rate`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BatchFailuresSpec {
    /// The probability per record, 0..1.
    pub rate: f64,
}

/// A timeout of an [`EffectSpec`]: `{}` holds the event past its deadline, `{buffer_ms: N}`
/// leaves the handler N milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TimeoutSpec {
    /// The time left to the handler; None: hold the event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub buffer_ms: Option<u64>,
}

/// A corruption of an [`EffectSpec`]: `{truncate: FRACTION}` or `{mangle: true}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum CorruptSpec {
    /// Keep this fraction of the body.
    #[serde(untagged)]
    Truncate {
        /// The fraction kept, `0 <= fraction < 1`.
        truncate: f64,
    },
    /// Flip bytes so that the body no longer parses.
    #[serde(untagged)]
    Mangle {
        /// Always true.
        mangle: bool,
    },
}

/// An AWS service error of an [`EffectSpec`]; the message and, when not given, the status are
/// the schema's defaults for the code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AwsErrorSpec {
    /// The error code: `ProvisionedThroughputExceededException`, `SlowDown`.
    pub code: String,
    /// The HTTP status, when not the one AWS uses for the code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
}

/// An HTTP answer of an [`EffectSpec`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HttpResponseSpec {
    /// The status code.
    pub code: u16,
}

impl EffectSpec {
    /// Whether no effect is given.
    pub fn is_empty(&self) -> bool {
        self.latency.is_none()
            && self.exception.is_none()
            && self.http_response.is_none()
            && self.aws_error.is_none()
            && self.corrupt.is_none()
            && self.timeout.is_none()
            && self.batch_item_failures.is_none()
            && self.disk.is_none()
            && self.memory.is_none()
            && self.cpu.is_none()
    }
}

fn rfc3339<S: serde::Serializer>(time: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match time {
        Some(time) => s.serialize_str(&time.to_rfc3339()),
        None => s.serialize_none(),
    }
}

fn human<S: serde::Serializer>(duration: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match duration {
        Some(duration) => s.serialize_str(&humantime::format_duration(*duration).to_string()),
        None => s.serialize_none(),
    }
}

/// A config document being edited.
#[derive(Debug, Clone, PartialEq)]
pub struct Document(Mapping);

impl Document {
    /// Reads a document; an empty text is an empty document.
    pub fn parse(text: &str) -> Result<Document, DocumentError> {
        if text.trim().is_empty() {
            return Ok(Document(Mapping::new()));
        }
        match serde_yaml_ng::from_str::<Value>(text) {
            Ok(Value::Mapping(map)) => Ok(Document(map)),
            Ok(Value::Null) => Ok(Document(Mapping::new())),
            Ok(_) => Err(DocumentError::NotAMapping),
            Err(err) => Err(DocumentError::NotYaml(err.to_string())),
        }
    }

    /// The document as YAML.
    pub fn render(&self) -> Result<String, DocumentError> {
        serde_yaml_ng::to_string(&self.0).map_err(|err| DocumentError::Write(err.to_string()))
    }

    fn list(&self) -> Result<&[Value], DocumentError> {
        match self.0.get(EXPERIMENTS) {
            None | Some(Value::Null) => Ok(&[]),
            Some(Value::Sequence(list)) => Ok(list),
            Some(_) => Err(DocumentError::ExperimentsNotAList),
        }
    }

    fn list_mut(&mut self) -> Result<&mut Vec<Value>, DocumentError> {
        let entry = self
            .0
            .entry(Value::from(EXPERIMENTS))
            .or_insert_with(|| Value::Sequence(Vec::new()));
        if entry.is_null() {
            *entry = Value::Sequence(Vec::new());
        }
        match entry {
            Value::Sequence(list) => Ok(list),
            _ => Err(DocumentError::ExperimentsNotAList),
        }
    }

    /// The names of the experiments, in document order (those without a readable name left out).
    pub fn names(&self) -> Vec<String> {
        self.list()
            .unwrap_or_default()
            .iter()
            .filter_map(name_of)
            .map(str::to_string)
            .collect()
    }

    /// Appends `spec`, refusing a name that is taken.
    pub fn add(&mut self, spec: &ExperimentSpec) -> Result<(), DocumentError> {
        if self.names().contains(&spec.name) {
            return Err(DocumentError::DuplicateName(spec.name.clone()));
        }
        let value =
            serde_yaml_ng::to_value(spec).map_err(|err| DocumentError::Write(err.to_string()))?;
        self.list_mut()?.push(value);
        Ok(())
    }

    /// Removes the experiment named `name` (every one, with `None`); whether any went.
    pub fn remove(&mut self, name: Option<&str>) -> Result<bool, DocumentError> {
        if self.0.get(EXPERIMENTS).is_none() {
            return Ok(false);
        }
        let list = self.list_mut()?;
        let before = list.len();
        match name {
            Some(name) => list.retain(|e| name_of(e) != Some(name)),
            None => list.clear(),
        }
        Ok(list.len() != before)
    }

    /// Removes the experiments whose window ended at or before `now` (they can never apply
    /// again, and each one left is read by every environment at every refresh); their names.
    /// A document the schema refuses is left as it is.
    pub fn drop_ended(&mut self, now: DateTime<Utc>) -> Vec<String> {
        let Some(config) = self
            .render()
            .ok()
            .and_then(|text| Config::parse(&text).ok())
        else {
            return Vec::new();
        };
        let ended: Vec<String> = config
            .experiments
            .iter()
            .filter(|e| e.end.is_some_and(|end| end <= now))
            .map(|e| e.name.clone())
            .collect();
        if !ended.is_empty()
            && let Ok(list) = self.list_mut()
        {
            list.retain(|e| !name_of(e).is_some_and(|n| ended.iter().any(|x| x == n)));
        }
        ended
    }
}

fn name_of(value: &Value) -> Option<&str> {
    value.get("name").and_then(Value::as_str)
}

/// The experiments of `before` that `after` no longer has, by name (a text that cannot be read
/// has none).
pub fn removed_experiments(before: &str, after: &str) -> Vec<String> {
    let names = |text: &str| Document::parse(text).map(|d| d.names()).unwrap_or_default();
    let kept = names(after);
    names(before)
        .into_iter()
        .filter(|name| !kept.contains(name))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Rate;
    use proptest::prelude::*;

    fn time(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn spec(name: &str) -> ExperimentSpec {
        ExperimentSpec {
            name: name.into(),
            flag: "ingress".into(),
            selector: [("function-name".to_string(), vec!["a".into(), "b*".into()])].into(),
            rate: 0.5,
            start: Some(time("2026-06-01T00:00:00Z")),
            duration: Some(Duration::from_secs(90 * 60)),
            stop_on_alarms: vec!["orders-5xx".into()],
            guard: None,
            effect: EffectSpec {
                latency: Some(200),
                exception: Some("down".into()),
                http_response: Some(HttpResponseSpec { code: 503 }),
                ..EffectSpec::default()
            },
        }
    }

    #[test]
    fn a_corruption_is_written_as_the_schema_reads_it() {
        for (corrupt, read) in [
            (
                CorruptSpec::Truncate { truncate: 0.25 },
                crate::config::CorruptEffect::Truncate(0.25),
            ),
            (
                CorruptSpec::Mangle { mangle: true },
                crate::config::CorruptEffect::Mangle,
            ),
        ] {
            let mut experiment = spec("garbled");
            experiment.flag = "response".into();
            experiment.effect = EffectSpec {
                corrupt: Some(corrupt),
                ..EffectSpec::default()
            };
            let mut doc = Document::default_for_tests();
            doc.add(&experiment).unwrap();
            let config = Config::parse_strict(&doc.render().unwrap()).unwrap();
            assert_eq!(config.experiments[0].effect.corrupt, Some(read));
        }
    }

    #[test]
    fn environment_effects_and_a_guard_are_written_as_the_schema_reads_them() {
        let mut experiment = spec("squeeze");
        experiment.flag = crate::flags::ENVIRONMENT.into();
        experiment.guard = Some(GuardSpec {
            max_error_rate: 0.25,
        });
        experiment.effect = EffectSpec {
            disk: Some(DiskSpec::LeaveFree { leave_free_mb: 10 }),
            memory: Some(MemorySpec {
                mb: 512,
                allow_oom: true,
            }),
            cpu: Some(CpuSpec { percent: 50 }),
            ..EffectSpec::default()
        };
        let mut doc = Document::default_for_tests();
        doc.add(&experiment).unwrap();
        let config = Config::parse_strict(&doc.render().unwrap()).unwrap();
        let read = &config.experiments[0];
        assert_eq!(
            read.effect.disk,
            Some(crate::config::DiskEffect::LeaveFree(10))
        );
        assert_eq!(
            read.effect.memory.map(|m| (m.mb, m.allow_oom)),
            Some((512, true))
        );
        assert_eq!(read.effect.cpu.map(|c| c.percent), Some(50));
        assert_eq!(read.guard.map(|g| g.max_error_rate.value()), Some(0.25));
        experiment.effect.disk = Some(DiskSpec::Fill { fill_mb: 400 });
        let mut doc = Document::default_for_tests();
        doc.add(&experiment).unwrap();
        let config = Config::parse_strict(&doc.render().unwrap()).unwrap();
        assert_eq!(
            config.experiments[0].effect.disk,
            Some(crate::config::DiskEffect::Fill(400))
        );
    }

    #[test]
    fn an_aws_error_is_written_as_the_schema_reads_it() {
        let mut spec = spec("throttle");
        spec.flag = "aws-dynamodb".into();
        spec.effect = EffectSpec {
            aws_error: Some(AwsErrorSpec {
                code: "ProvisionedThroughputExceededException".into(),
                status: None,
            }),
            ..EffectSpec::default()
        };
        let mut doc = Document::default_for_tests();
        doc.add(&spec).unwrap();
        let config = Config::parse_strict(&doc.render().unwrap()).unwrap();
        let error = config.experiments[0].effect.aws_error.clone().unwrap();
        assert_eq!(error.code, "ProvisionedThroughputExceededException");
        assert_eq!(error.status, 400);
        spec.flag = "egress".into();
        let mut doc = Document::default_for_tests();
        doc.add(&spec).unwrap();
        let err = Config::parse_strict(&doc.render().unwrap()).unwrap_err();
        assert!(err.to_string().contains("effect.awsError"), "{err}");
    }

    #[test]
    fn other_keys_are_kept_and_names_are_unique() {
        let mut doc = Document::parse("debug: true\nservice_name: shop\n").unwrap();
        doc.add(&spec("one")).unwrap();
        assert_eq!(
            doc.add(&spec("one")),
            Err(DocumentError::DuplicateName("one".into()))
        );
        let config = Config::parse_strict(&doc.render().unwrap()).unwrap();
        assert!(config.debug);
        assert_eq!(config.service_name.as_deref(), Some("shop"));
        assert_eq!(doc.names(), ["one"]);
        assert!(doc.remove(Some("one")).unwrap());
        assert!(!doc.remove(Some("one")).unwrap());
        assert!(Document::parse("- a\n").is_err());
        assert!(
            Document::parse("experiments: 3\n")
                .unwrap()
                .add(&spec("x"))
                .is_err()
        );
    }

    #[test]
    fn ended_experiments_are_dropped_and_removals_named() {
        let mut doc = Document::parse(
            "experiments:
  - {name: old, flag: ingress, start: '2020-01-01T00:00:00Z', duration: 1h, effect: {latency: 1}}
  - {name: open, flag: ingress, effect: {latency: 1}}
",
        )
        .unwrap();
        assert_eq!(doc.drop_ended(time("2026-06-01T00:00:00Z")), ["old"]);
        assert_eq!(doc.names(), ["open"]);
        let before = "experiments: [{name: a, flag: x, effect: {latency: 1}}, {name: b, flag: x, effect: {latency: 1}}]";
        let after = "experiments: [{name: b, flag: x, effect: {latency: 2}}]";
        assert_eq!(removed_experiments(before, after), ["a"]);
        assert!(removed_experiments(after, before).is_empty());
    }

    proptest! {
        /// Whatever a spec holds, the schema reads back the same experiment from what it writes.
        #[test]
        fn a_spec_reads_back_as_written(
            name in "[a-z][a-z0-9-]{0,20}",
            rate in 0.0f64..=1.0,
            latency in proptest::option::of(0u64..900_000),
            code in proptest::option::of(100u16..600),
            minutes in proptest::option::of(1u64..(24 * 60)),
            selector in proptest::collection::btree_map("[a-z-]{1,10}", proptest::collection::vec("[a-z0-9*]{1,8}", 1..3), 0..3),
        ) {
            let mut spec = spec(&name);
            spec.rate = rate;
            spec.selector = selector.clone();
            spec.duration = minutes.map(|m| Duration::from_secs(m * 60));
            spec.effect = EffectSpec { latency, http_response: code.map(|code| HttpResponseSpec { code }), ..EffectSpec::default() };
            if spec.effect.is_empty() {
                spec.effect.exception = Some("x".into());
            }
            let mut doc = Document::default_for_tests();
            doc.add(&spec).unwrap();
            let config = Config::parse_strict(&doc.render().unwrap()).unwrap();
            let read = &config.experiments[0];
            prop_assert_eq!(&read.name, &spec.name);
            prop_assert_eq!(&read.flag, &spec.flag);
            prop_assert_eq!(&read.selector, &selector);
            prop_assert_eq!(read.rate, Rate::new(rate).unwrap());
            prop_assert_eq!(read.start, spec.start);
            prop_assert_eq!(read.end, spec.duration.map(|d| spec.start.unwrap() + chrono::TimeDelta::from_std(d).unwrap()));
            prop_assert_eq!(&read.stop_on_alarms, &spec.stop_on_alarms);
            prop_assert_eq!(read.effect.latency.map(|l| l.ms), latency);
            prop_assert_eq!(read.effect.http_response.as_ref().map(|h| h.code), code);
        }
    }

    impl Document {
        fn default_for_tests() -> Document {
            Document(Mapping::new())
        }
    }
}
