//! The config currently in force, shared between the loader and the proxies.
//!
//! Before the first load attempt finishes there is no config, and nothing applies: the proxies
//! never wait for it (only INIT does, for a function that opted in to cold-start faults, and
//! never longer than the request timeout). A failed load keeps the last good config, for
//! `max_stale` at most: past it (the dead-man) no experiment is applied until a read succeeds.
//! An experiment halted by a stop alarm stays halted (latched) until its definition changes.
//!
//! SnapStart snapshots the extension's memory, config included, and restores it later, maybe
//! days later, in another environment. After a restore the config counts as stale: no experiment
//! applies from the snapshotted one until a read after the restore succeeds. A restore is known
//! from the runtime's `restore/next` being answered (the Runtime API proxy reports it), or else
//! from the wall clock having moved further than the monotonic clock since the last read, by
//! more than the refresh interval (a restored microVM's monotonic clock resumes where the
//! snapshot left it; a frozen environment's keeps running).

use crate::audit;
use chrono::{DateTime, Utc};
use faultline_schema::config::{Config, Experiment, Guard};
use faultline_schema::flags::{HTTP_INGRESS, INGRESS, RESPONSE};
use faultline_schema::labels::{FunctionFacts, INVOCATION_LABELS, Labels};
use faultline_schema::matcher::{ExperimentSet, in_window, is_active};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;
use std::time::SystemTime;
use tokio::sync::watch;

/// A loaded config with its experiments compiled for matching, and the labels every request of
/// this function carries.
#[derive(Debug)]
pub struct ActiveConfig {
    pub config: Config,
    pub experiments: ExperimentSet,
    /// The function's facts and the config's labels: what every request is labelled with.
    pub base_labels: Labels,
    /// Some experiment asks for a partial batch failure (its window is checked per event).
    asks_batch_failures: bool,
    /// The running experiments with a guard (their own, else the config's), with it.
    guarded: Vec<Guarded>,
}

/// A running experiment with a guard: its name, the guard, and its window (read on every
/// invocation while guarded, so kept beside the guard).
#[derive(Debug, Clone)]
pub struct Guarded {
    pub name: String,
    pub guard: Guard,
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
}

impl Guarded {
    fn of(experiment: &Experiment, guard: Guard) -> Guarded {
        Guarded {
            name: experiment.name.clone(),
            guard,
            start: experiment.start,
            end: experiment.end,
        }
    }

    /// Whether the experiment's window holds `now`.
    pub fn runs_at(&self, now: DateTime<Utc>) -> bool {
        in_window(self.start, self.end, now)
    }
}

impl ActiveConfig {
    pub fn new(config: Config, facts: &FunctionFacts) -> ActiveConfig {
        ActiveConfig::without(config, facts, &Guards::default())
    }

    /// The config with the experiments that may not run left out of matching: the halted ones,
    /// and those with stop alarms not yet read as OK for their current definition.
    fn without(config: Config, facts: &FunctionFacts, guards: &Guards) -> ActiveConfig {
        let running: Vec<Experiment> = config
            .experiments
            .iter()
            .filter(|e| !guards.halted.contains_key(&e.name))
            .filter(|e| {
                (config.stop_on_alarms.is_empty() && e.stop_on_alarms.is_empty())
                    || guards.cleared.get(&e.name) == Some(*e)
            })
            .cloned()
            .collect();
        let experiments = ExperimentSet::compile(&running);
        if let Some(problem) = experiments.problem() {
            tracing::error!("{problem}");
        }
        ActiveConfig {
            base_labels: facts.base_labels(&config),
            asks_batch_failures: running
                .iter()
                .any(|e| e.effect.batch_item_failures.is_some()),
            guarded: running
                .iter()
                .filter_map(|e| config.guard_of(e).map(|g| Guarded::of(e, g)))
                .collect(),
            config,
            experiments,
        }
    }

    /// Whether an experiment on `flag` could apply to some invocation of this function now: its
    /// window is open and its selector does not rule this function out. Invocation labels
    /// (event-source, method, path) are only known from the event, so they are taken to match.
    pub fn could_apply(&self, flag: &str, now: DateTime<Utc>) -> bool {
        self.experiments
            .could_apply(flag, &self.base_labels, &INVOCATION_LABELS, now)
    }

