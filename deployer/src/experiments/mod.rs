//! The experiments in the config store: started, stopped and listed through the schema's
//! [`Document`] (no experiment key is spelt here), each edit made with [`store::edit`] (no
//! concurrent edit lost) and checked whole by the shared schema before it is written.

pub mod alarms;
pub mod spec;
pub mod state;

use crate::aws::Aws;
use crate::error::DeployError;
use crate::install::store::{self, Store};
use crate::output::Report;
use faultline_schema::config::{Config, Document, DocumentError, ExperimentSpec};
use serde::Serialize;
use state::State;
use std::collections::BTreeMap;
use std::fmt;

fn input(err: DocumentError) -> DeployError {
    DeployError::Input(format!("the config: {err}"))
}

/// What `start` did.
#[derive(Debug, Serialize)]
pub struct Started {
    pub started: String,
    /// Ended experiments removed on the way.
    pub removed_ended: Vec<String>,
}

/// What `stop` did.
#[derive(Debug, Serialize)]
pub struct Stopped {
    pub changed: bool,
    pub removed_ended: Vec<String>,
}

/// Adds `spec` to the config, first refusing stop alarms that would keep it from ever running,
/// and removing the experiments that ended.
pub async fn start(
    aws_: &Aws,
    store: &Store,
    spec: &ExperimentSpec,
) -> Result<Started, DeployError> {
    alarms::check(aws_, &spec.stop_on_alarms).await?;
    let mut removed = Vec::new();
    store::edit(aws_, store, |text| {
        let mut doc = Document::parse(text).map_err(input)?;
        removed = doc.drop_ended(chrono::Utc::now());
        doc.add(spec).map_err(|err| match err {
            DocumentError::DuplicateName(name) => DeployError::Input(format!(
                "an experiment named {name} exists: stop it first or pick another --experiment name"
            )),
            other => input(other),
        })?;
        doc.render().map(Some).map_err(input)
    })
    .await?;
    Ok(Started {
        started: spec.name.clone(),
        removed_ended: removed,
    })
}

/// Removes the experiment named `name` (every one, with `None`), and the ones that ended.
pub async fn stop(aws_: &Aws, store: &Store, name: Option<&str>) -> Result<Stopped, DeployError> {
    let mut stopped = false;
    let mut removed = Vec::new();
    store::edit(aws_, store, |text| {
        let mut doc = Document::parse(text).map_err(input)?;
        stopped = doc.remove(name).map_err(input)?;
        removed = doc.drop_ended(chrono::Utc::now());
        if !stopped && removed.is_empty() {
            return Ok(None);
        }
        doc.render().map(Some).map_err(input)
    })
    .await?;
    if !stopped && let Some(name) = name {
        return Err(DeployError::Input(format!("no experiment named {name}")));
    }
    Ok(Stopped {
        changed: stopped,
        removed_ended: removed,
    })
}

/// Every experiment in the config with where it stands, and the ones the schema refuses.
#[derive(Debug, Serialize)]
pub struct Listing {
    pub experiments: Vec<Listed>,
    /// Why each invalid experiment is refused.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub invalid: Vec<String>,
}

/// One experiment of a [`Listing`]: its SDK view, with its state and stop alarms.
#[derive(Debug, Serialize)]
pub struct Listed {
    #[serde(flatten)]
    pub view: serde_json::Value,
    pub active: bool,
    pub state: State,
    /// Alarm name → its state (`missing` when not found).
    pub stop_alarms: BTreeMap<String, String>,
    /// The name, then the flag, rate, window and effect as the text line shows them.
    #[serde(skip)]
    name: String,
    #[serde(skip)]
    summary: String,
}

pub async fn list(aws_: &Aws, store: &Store) -> Result<Listing, DeployError> {
    let (text, _) = store.read(aws_).await?;
    let config = Config::parse(&text)
        .map_err(|err| DeployError::Failed(format!("{}: {err}", store.describe())))?;
    let now = chrono::Utc::now();
    let all_alarms: Vec<String> = config
        .experiments
        .iter()
        .flat_map(|e| faultline_schema::stop_alarms::guarding(&config, e))
        .map(str::to_string)
        .collect();
    let states = alarms::states(aws_, &all_alarms).await?;
    let experiments = config
        .experiments
        .iter()
        .map(|e| {
            let state = State::of(e, &config, &states, now);
            let stop_alarms = faultline_schema::stop_alarms::guarding(&config, e)
                .into_iter()
                .map(|name| {
                    let state = states
                        .get(name)
                        .cloned()
                        .unwrap_or_else(|| "missing".into());
                    (name.to_string(), state)
                })
                .collect();
            let view = faultline_schema::sdk_view::sdk_view(e);
            let until = e
                .end
                .map_or_else(|| "until stopped".to_string(), |end| format!("until {end}"));
            Listed {
                name: e.name.clone(),
                summary: format!(
                    "flag={}  rate={}  {until}  effect={}",
                    e.flag,
                    e.rate.value(),
                    view["effect"]
                ),
                active: state == State::Active,
                state,
                stop_alarms,
                view,
            }
        })
        .collect();
    Ok(Listing {
        experiments,
        invalid: config
            .rejected_experiments
            .iter()
            .map(ToString::to_string)
            .collect(),
    })
}

/// What a start or stop says of the ended experiments it removed.
fn removed_note(removed: &[String]) -> String {
    if removed.is_empty() {
        String::new()
    } else {
        format!(" (removed ended experiments: {})", removed.join(", "))
    }
}

impl fmt::Display for Started {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "started {}{}",
            self.started,
            removed_note(&self.removed_ended)
        )
    }
}

impl fmt::Display for Stopped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let said = if self.changed {
            "stopped"
        } else {
            "nothing to stop"
        };
        write!(f, "{said}{}", removed_note(&self.removed_ended))
    }
}

impl fmt::Display for Listing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut lines = Vec::new();
        if self.experiments.is_empty() {
            lines.push("no experiments".to_string());
        }
        for listed in &self.experiments {
            let alarms = if listed.stop_alarms.is_empty() {
                String::new()
            } else {
                let shown: Vec<String> = listed
                    .stop_alarms
                    .iter()
                    .map(|(name, state)| format!("{name}={state}"))
                    .collect();
                format!("  stop alarms: {}", shown.join(", "))
            };
            lines.push(format!(
                "{}  {}  {}{alarms}",
                listed.name, listed.state, listed.summary
            ));
        }
        lines.extend(
            self.invalid
                .iter()
                .map(|reason| format!("invalid: {reason}")),
        );
        write!(f, "{}", lines.join("\n"))
    }
}

impl Report for Started {}
impl Report for Stopped {}
impl Report for Listing {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removals_are_noted() {
        assert_eq!(
            removed_note(&["old".into()]),
            " (removed ended experiments: old)"
        );
        assert_eq!(removed_note(&[]), "");
    }
}
