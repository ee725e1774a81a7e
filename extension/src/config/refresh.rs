//! Re-reads the config every `refresh_interval`, in the background.
//!
//! Lambda freezes the environment between invocations, so a timer alone is not enough: a timer
//! due during a freeze fires late, after the invocation that should have seen the new config.
//! The Runtime API proxy therefore calls [`ConfigRefresher::poke`] whenever `/next` goes through;
//! a stale config is then re-read in the background (the invocation never waits for it). Staleness
//! is judged on the wall clock, which keeps running while the environment is frozen. A failed
//! read keeps the last good config (see [`ConfigLoader`]).
//!
//! Environments started together (a cold-start burst: Lambda adds up to 1,000 every 10 s) would
//! read together at every interval after. The first read's time is therefore counted as earlier
//! by a random fraction of the interval: the first refresh comes sooner by that much, and the
//! environments' reads spread over the interval from then on. Nothing is read later than the
//! interval asks, so the dead-man's `max_stale` holds as before.

use crate::config::loader::ConfigLoader;
use crate::config::state::ConfigState;
use crate::kernel_timer::KernelTimer;
use crate::logging::LogLevel;
use faultline_schema::config::DEFAULT_REFRESH_INTERVAL;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::{Duration, SystemTime};

/// How much earlier than it happened the first read counts, for the draw `draw` (in `0..1`):
/// the first refresh comes `interval` minus that after the first read, the next ones every
/// `interval` (the config-read benchmark simulates a fleet's reads with it).
pub fn first_read_backdated(interval: Duration, draw: f64) -> Duration {
    interval.mul_f64(draw.clamp(0.0, 1.0))
}

pub struct ConfigRefresher {
    loader: Arc<ConfigLoader>,
    state: ConfigState,
    log_level: LogLevel,
    /// When the last attempt finished, and when the config it left goes stale (ms since the
    /// epoch; [`NEVER`] before the first): read on every `/next`, so atomics, not a lock.
    last_attempt_ms: AtomicI64,
    stale_at_ms: AtomicI64,
    in_flight: AtomicBool,
    /// The first attempt's phase was drawn.
    jittered: AtomicBool,
    /// Where the stop alarms are read (the function's region).
    region: Option<String>,
}

/// No attempt yet (or the config was made stale at once).
const NEVER: i64 = i64::MIN;

/// Milliseconds since the epoch (negative before it).
fn epoch_ms(at: SystemTime) -> i64 {
    match at.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_millis()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_millis()).map_or(i64::MIN + 1, |ms| -ms),
    }
}

/// The periodic refresh never wakes more often than this (while a read is under way).
const MIN_WAKE: Duration = Duration::from_millis(250);

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
            last_attempt_ms: AtomicI64::new(NEVER),
            stale_at_ms: AtomicI64::new(NEVER),
            in_flight: AtomicBool::new(false),
            jittered: AtomicBool::new(false),
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
        let now = epoch_ms(now);
        let last = self.last_attempt_ms.load(Ordering::Acquire);
        // Never read, or a clock that went backwards: stale.
        last == NEVER || now < last || now >= self.stale_at_ms.load(Ordering::Acquire)
    }

    fn mark_attempt(&self) {
        let now = SystemTime::now();
        let interval = self.interval();
        let at = if self.jittered.swap(true, Ordering::SeqCst) {
            now
        } else {
            // The first read counts as earlier by a random fraction of the interval.
            now.checked_sub(first_read_backdated(interval, fastrand::f64()))
                .unwrap_or(now)
        };
        let at = epoch_ms(at);
        let interval = i64::try_from(interval.as_millis()).unwrap_or(i64::MAX);
        self.stale_at_ms
            .store(at.saturating_add(interval), Ordering::Release);
        self.last_attempt_ms.store(at, Ordering::Release);
    }

    /// How long until the config is stale: zero when it is, or was never read.
    fn until_stale(&self, now: SystemTime) -> Duration {
        if self.last_attempt_ms.load(Ordering::Acquire) == NEVER {
            return Duration::ZERO;
        }
        let left = self
            .stale_at_ms
            .load(Ordering::Acquire)
            .saturating_sub(epoch_ms(now));
        Duration::from_millis(u64::try_from(left).unwrap_or(0))
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
        self.last_attempt_ms.store(NEVER, Ordering::Release);
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

    /// Re-reads the config whenever it goes stale while the environment runs. The wait is a
    /// kernel timer ([`KernelTimer`]): a runtime timer always pending would cost every
    /// invocation.
    pub async fn run_periodic(self: Arc<Self>) {
        let mut timer = KernelTimer::new("the config refresh");
        loop {
            timer
                .sleep(self.until_stale(SystemTime::now()).max(MIN_WAKE))
                .await;
            self.poke();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::source::{ConfigFetcher, ConfigSource};

    async fn loaded_from(path: &std::path::Path) -> Arc<ConfigRefresher> {
        let state = ConfigState::new();
        let fetcher = ConfigFetcher::new(ConfigSource::File(path.to_path_buf()));
        let loader = Arc::new(ConfigLoader::new(fetcher, state.clone()));
        let refresher = ConfigRefresher::new(loader, state, crate::logging::init(None), None);
        assert!(refresher.load_now().await);
        refresher
    }

    #[tokio::test]
    async fn the_first_refresh_is_spread_over_the_interval_and_the_next_come_on_time() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("faultline.yaml");
        std::fs::write(&path, "refresh_interval: 100s\n").expect("config");
        let interval = Duration::from_secs(100);
        let mut waits = Vec::new();
        for _ in 0..20 {
            let refresher = loaded_from(&path).await;
            let wait = refresher.until_stale(SystemTime::now());
            assert!(wait <= interval, "{wait:?}");
            waits.push(wait.as_secs());
            // After the first read, every read is due one interval on.
            refresher.mark_attempt();
            let next = refresher.until_stale(SystemTime::now());
            assert!(next > interval - Duration::from_secs(1), "{next:?}");
        }
        waits.sort_unstable();
        waits.dedup();
        assert!(
            waits.len() > 5,
            "20 environments started together refresh at {waits:?} s"
        );
    }
}
