//! Stop conditions: while an experiment with stop alarms is active, its alarms (the config's
//! `stop_on_alarms` and its own) are read at every refresh. An alarm in ALARM halts the
//! experiment here until its definition changes; an alarm that cannot be read (missing, access
//! denied, throttled) counts as ALARM: when in doubt, stop. Only an experiment whose alarms were
//! all read as OK (or INSUFFICIENT_DATA) runs.

use super::source::{ConfigFetcher, FETCH_TIMEOUT};
use super::state::ConfigState;
use faultline_schema::matcher::is_active;
use faultline_schema::stop_alarms;
use std::collections::BTreeMap;

/// Reads the stop alarms of the active experiments and halts or clears each of them.
pub async fn check(fetcher: &ConfigFetcher, state: &ConfigState, region: Option<&str>) {
    let Some(active) = state.current() else {
        return;
    };
    let now = chrono::Utc::now();
    let halted: Vec<String> = state.halted().into_iter().map(|(name, _)| name).collect();
    // Alarm name → the experiments it guards.
    let mut watched: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut guarded = Vec::new();
    for experiment in &active.config.experiments {
        if halted.contains(&experiment.name) || !is_active(experiment, now) {
            continue;
        }
        let alarms = stop_alarms::guarding(&active.config, experiment);
        if alarms.is_empty() {
            continue;
        }
        guarded.push(experiment.name.clone());
        for alarm in alarms {
            watched
                .entry(alarm.to_string())
                .or_default()
                .push(experiment.name.clone());
        }
    }
    if watched.is_empty() {
        return;
    }
    let names: Vec<String> = watched.keys().cloned().collect();
    let states = match region {
        Some(region) => fetcher
            .alarm_states(region, &names, FETCH_TIMEOUT)
            .await
            .map_err(|err| err.to_string()),
        None => Err("no AWS_REGION to read them in".to_string()),
    };
    let mut stopped: BTreeMap<&str, String> = BTreeMap::new();
    for (alarm, experiments) in &watched {
        let reason = match &states {
            Ok(states) => match stop_alarms::halts(states.get(alarm).map(String::as_str)) {
                None => continue,
                Some(halt @ stop_alarms::Halt::Missing) => format!(
                    "stop alarm {alarm} {halt} (an alarm that cannot be read counts as ALARM)"
                ),
                Some(halt) => format!("stop alarm {alarm} {halt}"),
            },
            Err(err) => {
                format!("stop alarm {alarm} cannot be read ({err}): counted as ALARM")
            }
        };
        for experiment in experiments {
            stopped.entry(experiment).or_insert_with(|| reason.clone());
        }
    }
    for name in &guarded {
        match stopped.get(name.as_str()) {
            Some(reason) => {
                state.halt(name, reason);
            }
            None => state.clear(name),
        }
    }
}
