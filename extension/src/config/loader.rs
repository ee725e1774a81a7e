//! Loads the config from its source into [`ConfigState`], logging one clear line per outcome.
//!
//! Failures never stop anything: the last good config (or none) stays in force and traffic is
//! passed through untouched. Messages name the source and the reason, never the config text.

use crate::config::source::{ConfigFetcher, FETCH_TIMEOUT, Read};
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
        let known = self.kept().clone();
        let mut read = self.fetcher.fetch(FETCH_TIMEOUT, known.as_deref()).await;
        if matches!(read, Ok(Read::Unchanged)) {
            if self.state.confirm() {
                tracing::debug!(
                    "config from {source} unchanged (version {}): not parsed again",
                    known.as_deref().unwrap_or_default()
                );
                return true;
            }
            // Nothing in force to keep: read it whole.
            *self.kept() = None;
            read = self.fetcher.fetch(FETCH_TIMEOUT, None).await;
        }
        let fetched = match read {
            Ok(Read::Changed(fetched)) => fetched,
            Ok(Read::Deferred) => {
                tracing::debug!("{source} may not be read again yet: the config in force stays");
                self.state.mark_failed();
                return true;
            }
            Ok(Read::Unchanged) => {
                tracing::error!(
                    "{source} answered unchanged with no config in force; {}",
                    self.fallback()
                );
                self.state.mark_failed();
                return false;
            }
            Err(err) => {
                tracing::error!("{err}; {}", self.fallback());
                self.state.mark_failed();
                return false;
            }
        };
        *self.kept() = None;
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
                *self.kept() = fetched.version;
                true
            }
            Err(err) => {
                tracing::error!("config from {source} refused: {err}; {}", self.fallback());
                self.state.mark_failed();
                false
            }
        }
    }

    /// The store's version of the config in force.
    fn kept(&self) -> std::sync::MutexGuard<'_, Option<String>> {
        self.version
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn fallback(&self) -> &'static str {
        if self.state.current().is_some() {
            "keeping the last good config"
        } else {
            "passing traffic through untouched"
        }
    }
}