    /// Whether a `batchItemFailures` experiment could apply to this function's answers now: the
    /// batch's record ids are then read from each event.
    pub fn wants_record_ids(&self, now: DateTime<Utc>) -> bool {
        self.asks_batch_failures
            && self
                .config
                .experiments
                .iter()
                .any(|e| e.effect.batch_item_failures.is_some() && is_active(e, now))
            && self.could_apply(RESPONSE, now)
    }

    /// The experiments with a guard, running or not yet (or no longer) in their window.
    pub fn guarded(&self) -> &[Guarded] {
        &self.guarded
    }

    /// Whether an experiment with a guard runs now: invocation outcomes are then counted.
    pub fn is_guarded(&self, now: DateTime<Utc>) -> bool {
        self.guarded.iter().any(|g| g.runs_at(now))
    }

    /// Whether `/next` must read the event now: an ingress or response experiment could apply
    /// (a response experiment selects on the event's labels, which are known only from it).
    pub fn needs_event(&self, now: DateTime<Utc>) -> bool {
        [INGRESS, HTTP_INGRESS, RESPONSE]
            .into_iter()
            .any(|flag| self.could_apply(flag, now))
    }
}

/// Halted experiments: name → (its definition when halted, why).
type Halts = BTreeMap<String, (Experiment, String)>;

#[derive(Debug, Clone, Default)]
struct Snapshot {
    attempted: bool,
    /// Finished load attempts, successful or not.
    attempts: u64,
    config: Option<Arc<ActiveConfig>>,
}

/// What the dead-man and the stop alarms keep between loads.
#[derive(Debug, Default)]
struct Guards {
    /// Wall-clock time of the last successful read (a frozen environment's time counts).
    last_success: Option<SystemTime>,
    halted: Halts,
    /// Experiments with stop alarms whose alarms were read as OK, with the definition they were
    /// read for: only these of the experiments with stop alarms run.
    cleared: BTreeMap<String, Experiment>,
    /// Monotonic time of the last successful read, to tell a restore from a freeze.
    last_success_mono: Option<std::time::Instant>,
    /// The config in force was too stale to apply when last looked at.
    suspended: bool,
    /// The environment was restored from a snapshot since the last successful read.
    restored: bool,
}

/// Whether the wall clock moved further than the monotonic clock between a read (`wall_then`,
/// `mono_then`) and now, by more than `interval`: the process was restored from a snapshot.
fn restored_by_clocks(
    wall_then: SystemTime,
    mono_then: std::time::Instant,
    wall_now: SystemTime,
    mono_now: std::time::Instant,
    interval: Duration,
) -> bool {
    let Ok(wall) = wall_now.duration_since(wall_then) else {
        return false;
    };
    let mono = mono_now.saturating_duration_since(mono_then);
    wall.saturating_sub(mono) > interval
}

/// Tells of each change of the config in force ([`ConfigState::changes`]).
#[derive(Debug)]
pub struct Changes(watch::Receiver<Snapshot>);

impl Changes {
    /// Waits for the next change; false once nobody can change the config any more.
    pub async fn changed(&mut self) -> bool {
        self.0.changed().await.is_ok()
    }
}

/// The config in force, shared by the loader (which sets it) and the proxies (which read it).
#[derive(Debug, Clone)]
pub struct ConfigState {
    tx: Arc<watch::Sender<Snapshot>>,
    /// The function the config is for: its facts are labels of every request.
    facts: Arc<FunctionFacts>,
    guards: Arc<Mutex<Guards>>,
}

impl Default for ConfigState {
    fn default() -> Self {
        ConfigState::new()
    }
}

impl ConfigState {
    /// A state for a function with no known facts (tests, tools).
    pub fn new() -> Self {
        ConfigState::for_function(FunctionFacts::default())
    }

    /// A state for the function described by `facts`.
    pub fn for_function(facts: FunctionFacts) -> Self {
        let (tx, _rx) = watch::channel(Snapshot::default());
        ConfigState {
            tx: Arc::new(tx),
            facts: Arc::new(facts),
            guards: Arc::new(Mutex::new(Guards::default())),
        }
    }

