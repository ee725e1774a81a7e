//! Effects on the execution environment (flag `environment`): `disk`, `memory` and `cpu`, each
//! started when its experiment becomes active in this environment and undone when the experiment
//! is no longer in force: ended, stopped, halted, suspended (dead-man, a restore, the guard),
//! changed, and at SHUTDOWN. None is on the invocation path.
//!
//! [`Environment`] reconciles what runs with what the config in force asks, on every change of
//! the config and, while the config has `environment` experiments or anything runs, once a
//! second (a window opens or closes, the config goes stale). The work (allocating, touching,
//! removing) runs on a blocking thread, never on the proxies' one.

pub mod cpu;
pub mod disk;
pub mod memory;

use crate::audit;
use crate::config::state::ConfigState;
use faultline_schema::config::Experiment;
use faultline_schema::fault::AppliedEffect;
use faultline_schema::flags::ENVIRONMENT;
use faultline_schema::labels::Labels;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How often what runs is checked against the config while anything could run.
const TICK: Duration = Duration::from_secs(1);

/// One experiment's effects in this environment.
#[derive(Debug)]
struct Running {
    /// The definition they were started for.
    definition: Experiment,
    disk: Option<disk::Fill>,
    memory: Option<memory::Block>,
    cpu: Option<cpu::Burner>,
}

/// The environment effects of this execution environment.
#[derive(Debug)]
pub struct Environment {
    state: ConfigState,
    /// The function's memory in MB, when known: a `memory` effect above 90 % of it is refused.
    function_mb: Option<u64>,
    /// Where `disk` files go: the temporary directory (`/tmp` in Lambda).
    dir: PathBuf,
    running: Mutex<BTreeMap<String, Running>>,
    /// Set at SHUTDOWN: nothing starts any more.
    stopped: std::sync::atomic::AtomicBool,
}

impl Environment {
    pub fn new(state: ConfigState, function_mb: Option<u64>, dir: PathBuf) -> Arc<Environment> {
        Arc::new(Environment {
            state,
            function_mb,
            dir,
            running: Mutex::new(BTreeMap::new()),
            stopped: std::sync::atomic::AtomicBool::new(false),
        })
    }

