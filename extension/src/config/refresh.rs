//! Re-reads the config every `refresh_interval`, in the background.
//!
//! Lambda freezes the environment between invocations, so a timer alone is not enough: a timer
//! due during a freeze fires late, after the invocation that should have seen the new config.
//! The Runtime API proxy therefore calls [`ConfigRefresher::poke`] whenever `/next` goes through;
//! a stale config is then re-read in the background (the invocation never waits for it). Staleness
//! is judged on the wall clock, which keeps running while the environment is frozen. A failed
//! read keeps the last good config (see [`ConfigLoader`]).

use crate::config::loader::ConfigLoader;
use crate::config::state::ConfigState;
use crate::logging::LogLevel;
use faultline_schema::config::DEFAULT_REFRESH_INTERVAL;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

pub struct ConfigRefresher {
    loader: Arc<ConfigLoader>,
    state: ConfigState,
    log_level: LogLevel,
    last_attempt: Mutex<Option<SystemTime>>,
    in_flight: AtomicBool,
    /// Where the stop alarms are read (the function's region).
    region: Option<String>,
}

impl ConfigRefresher {
    pub fn new(
        loader: Arc<ConfigLoader>,
        state: ConfigState,
        log_level: LogLevel,
        region: Option<String>,
    ) -> Arc<Self> {
        Arc::new(ConfigRefresher {
            loader,
            state,
            log_level,
            last_attempt: Mutex::new(None),
            in_flight: AtomicBool::new(false),
            region,
        })
    }

    /// Whether the source needs a network call.
    pub fn is_remote(&self) -> bool {
        self.loader.is_remote()
    }

    /// Whether a read of the config is under way.
    pub fn in_flight(&self) -> bool {
        self.in_flight.load(Ordering::SeqCst)
    }

    fn interval(&self) -> Duration {
        self.state
            .current()
            .map_or(DEFAULT_REFRESH_INTERVAL, |c| c.config.refresh_interval)
    }

    fn is_stale(&self, now: SystemTime) -> bool {
        let last = *self
            .last_attempt
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match last {
            None => true,
            // A clock that went backwards counts as stale.
            Some(last) => now
                .duration_since(last)
                .map_or(true, |elapsed| elapsed >= self.interval()),
        }
    }

    fn mark_attempt(&self) {
        *self
            .last_attempt
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(SystemTime::now());
    }

    /// Loads the config now (start-up). Counts as an attempt for staleness.
    pub async fn load_now(&self) -> bool {
        self.in_flight.store(true, Ordering::SeqCst);
        self.attempt().await
    }

    /// One load, in a task of its own so that nothing it does (a panic included) can stop the
    /// caller or leave the state waiting: however it ends, it counts as an attempt, a load that
    /// did not succeed counts as failed, and the next refresh may start.
    async fn attempt(&self) -> bool {
        let loader = Arc::clone(&self.loader);
        let log_level = self.log_level.clone();
        let region = self.region.clone();
        let load = async move {
            let loaded = loader.load_once(&log_level).await;
            loader.check_alarms(region.as_deref()).await;
            loaded
        };
        let loaded = match tokio::spawn(load).await {
            Ok(loaded) => loaded,
            Err(err) => {
                tracing::error!(
                    "loading the config failed unexpectedly ({err}); {}",
                    if self.state.current().is_some() {
                        "keeping the last good config"
                    } else {
                        "passing traffic through untouched"
                    }
                );
                self.state.mark_failed();
                false
            }
        };
        self.mark_attempt();
        self.in_flight.store(false, Ordering::SeqCst);
        loaded
    }

    /// Makes the config stale at once (the environment was restored from a snapshot).
    pub fn expire(&self) {
        *self
            .last_attempt
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = None;
    }

    /// Starts a background re-read if the config is stale and none is running. Never waits.
    pub fn poke(self: &Arc<Self>) {
        if !self.is_stale(SystemTime::now()) || self.in_flight.swap(true, Ordering::SeqCst) {
            return;
        }
        let refresher = Arc::clone(self);
        tokio::spawn(async move {
            tracing::debug!("config is stale; re-reading it in the background");
            refresher.attempt().await;
        });
    }

    /// Re-reads the config every refresh interval while the environment runs.
    pub async fn run_periodic(self: Arc<Self>) {
        loop {
            tokio::time::sleep(self.interval()).await;
            self.poke();
        }
    }
}