    /// The config in force, if one was ever loaded.
    pub fn current(&self) -> Option<Arc<ActiveConfig>> {
        self.tx.borrow().config.clone()
    }

    /// Whether a first load attempt has finished (successfully or not).
    pub fn attempted(&self) -> bool {
        self.tx.borrow().attempted
    }

    fn guards(&self) -> std::sync::MutexGuard<'_, Guards> {
        self.guards
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Records a successful load. A halted experiment whose definition changed (or that is gone)
    /// is halted no more.
    pub fn set(&self, config: Config) {
        let active = {
            let mut guards = self.guards();
            guards.last_success = Some(SystemTime::now());
            guards.last_success_mono = Some(std::time::Instant::now());
            if std::mem::take(&mut guards.restored) {
                tracing::info!("the config was read after the restore: experiments apply again");
            }
            let unchanged = |name: &String, definition: &Experiment| {
                config
                    .experiments
                    .iter()
                    .any(|e| &e.name == name && e == definition)
            };
            guards
                .halted
                .retain(|name, (definition, _)| unchanged(name, definition));
            guards
                .cleared
                .retain(|name, definition| unchanged(name, definition));
            Arc::new(ActiveConfig::without(config, &self.facts, &guards))
        };
        self.tx.send_modify(|s| {
            s.attempted = true;
            s.attempts += 1;
            s.config = Some(active);
        });
    }

    /// Records a successful read that found the config in force unchanged (the store's version
    /// is the same): the dead-man is reset and a restore ends, as after [`ConfigState::set`],
    /// with nothing parsed or compiled. False when no config is in force (then it must be set).
    pub fn confirm(&self) -> bool {
        if self.current().is_none() {
            return false;
        }
        {
            let mut guards = self.guards();
            guards.last_success = Some(SystemTime::now());
            guards.last_success_mono = Some(std::time::Instant::now());
            if std::mem::take(&mut guards.restored) {
                tracing::info!("the config was read after the restore: experiments apply again");
            }
        }
        self.tx.send_modify(|s| {
            s.attempted = true;
            s.attempts += 1;
        });
        true
    }

    /// Records a failed load: the last good config (if any) stays in force, until `max_stale`.
    pub fn mark_failed(&self) {
        self.tx.send_modify(|s| {
            s.attempted = true;
            s.attempts += 1;
        });
    }

    /// Records that this environment was restored from a snapshot (`how` says how that was
    /// known): no experiment applies until the config is read again. Returns whether this is
    /// news.
    pub fn mark_restored(&self, how: &str) -> bool {
        let mut guards = self.guards();
        if guards.restored || guards.last_success.is_none() {
            return false;
        }
        guards.restored = true;
        drop(guards);
        let reason = format!(
            "restored from a snapshot ({how}): the snapshotted config does not apply until it is read again"
        );
        tracing::warn!("every experiment is suspended: {reason}");
        audit::write_line(audit::suspended_line(&reason, self.function_name()));
        true
    }

    /// Whether the environment was restored from a snapshot since the config was last read.
    pub fn restored(&self) -> bool {
        self.guards().restored
    }

    /// Halts experiment `name` in this environment (a stop alarm fired), until its definition
    /// changes in the config. Returns whether it was running.
    pub fn halt(&self, name: &str, reason: &str) -> bool {
        let halted = self.suspend(name, reason);
        if halted {
            tracing::warn!(
                "experiment {name} halted: {reason}; it stays halted until it is edited"
            );
            audit::write_line(audit::halted_line(name, reason, self.function_name()));
        }
        halted
    }

    /// Suspends experiment `name` in this environment: its guard tripped, `errors` of `total`
    /// invocations in its window having failed on their own. Until its definition changes, as a
    /// halt. Returns whether it was running.
    pub fn trip_guard(&self, name: &str, errors: u32, total: u32, guard: Guard) -> bool {
        let rate = f64::from(errors) / f64::from(total.max(1));
        let reason = format!(
            "guard: {errors} of the last {total} invocations failed on their own in {} ({:.0} % \
             >= {:.0} %)",
            humantime::format_duration(guard.window),
            rate * 100.0,
            guard.max_error_rate.value() * 100.0
        );
        let tripped = self.suspend(name, &reason);
        if tripped {
            tracing::warn!(
                "experiment {name} suspended in this environment: {reason}; it stays suspended \
                 until it is edited"
            );
            audit::write_line(audit::guard_tripped_line(
                name,
                self.function_name(),
                &reason,
                rate,
                (errors, total),
            ));
        }
        tripped
    }

