//! The stop alarms `experiment` reads: their states (the read shared with the extension), and the
//! check that refuses an alarm that would keep a new experiment from ever running.

use crate::aws::Aws;
use crate::error::{DeployError, aws};
use faultline_schema::config::alarm_name;
use faultline_schema::stop_alarms::{self, Halt};
use std::collections::BTreeMap;

/// The state of each named alarm (`OK`, `ALARM`, `INSUFFICIENT_DATA`); a missing one is absent.
pub async fn states(
    aws_: &Aws,
    alarms: &[String],
) -> Result<BTreeMap<String, String>, DeployError> {
    if alarms.is_empty() {
        return Ok(BTreeMap::new());
    }
    let mut names: Vec<String> = alarms.iter().map(|a| alarm_name(a).to_string()).collect();
    names.sort();
    names.dedup();
    faultline_alarms::states(&aws_.cloudwatch, &names)
        .await
        .map_err(|err| aws("reading alarms (cloudwatch:DescribeAlarms)", err))
}

/// Refuses stop alarms that do not exist or would halt the experiment now: it would never run.
pub async fn check(aws_: &Aws, alarms: &[String]) -> Result<(), DeployError> {
    let states = states(aws_, alarms).await?;
    for alarm in alarms {
        match stop_alarms::halts(states.get(alarm_name(alarm)).map(String::as_str)) {
            None => {}
            Some(Halt::Missing) => {
                return Err(DeployError::Input(format!(
                    "--stop-on-alarm {alarm}: no such alarm in {}",
                    aws_.region
                )));
            }
            Some(Halt::State(state)) => {
                return Err(DeployError::Input(format!(
                    "--stop-on-alarm {alarm}: the alarm is in {state} now; the experiment would \
                     never run"
                )));
            }
        }
    }
    Ok(())
}
