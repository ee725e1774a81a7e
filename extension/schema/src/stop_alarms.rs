//! Stop alarms: which CloudWatch alarms guard an experiment, and the one rule of which alarm
//! states halt it. The extension (which halts) and the deployer (which shows `halted`) both
//! decide with this; reading the states is theirs.

use crate::config::{Config, Experiment, alarm_name};
use std::fmt;

/// The names of the alarms that guard `experiment`: the config's own `stop_on_alarms` and the
/// experiment's, ARNs reduced to names.
pub fn guarding<'a>(config: &'a Config, experiment: &'a Experiment) -> Vec<&'a str> {
    config
        .stop_on_alarms
        .iter()
        .chain(&experiment.stop_on_alarms)
        .map(|alarm| alarm_name(alarm))
        .collect()
}

/// Why an alarm halts the experiments it guards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Halt {
    /// The alarm is in this state (ALARM, or a state this rule does not know).
    State(String),
    /// No alarm of that name was found: it cannot be read, so it counts as ALARM.
    Missing,
}

/// Whether an alarm in `state` (`None`: not found) halts the experiments it guards: only `OK`
/// and `INSUFFICIENT_DATA` let them run. When in doubt, stop.
pub fn halts(state: Option<&str>) -> Option<Halt> {
    match state {
        Some("OK" | "INSUFFICIENT_DATA") => None,
        Some(state) => Some(Halt::State(state.to_string())),
        None => Some(Halt::Missing),
    }
}

impl fmt::Display for Halt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Halt::State(state) => write!(f, "is {state}"),
            Halt::Missing => write!(f, "does not exist"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_ok_and_insufficient_data_let_an_experiment_run() {
        assert_eq!(halts(Some("OK")), None);
        assert_eq!(halts(Some("INSUFFICIENT_DATA")), None);
        assert_eq!(halts(Some("ALARM")), Some(Halt::State("ALARM".into())));
        assert_eq!(
            halts(Some("SOMETHING_NEW"))
                .map(|h| h.to_string())
                .as_deref(),
            Some("is SOMETHING_NEW")
        );
        assert_eq!(
            halts(None).map(|h| h.to_string()).as_deref(),
            Some("does not exist")
        );
    }

    #[test]
    fn guarding_alarms_are_the_config_s_and_the_experiment_s_by_name() {
        let config = Config::parse_strict(
            "stop_on_alarms: [global]
experiments:
  - {name: a, flag: ingress, stop_on_alarms: ['arn:aws:cloudwatch:eu-west-1:123456789012:alarm:mine'], effect: {latency: 1}}
",
        )
        .unwrap();
        assert_eq!(
            guarding(&config, &config.experiments[0]),
            ["global", "mine"]
        );
    }
}