    /// Latches experiment `name` as halted with `reason`; whether it was running.
    fn suspend(&self, name: &str, reason: &str) -> bool {
        self.change_guards(name, |guards, definition| {
            if guards.halted.contains_key(name) {
                return false;
            }
            guards
                .halted
                .insert(name.to_string(), (definition.clone(), reason.to_string()));
            guards.cleared.remove(name);
            true
        })
    }

    /// Lets experiment `name` run: its stop alarms were read, none in ALARM.
    pub fn clear(&self, name: &str) {
        let cleared = self.change_guards(name, |guards, definition| {
            if guards.halted.contains_key(name) || guards.cleared.get(name) == Some(definition) {
                return false;
            }
            guards.cleared.insert(name.to_string(), definition.clone());
            true
        });
        if cleared {
            tracing::debug!("experiment {name}: stop alarms read, none in ALARM");
        }
    }

    /// Applies `change` to the guards for experiment `name` of the config in force (with its
    /// definition there) and, when it changed something, publishes the config compiled anew.
    fn change_guards(
        &self,
        name: &str,
        change: impl FnOnce(&mut Guards, &Experiment) -> bool,
    ) -> bool {
        let Some(current) = self.current() else {
            return false;
        };
        let Some(definition) = current.config.experiments.iter().find(|e| e.name == name) else {
            return false;
        };
        let active = {
            let mut guards = self.guards();
            if !change(&mut guards, definition) {
                return false;
            }
            Arc::new(ActiveConfig::without(
                current.config.clone(),
                &self.facts,
                &guards,
            ))
        };
        self.tx.send_modify(|s| s.config = Some(active));
        true
    }

    /// The experiments halted here, with why.
    pub fn halted(&self) -> Vec<(String, String)> {
        self.guards()
            .halted
            .iter()
            .map(|(name, (_, reason))| (name.clone(), reason.clone()))
            .collect()
    }

    fn function_name(&self) -> &str {
        self.facts.function_name.as_deref().unwrap_or("unknown")
    }

    /// The config whose experiments apply now: the one in force, unless it is older than its
    /// `max_stale` (the dead-man: the source could not be read for that long, on the wall
    /// clock), in which case no experiment applies. The first request that sees a change of
    /// state logs it, once.
    pub fn in_force(&self) -> Option<Arc<ActiveConfig>> {
        let current = self.current()?;
        let max_stale = current.config.max_stale;
        let mut guards = self.guards();
        let now = SystemTime::now();
        if let (Some(wall), Some(mono)) = (guards.last_success, guards.last_success_mono)
            && !guards.restored
            && restored_by_clocks(
                wall,
                mono,
                now,
                std::time::Instant::now(),
                current.config.refresh_interval,
            )
        {
            drop(guards);
            self.mark_restored("the wall clock jumped ahead of the monotonic clock");
            guards = self.guards();
        }
        if guards.restored {
            return None;
        }
        let age = guards
            .last_success
            .map(|last| now.duration_since(last).unwrap_or_default());
        let stale = age.is_some_and(|age| age > max_stale);
        if stale != guards.suspended {
            guards.suspended = stale;
            drop(guards);
            if stale {
                let reason = format!(
                    "the config was last read {} ago, more than max_stale ({})",
                    humantime::format_duration(Duration::from_secs(age.map_or(0, |a| a.as_secs()))),
                    humantime::format_duration(max_stale)
                );
                tracing::warn!("every experiment is suspended: {reason}");
                audit::write_line(audit::suspended_line(&reason, self.function_name()));
            } else {
                tracing::info!("the config was read again: experiments resume");
            }
        }
        (!stale).then_some(current)
    }

    /// A receiver told of every change of the config in force: a load (successful or not), a
    /// halt, a clear.
    pub fn changes(&self) -> Changes {
        Changes(self.tx.subscribe())
    }

