//! Where an experiment stands, as `experiment list` shows it (pure: the alarm states and the
//! time are passed in).

use faultline_schema::config::{Config, Experiment};
use faultline_schema::stop_alarms;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;

/// Scheduled, active, ended, or halted by one of its stop alarms (which every environment
/// reading them sees too).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    Scheduled,
    Active,
    Ended,
    /// Halted: each halting alarm with why (`orders-5xx is ALARM`).
    Halted(Vec<String>),
}

impl State {
    pub fn of(
        experiment: &Experiment,
        config: &Config,
        alarms: &BTreeMap<String, String>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> State {
        if experiment.start.is_some_and(|start| now < start) {
            return State::Scheduled;
        }
        if experiment.end.is_some_and(|end| end <= now) {
            return State::Ended;
        }
        let halting: Vec<String> = stop_alarms::guarding(config, experiment)
            .into_iter()
            .filter_map(|name| {
                stop_alarms::halts(alarms.get(name).map(String::as_str))
                    .map(|halt| format!("{name} {halt}"))
            })
            .collect();
        if halting.is_empty() {
            State::Active
        } else {
            State::Halted(halting)
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            State::Scheduled => f.write_str("scheduled"),
            State::Active => f.write_str("active"),
            State::Ended => f.write_str("ended"),
            State::Halted(why) => write!(f, "halted ({})", why.join(", ")),
        }
    }
}

impl Serialize for State {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_follow_window_and_alarms() {
        let config = Config::parse_strict(
            "stop_on_alarms: [global]
experiments:
  - {name: later, flag: ingress, start: '2030-01-01T00:00:00Z', effect: {latency: 1}}
  - {name: old, flag: ingress, start: '2020-01-01T00:00:00Z', end: '2020-01-02T00:00:00Z', effect: {latency: 1}}
  - {name: now, flag: ingress, stop_on_alarms: [mine], effect: {latency: 1}}
",
        )
        .expect("valid");
        let now = chrono::DateTime::parse_from_rfc3339("2026-06-01T00:00:00Z")
            .expect("time")
            .with_timezone(&chrono::Utc);
        let mut alarms: BTreeMap<String, String> =
            [("global".to_string(), "OK".to_string())].into();
        let states: Vec<String> = config
            .experiments
            .iter()
            .map(|e| State::of(e, &config, &alarms, now).to_string())
            .collect();
        assert_eq!(
            states,
            ["scheduled", "ended", "halted (mine does not exist)"]
        );
        alarms.insert("mine".into(), "OK".into());
        assert_eq!(
            State::of(&config.experiments[2], &config, &alarms, now),
            State::Active
        );
        alarms.insert("global".into(), "ALARM".into());
        assert_eq!(
            State::of(&config.experiments[2], &config, &alarms, now).to_string(),
            "halted (global is ALARM)"
        );
    }
}
