//! Loads the config from its source into [`ConfigState`], logging one clear line per outcome.
//!
//! Failures never stop anything: the last good config (or none) stays in force and traffic is
//! passed through untouched. Messages name the source and the reason, never the config text.

use crate::config::source::{ConfigFetcher, FETCH_TIMEOUT};
use crate::config::state::ConfigState;
use crate::logging::LogLevel;
use faultline_schema::config::Config;

pub struct ConfigLoader {
    fetcher: ConfigFetcher,
    state: ConfigState,
    /// The store's version of the config in force: a read of the same version is not parsed.
    version: std::sync::Mutex<Option<String>>,
}

impl ConfigLoader {
    pub fn new(fetcher: ConfigFetcher, state: ConfigState) -> Self {
        ConfigLoader {
            fetcher,
            state,
            version: std::sync::Mutex::new(None),
        }
    }

    /// Reads the stop alarms of the active experiments, halting or clearing each.
    pub async fn check_alarms(&self, region: Option<&str>) {
        super::alarms::check(&self.fetcher, &self.state, region).await;
    }

    /// Whether the source needs a network call.
    pub fn is_remote(&self) -> bool {
        self.fetcher.source().is_remote()
    }

    /// Reads, parses and publishes the config once. Returns whether it succeeded.
    pub async fn load_once(&self, log_level: &LogLevel) -> bool {
        let source = self.fetcher.source().describe();
        let fetched = match self.fetcher.fetch(FETCH_TIMEOUT).await {
            Ok(fetched) => fetched,
            Err(err) => {
                tracing::error!("{err}; {}", self.fallback());
                self.state.mark_failed();
                return false;
            }
        };
        let mut kept = self
            .version
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if fetched.version.is_some() && *kept == fetched.version && self.state.confirm() {
            tracing::debug!(
                "config from {source} unchanged (version {}): not parsed again",
                fetched.version.as_deref().unwrap_or_default()
            );
            return true;
        }
        *kept = None;
        drop(kept);
        match Config::parse(&fetched.text) {
            Ok(config) => {
                for rejected in &config.rejected_experiments {
                    tracing::warn!("{rejected}: experiment ignored");
                }
                log_level.apply_config(config.debug);
                tracing::info!(
                    "config loaded from {source}: {} experiment(s)",
                    config.experiments.len()
                );
                tracing::debug!("config in force: {config:?}");
                self.state.set(config);
                *self
                    .version
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner()) = fetched.version;
                true
            }
            Err(err) => {
                tracing::error!("config from {source} refused: {err}; {}", self.fallback());
                self.state.mark_failed();
                false
            }
        }
    }

    fn fallback(&self) -> &'static str {
        if self.state.current().is_some() {
            "keeping the last good config"
        } else {
            "passing traffic through untouched"
        }
    }
}