    /// Waits until the load attempt under way (or the next one) finishes, `timeout` at most.
    pub async fn wait_next_attempt(&self, timeout: Duration) -> bool {
        let before = self.tx.borrow().attempts;
        let mut rx = self.tx.subscribe();
        matches!(
            tokio::time::timeout(timeout, rx.wait_for(|s| s.attempts > before)).await,
            Ok(Ok(_))
        )
    }

    /// Waits until the first load attempt has finished, `timeout` at most. Returns at once
    /// when one has.
    pub async fn wait_first_attempt(&self, timeout: Duration) -> bool {
        let mut rx = self.tx.subscribe();
        matches!(
            tokio::time::timeout(timeout, rx.wait_for(|s| s.attempted)).await,
            Ok(Ok(_))
        )
    }

    /// The request timeout in force (the default before any config was loaded).
    pub fn request_timeout(&self) -> Duration {
        self.current()
            .map_or(faultline_schema::config::DEFAULT_REQUEST_TIMEOUT, |c| {
                c.config.request_timeout
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn waiting_is_bounded_and_failed_loads_keep_the_last_config() {
        let state = ConfigState::new();
        assert!(!state.wait_first_attempt(Duration::from_millis(50)).await);
        state.set(Config::default());
        assert!(state.wait_first_attempt(Duration::from_millis(50)).await);
        state.mark_failed();
        assert!(state.current().is_some());
    }

    #[test]
    fn a_restore_suspends_the_snapshotted_config_until_it_is_read_again() {
        let state = ConfigState::new();
        assert!(
            !state.mark_restored("before any read"),
            "nothing to suspend yet"
        );
        let config = Config::parse(
            "experiments:\n  - {name: slow, flag: ingress, effect: {latency: 300}}\n",
        )
        .unwrap();
        state.set(config.clone());
        assert!(state.in_force().is_some());
        assert!(state.mark_restored("the runtime's restore/next was answered"));
        assert!(!state.mark_restored("again"), "reported once");
        assert!(state.in_force().is_none());
        state.mark_failed();
        assert!(state.in_force().is_none(), "a failed read does not end it");
        state.set(config);
        assert!(state.in_force().is_some());
    }

    #[test]
    fn a_wall_clock_ahead_of_the_monotonic_clock_means_a_restore() {
        let wall = SystemTime::now();
        let mono = std::time::Instant::now();
        let interval = Duration::from_secs(30);
        let later = |secs| wall + Duration::from_secs(secs);
        let mono_later = |secs| mono + Duration::from_secs(secs);
        // A freeze: both clocks moved.
        assert!(!restored_by_clocks(
            wall,
            mono,
            later(3600),
            mono_later(3600),
            interval
        ));
        // A restore: the wall clock moved a day, the monotonic clock a second.
        assert!(restored_by_clocks(
            wall,
            mono,
            later(86_400),
            mono_later(1),
            interval
        ));
        // Drift within the interval, and a wall clock that went back, are not restores.
        assert!(!restored_by_clocks(
            wall,
            mono,
            later(20),
            mono_later(0),
            interval
        ));
        assert!(!restored_by_clocks(
            later(10),
            mono,
            wall,
            mono_later(5),
            interval
        ));
    }

    #[test]
    fn an_open_ingress_experiment_needs_the_event() {
        let state = ConfigState::for_function(FunctionFacts {
            function_name: Some("test-fn".into()),
            ..FunctionFacts::default()
        });
        state.set(
            Config::parse(
                "refresh_interval: 1s\nexperiments:\n  - {name: slow, flag: ingress, effect: {latency: 300}}\n",
            )
            .unwrap(),
        );
        let active = state.in_force().expect("in force");
        assert_eq!(active.experiments.len(), 1);
        assert!(active.needs_event(chrono::Utc::now()));
    }

    #[tokio::test]
    async fn a_waiter_wakes_when_the_load_finishes() {
        let state = ConfigState::new();
        let waiter = {
            let state = state.clone();
            tokio::spawn(async move { state.wait_first_attempt(Duration::from_secs(5)).await })
        };
        tokio::task::yield_now().await;
        state.mark_failed();
        assert!(waiter.await.expect("task"));
        assert!(state.current().is_none());
    }
}
