//! `deployer experiment list | start | stop`: experiments in the config secret, edited through
//! [`secret::edit`] (no lost concurrent edits) and checked by the shared schema.

use crate::aws::Aws;
use crate::cli::{Global, Output};
use crate::error::DeployError;
use crate::install::names;
use crate::install::secret;
use faultline_schema::config::{Config, Experiment, Rate, alarm_name};
use serde_yaml_ng::{Mapping, Value};
use std::collections::BTreeMap;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: ExperimentCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum ExperimentCommand {
    /// The experiments in the secret, active or not
    List,
    /// Add an experiment
    Start(StartArgs),
    /// Remove an experiment (or all)
    Stop(StopArgs),
}

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("effect").required(true).multiple(true).args(["latency", "exception", "http_status"])))]
pub struct StartArgs {
    /// Flag to target: ingress, http-ingress, response, egress, dependency-HOST, or an SDK flag
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

/// The window an experiment gets when `--duration` is not given.
const DEFAULT_WINDOW: std::time::Duration = std::time::Duration::from_secs(15 * 60);
/// The longest `--duration`.
const MAX_WINDOW: std::time::Duration = std::time::Duration::from_secs(24 * 60 * 60);

#[derive(Debug, clap::Args)]
pub struct StopArgs {
    /// The experiment to stop
    pub name: Option<String>,
    /// Stop every experiment
    #[arg(long, conflicts_with = "name")]
    pub all: bool,
}

fn document(text: &str) -> Result<Mapping, DeployError> {
    if text.trim().is_empty() {
        return Ok(Mapping::new());
    }
    match serde_yaml_ng::from_str::<Value>(text) {
        Ok(Value::Mapping(map)) => Ok(map),
        Ok(_) => Err(DeployError::Input(
            "the config secret is not a YAML mapping".into(),
        )),
        Err(err) => Err(DeployError::Input(format!(
            "the config secret is not valid YAML: {err}"
        ))),
    }
}

fn experiments(doc: &mut Mapping) -> &mut Vec<Value> {
    let entry = doc
        .entry(Value::from("experiments"))
        .or_insert_with(|| Value::Sequence(Vec::new()));
    if !entry.is_sequence() {
        *entry = Value::Sequence(Vec::new());
    }
    match entry {
        Value::Sequence(list) => list,
        _ => unreachable!("set to a sequence above"),
    }
}

fn render(doc: &Mapping) -> Result<String, DeployError> {
    serde_yaml_ng::to_string(doc)
        .map_err(|err| DeployError::Failed(format!("cannot write YAML: {err}")))
}

/// The experiment `start` describes, as YAML.
fn new_experiment(args: &StartArgs) -> Result<Value, DeployError> {
    let mut experiment = Mapping::new();
    let name = args.name.clone().unwrap_or_else(|| {
        format!(
            "{}-{}",
            args.flag,
            chrono::Utc::now().format("%Y%m%d%H%M%S")
        )
    });
    experiment.insert("name".into(), name.into());
    experiment.insert("flag".into(), args.flag.clone().into());
    if !args.selector.is_empty() {
        let mut selector = Mapping::new();
        for pair in &args.selector {
            let (key, values) = pair.split_once('=').ok_or_else(|| {
                DeployError::Input(format!(
                    "--selector {pair}: expected key=value (values separated by |)"
                ))
            })?;
            let values: Vec<Value> = values.split('|').map(|v| Value::from(v.trim())).collect();
            selector.insert(key.trim().into(), Value::Sequence(values));
        }
        experiment.insert("selector".into(), Value::Mapping(selector));
    }
    let rate = Rate::parse(&args.rate)
        .map_err(|reason| DeployError::Input(format!("--rate {}: {reason}", args.rate)))?;
    experiment.insert("rate".into(), rate.value().into());
    if !args.until_stopped {
        let window = match &args.duration {
            None => DEFAULT_WINDOW,
            Some(text) => {
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
                window
            }
        };
        experiment.insert("start".into(), chrono::Utc::now().to_rfc3339().into());
        experiment.insert(
            "duration".into(),
            humantime::format_duration(window).to_string().into(),
        );
    }
    if !args.stop_on_alarms.is_empty() {
        let alarms: Vec<Value> = args
            .stop_on_alarms
            .iter()
            .map(|a| Value::from(a.trim()))
            .collect();
        experiment.insert("stop_on_alarms".into(), Value::Sequence(alarms));
    }
    let mut effect = Mapping::new();
    if let Some(ms) = args.latency {
        effect.insert("latency".into(), ms.into());
    }
    if let Some(message) = &args.exception {
        effect.insert("exception".into(), message.clone().into());
    }
    if let Some(code) = args.http_status {
        let mut response = Mapping::new();
        response.insert("code".into(), code.into());
        effect.insert("httpResponse".into(), Value::Mapping(response));
    }
    if effect.is_empty() {
        return Err(DeployError::Input(
            "give an effect: --latency MS, --exception MESSAGE or --http-status CODE".into(),
        ));
    }
    experiment.insert("effect".into(), Value::Mapping(effect));
    Ok(Value::Mapping(experiment))
}

fn name_of(value: &Value) -> Option<&str> {
    value.get("name").and_then(Value::as_str)
}

/// The state of each named alarm (`OK`, `ALARM`, `INSUFFICIENT_DATA`); a missing one is absent.
async fn alarm_states(
    aws_: &Aws,
    alarms: &[String],
) -> Result<BTreeMap<String, String>, DeployError> {
    let names: Vec<String> = alarms.iter().map(|a| alarm_name(a).to_string()).collect();
    let mut states = BTreeMap::new();
    for chunk in names.chunks(100) {
        let page = aws_
            .cloudwatch
            .describe_alarms()
            .set_alarm_names(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(|err| crate::error::aws("reading alarms (cloudwatch:DescribeAlarms)", err))?;
        for alarm in page.metric_alarms() {
            if let (Some(name), Some(state)) = (alarm.alarm_name(), alarm.state_value()) {
                states.insert(name.to_string(), state.as_str().to_string());
            }
        }
        for alarm in page.composite_alarms() {
            if let (Some(name), Some(state)) = (alarm.alarm_name(), alarm.state_value()) {
                states.insert(name.to_string(), state.as_str().to_string());
            }
        }
    }
    Ok(states)
}

/// Refuses stop alarms that do not exist or are in ALARM already: such an experiment would
/// never run.
async fn check_alarms(aws_: &Aws, alarms: &[String]) -> Result<(), DeployError> {
    if alarms.is_empty() {
        return Ok(());
    }
    let states = alarm_states(aws_, alarms).await?;
    for alarm in alarms {
        match states.get(alarm_name(alarm)).map(String::as_str) {
            None => {
                return Err(DeployError::Input(format!(
                    "--stop-on-alarm {alarm}: no such alarm in {}",
                    aws_.region
                )));
            }
            Some("ALARM") => {
                return Err(DeployError::Input(format!(
                    "--stop-on-alarm {alarm}: the alarm is in ALARM now; the experiment would \
                     never run"
                )));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// Removes the experiments whose window ended before `now` (they can never apply again, and
/// each one left in the secret is read by every environment at every refresh); their names.
fn drop_ended(doc: &mut Mapping, now: chrono::DateTime<chrono::Utc>) -> Vec<String> {
    let Ok(config) = render(doc)
        .and_then(|text| Config::parse(&text).map_err(|err| DeployError::Input(err.to_string())))
    else {
        return Vec::new();
    };
    let ended: Vec<String> = config
        .experiments
        .iter()
        .filter(|e| e.end.is_some_and(|end| end <= now))
        .map(|e| e.name.clone())
        .collect();
    if !ended.is_empty() {
        experiments(doc).retain(|e| !name_of(e).is_some_and(|n| ended.iter().any(|x| x == n)));
    }
    ended
}

async fn start(
    aws_: &Aws,
    secret: &str,
    args: &StartArgs,
) -> Result<(String, Vec<String>), DeployError> {
    let experiment = new_experiment(args)?;
    check_alarms(aws_, &args.stop_on_alarms).await?;
    let name = name_of(&experiment).unwrap_or_default().to_string();
    let mut removed = Vec::new();
    secret::edit(aws_, secret, |text| {
        let mut doc = document(text)?;
        removed = drop_ended(&mut doc, chrono::Utc::now());
        let list = experiments(&mut doc);
        if list.iter().any(|e| name_of(e) == Some(name.as_str())) {
            return Err(DeployError::Input(format!(
                "an experiment named {name} exists: stop it first or pick another --experiment name"
            )));
        }
        list.push(experiment.clone());
        render(&doc).map(Some)
    })
    .await?;
    Ok((name, removed))
}

async fn stop(
    aws_: &Aws,
    secret: &str,
    args: &StopArgs,
) -> Result<(bool, Vec<String>), DeployError> {
    if args.name.is_none() && !args.all {
        return Err(DeployError::Input(
            "name the experiment to stop, or pass --all".into(),
        ));
    }
    let mut stopped = false;
    let mut removed = Vec::new();
    secret::edit(aws_, secret, |text| {
        let mut doc = document(text)?;
        let list = experiments(&mut doc);
        let before = list.len();
        match &args.name {
            Some(name) => list.retain(|e| name_of(e) != Some(name.as_str())),
            None => list.clear(),
        }
        stopped = list.len() != before;
        removed = drop_ended(&mut doc, chrono::Utc::now());
        if !stopped && removed.is_empty() {
            return Ok(None);
        }
        render(&doc).map(Some)
    })
    .await?;
    if !stopped && let Some(name) = &args.name {
        return Err(DeployError::Input(format!("no experiment named {name}")));
    }
    Ok((stopped, removed))
}

/// What a start or stop says of the ended experiments it removed.
fn removed_note(removed: &[String]) -> String {
    if removed.is_empty() {
        String::new()
    } else {
        format!(" (removed ended experiments: {})", removed.join(", "))
    }
}

/// Where an experiment stands: scheduled, active, ended, or halted by one of its stop alarms
/// (which every environment reading them sees in ALARM too).
fn state_of(
    experiment: &Experiment,
    config: &Config,
    alarms: &BTreeMap<String, String>,
    now: chrono::DateTime<chrono::Utc>,
) -> String {
    if experiment.start.is_some_and(|start| now < start) {
        return "scheduled".into();
    }
    if experiment.end.is_some_and(|end| end <= now) {
        return "ended".into();
    }
    let stopping: Vec<String> = config
        .stop_on_alarms
        .iter()
        .chain(&experiment.stop_on_alarms)
        .map(|a| alarm_name(a).to_string())
        .filter_map(|name| match alarms.get(&name).map(String::as_str) {
            Some("OK" | "INSUFFICIENT_DATA") => None,
            Some(state) => Some(format!("{name} is {state}")),
            None => Some(format!("{name} does not exist")),
        })
        .collect();
    if stopping.is_empty() {
        "active".into()
    } else {
        format!("halted ({})", stopping.join(", "))
    }
}

async fn list(aws_: &Aws, secret: &str, format: Output) -> Result<(), DeployError> {
    let (text, _) = secret::read(aws_, secret).await?;
    let config = Config::parse(&text)
        .map_err(|err| DeployError::Failed(format!("secret {secret}: {err}")))?;
    let now = chrono::Utc::now();
    let all_alarms: Vec<String> = config
        .experiments
        .iter()
        .flat_map(|e| config.stop_on_alarms.iter().chain(&e.stop_on_alarms))
        .cloned()
        .collect();
    let alarms = if all_alarms.is_empty() {
        BTreeMap::new()
    } else {
        alarm_states(aws_, &all_alarms).await?
    };
    let rows: Vec<serde_json::Value> = config
        .experiments
        .iter()
        .map(|e| {
            let mut view = faultline_schema::sdk_view::sdk_view(e);
            let state = state_of(e, &config, &alarms, now);
            view["active"] = (state == "active").into();
            view["state"] = state.into();
            let stop_alarms: serde_json::Map<String, serde_json::Value> = config
                .stop_on_alarms
                .iter()
                .chain(&e.stop_on_alarms)
                .map(|a| {
                    let name = alarm_name(a).to_string();
                    let state = alarms
                        .get(&name)
                        .cloned()
                        .unwrap_or_else(|| "missing".into());
                    (name, state.into())
                })
                .collect();
            view["stop_alarms"] = stop_alarms.into();
            view
        })
        .collect();
    match format {
        Output::Json => crate::output::print_json(&serde_json::json!({"experiments": rows})),
        Output::Text => {
            if rows.is_empty() {
                println!("no experiments");
            }
            for (e, row) in config.experiments.iter().zip(&rows) {
                let until = e
                    .end
                    .map_or_else(|| "until stopped".to_string(), |end| format!("until {end}"));
                let alarms = row["stop_alarms"]
                    .as_object()
                    .filter(|a| !a.is_empty())
                    .map(|a| {
                        let shown: Vec<String> = a
                            .iter()
                            .map(|(name, state)| {
                                format!("{name}={}", state.as_str().unwrap_or("?"))
                            })
                            .collect();
                        format!("  stop alarms: {}", shown.join(", "))
                    })
                    .unwrap_or_default();
                println!(
                    "{}  {}  flag={}  rate={}  {until}  effect={}{alarms}",
                    e.name,
                    row["state"].as_str().unwrap_or("?"),
                    e.flag,
                    e.rate.value(),
                    row["effect"]
                );
            }
            for rejected in &config.rejected_experiments {
                println!("invalid: {rejected}");
            }
        }
    }
    Ok(())
}

pub async fn run(global: &Global, args: &Args) -> Result<(), DeployError> {
    let aws_ = Aws::connect(global).await?;
    let secret = names::secret(&global.name);
    match &args.command {
        ExperimentCommand::List => list(&aws_, &secret, global.output).await,
        ExperimentCommand::Start(start_args) => {
            let (name, removed) = start(&aws_, &secret, start_args).await?;
            crate::output::print(
                global.output,
                &format!("started {name}{}", removed_note(&removed)),
                &serde_json::json!({"started": name, "removed_ended": removed}),
            );
            Ok(())
        }
        ExperimentCommand::Stop(stop_args) => {
            let (changed, removed) = stop(&aws_, &secret, stop_args).await?;
            let said = if changed {
                "stopped"
            } else {
                "nothing to stop"
            };
            crate::output::print(
                global.output,
                &format!("{said}{}", removed_note(&removed)),
                &serde_json::json!({"changed": changed, "removed_ended": removed}),
            );
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start_args(flag: &str) -> StartArgs {
        StartArgs {
            flag: flag.into(),
            name: Some("slow".into()),
            selector: vec!["function-name=checkout|payments".into()],
            rate: "50%".into(),
            latency: Some(200),
            exception: None,
            http_status: None,
            duration: Some("15m".into()),
            until_stopped: false,
            stop_on_alarms: vec!["orders-5xx".into()],
        }
    }

    #[test]
    fn started_experiments_pass_the_shared_schema() {
        let mut doc = document("debug: true\n").expect("doc");
        experiments(&mut doc).push(new_experiment(&start_args("ingress")).expect("experiment"));
        let text = render(&doc).expect("yaml");
        let config = Config::parse_strict(&text).expect("valid");
        assert!(config.debug);
        assert_eq!(
            config.experiments[0].selector["function-name"],
            ["checkout", "payments"]
        );
        assert!(config.experiments[0].end.is_some());
        let mut no_effect = start_args("ingress");
        no_effect.latency = None;
        assert!(new_experiment(&no_effect).is_err());
    }

    #[test]
    fn ended_experiments_are_dropped() {
        let mut doc = document(
            "debug: true
experiments:
  - {name: old, flag: ingress, start: '2020-01-01T00:00:00Z', duration: 1h, effect: {latency: 1}}
  - {name: open, flag: ingress, effect: {latency: 1}}
  - {name: later, flag: ingress, start: '2030-01-01T00:00:00Z', end: '2030-01-02T00:00:00Z', effect: {latency: 1}}
",
        )
        .expect("doc");
        let now = chrono::DateTime::parse_from_rfc3339("2026-06-01T00:00:00Z")
            .expect("time")
            .with_timezone(&chrono::Utc);
        assert_eq!(drop_ended(&mut doc, now), ["old"]);
        let names: Vec<&str> = experiments(&mut doc).iter().filter_map(name_of).collect();
        assert_eq!(names, ["open", "later"]);
        assert!(drop_ended(&mut doc, now).is_empty());
        assert_eq!(
            removed_note(&["old".into()]),
            " (removed ended experiments: old)"
        );
    }

    #[test]
    fn windows_default_to_fifteen_minutes_and_are_bounded() {
        let mut args = start_args("ingress");
        args.duration = None;
        let experiment = new_experiment(&args).expect("experiment");
        assert_eq!(experiment["duration"].as_str(), Some("15m"));
        assert!(experiment.get("start").is_some());
        assert_eq!(experiment["stop_on_alarms"][0].as_str(), Some("orders-5xx"));
        args.duration = Some("25h".into());
        assert!(matches!(new_experiment(&args), Err(DeployError::Input(m)) if m.contains("24h")));
        args.duration = Some("300000y".into());
        assert!(new_experiment(&args).is_err());
        args.duration = None;
        args.until_stopped = true;
        let open = new_experiment(&args).expect("experiment");
        assert!(open.get("duration").is_none() && open.get("start").is_none());
    }

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
            .map(|e| state_of(e, &config, &alarms, now))
            .collect();
        assert_eq!(
            states,
            ["scheduled", "ended", "halted (mine does not exist)"]
        );
        alarms.insert("mine".into(), "OK".into());
        assert_eq!(
            state_of(&config.experiments[2], &config, &alarms, now),
            "active"
        );
        alarms.insert("global".into(), "ALARM".into());
        assert_eq!(
            state_of(&config.experiments[2], &config, &alarms, now),
            "halted (global is ALARM)"
        );
    }
}