    fn running(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Running>> {
        self.running
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether anything could run or runs: the config has `environment` experiments, or
    /// effects are running.
    fn watching(&self) -> bool {
        let asked = self.state.current().is_some_and(|active| {
            active
                .config
                .experiments
                .iter()
                .any(|e| e.effect.on_environment())
        });
        asked || !self.running().is_empty()
    }

    /// Follows the config until nobody can change it any more.
    pub fn spawn(self: &Arc<Self>) {
        let this = Arc::clone(self);
        tokio::spawn(async move {
            let mut changes = this.state.changes();
            let mut tick = tokio::time::interval(TICK);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                let ticking = this.watching();
                tokio::select! {
                    changed = changes.changed() => if !changed { break },
                    _ = tick.tick(), if ticking => {}
                }
                if this.watching() {
                    let that = Arc::clone(&this);
                    let _ = tokio::task::spawn_blocking(move || that.reconcile()).await;
                }
            }
        });
    }

    /// Starts what the config in force asks and is not running, undoes what runs and is no
    /// longer asked, and re-applies what changed.
    pub fn reconcile(&self) {
        let now = chrono::Utc::now();
        let active = self.state.in_force();
        let (wanted, labels): (Vec<Experiment>, Labels) = match &active {
            Some(active) => (
                active
                    .experiments
                    .active(ENVIRONMENT, &active.base_labels, now)
                    .filter(|e| e.effect.on_environment())
                    .map(|e| e.as_ref().clone())
                    .collect(),
                active.base_labels.clone(),
            ),
            None => (Vec::new(), Labels::new()),
        };
        let mut running = self.running();
        if self.stopped.load(std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        running.retain(|name, _| {
            let keep = wanted.iter().any(|e| &e.name == name);
            if !keep {
                tracing::info!(
                    "experiment {name}: its environment effects are undone (it is no longer in \
                     force: ended, stopped, halted or suspended)"
                );
            }
            keep
        });
        for experiment in wanted {
            let unchanged = running
                .get(&experiment.name)
                .is_some_and(|r| r.definition == experiment);
            if unchanged {
                continue;
            }
            let previous = running.remove(&experiment.name);
            let started = self.start(experiment, previous, &labels);
            running.insert(started.definition.name.clone(), started);
        }
    }

    /// Starts `experiment`'s effects (its rate drawn once per definition), reusing the disk file
    /// of `previous` (a changed size resizes it); the rest of `previous` is undone first.
    fn start(&self, experiment: Experiment, previous: Option<Running>, labels: &Labels) -> Running {
        let name = experiment.name.clone();
        let mut kept_file = previous.and_then(|p| p.disk);
        let mut running = Running {
            definition: experiment.clone(),
            disk: None,
            memory: None,
            cpu: None,
        };
        if fastrand::f64() >= experiment.rate.value() {
            tracing::debug!("experiment {name}: not drawn for this environment");
            return running;
        }
        let effect = &experiment.effect;
        let record = |applied: AppliedEffect| {
            audit::record(
                audit::Invocation::default(),
                &name,
                ENVIRONMENT,
                &applied,
                labels,
            );
        };
        if let Some(asked) = effect.disk {
            let fill = match kept_file.take() {
                Some(mut fill) => fill.resize(asked).map(|()| fill),
                None => disk::Fill::start(self.dir.join(file_name(&name)), asked),
            };
            match fill {
                Ok(fill) => {
                    record(AppliedEffect::Disk { bytes: fill.size() });
                    running.disk = Some(fill);
                }
                Err(err) => tracing::error!(
                    "experiment {name}: cannot fill {}: {err}",
                    self.dir.display()
                ),
            }
        }
        if let Some(asked) = effect.memory {
            match self.function_mb.and_then(|mb| asked.refusal(mb)) {
                Some(refusal) => {
                    tracing::error!("experiment {name}: effect.memory.mb: {refusal}");
                }
                None => match memory::Block::hold(asked.mb) {
                    Some(block) => {
                        record(AppliedEffect::Memory { mb: block.mb() });
                        running.memory = Some(block);
                    }
                    None => tracing::error!(
                        "experiment {name}: {} MiB could not be allocated",
                        asked.mb
                    ),
                },
            }
        }
        if let Some(asked) = effect.cpu {
            match cpu::Burner::start(asked.percent) {
                Some(burner) => {
                    record(AppliedEffect::Cpu {
                        percent: burner.percent(),
                    });
                    running.cpu = Some(burner);
                }
                None => tracing::error!("experiment {name}: cannot start the CPU thread"),
            }
        }
        running
    }

    /// Undoes every effect (SHUTDOWN).
    pub fn stop_all(&self) {
        let mut running = self.running();
        self.stopped
            .store(true, std::sync::atomic::Ordering::SeqCst);
        if !running.is_empty() {
            tracing::info!("shutdown: every environment effect is undone");
        }
        running.clear();
    }
}

/// The disk file of experiment `name`: `faultline-disk-NAME`, the name kept to letters, digits,
/// `-` and `_`.
fn file_name(name: &str) -> String {
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("faultline-disk-{safe}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_schema::config::Config;

    fn with(yaml: &str, function_mb: Option<u64>) -> (Arc<Environment>, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = ConfigState::new();
        state.set(Config::parse_strict(yaml).expect("valid"));
        (
            Environment::new(state, function_mb, dir.path().to_path_buf()),
            dir,
        )
    }

    #[test]
    fn effects_start_with_their_experiment_and_go_with_it() {
        let (environment, dir) = with(
            "experiments:\n  - {name: full/tmp, flag: environment, effect: {disk: {fill_mb: 2}, cpu: {percent: 5}}}\n",
            Some(128),
        );
        environment.reconcile();
        let file = dir.path().join("faultline-disk-full_tmp");
        assert_eq!(
            std::fs::metadata(&file).expect("file").len(),
            2 * 1024 * 1024
        );
        assert!(environment.running()["full/tmp"].cpu.is_some());
        // Stopped: the config no longer has it.
        environment.state.set(Config::default());
        environment.reconcile();
        assert!(!file.exists());
        assert!(environment.running().is_empty());
    }

    #[test]
    fn a_changed_size_resizes_the_same_file_and_shutdown_undoes_all() {
        let (environment, dir) = with(
            "experiments:\n  - {name: d, flag: environment, effect: {disk: {fill_mb: 1}}}\n",
            None,
        );
        environment.reconcile();
        let file = dir.path().join("faultline-disk-d");
        assert_eq!(std::fs::metadata(&file).expect("file").len(), 1024 * 1024);
        environment.state.set(
            Config::parse_strict(
                "experiments:\n  - {name: d, flag: environment, effect: {disk: {fill_mb: 3}}}\n",
            )
            .expect("valid"),
        );
        environment.reconcile();
        assert_eq!(
            std::fs::metadata(&file).expect("file").len(),
            3 * 1024 * 1024
        );
        environment.stop_all();
        assert!(!file.exists());
    }

    #[test]
    fn memory_above_the_ceiling_is_refused_for_this_function() {
        let (environment, _dir) = with(
            "experiments:\n  - {name: m, flag: environment, effect: {memory: {mb: 120}}}\n",
            Some(128),
        );
        environment.reconcile();
        assert!(environment.running()["m"].memory.is_none());
    }

    #[test]
    fn an_ended_or_unselected_experiment_starts_nothing() {
        let (environment, _dir) = with(
            "experiments:\n\
             - {name: over, flag: environment, start: '2020-01-01T00:00:00Z', duration: 1h, effect: {cpu: {percent: 5}}}\n\
             - {name: never, flag: environment, rate: 0, effect: {cpu: {percent: 5}}}\n",
            None,
        );
        environment.reconcile();
        let running = environment.running();
        assert!(!running.contains_key("over"));
        assert!(running["never"].cpu.is_none());
    }
}
