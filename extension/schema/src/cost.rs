//! What reading the config costs, per store: the one source of the prices that `deployer
//! status` shows and the config-read benchmark multiplies by the requests it counts.
//!
//! Published on-demand prices in us-east-1 (December 2026): S3 Standard GET $0.0004 per 1,000
//! requests (a 304 is billed as a GET); AppConfig $0.0000002 per configuration request and
//! $0.0008 per configuration received; Secrets Manager $0.05 per 10,000 API calls (and $0.40 per
//! secret-month, not per environment); SSM standard parameters with standard throughput, free.

use serde::Serialize;
use std::time::Duration;

/// A config store, as priced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Store {
    /// An S3 object, read with a conditional GET.
    S3,
    /// An AppConfig configuration, read through the data plane.
    AppConfig,
    /// A Secrets Manager secret.
    SecretsManager,
    /// An SSM standard parameter.
    Ssm,
}

/// Seconds in the month the estimates use (30 days).
const MONTH_SECONDS: f64 = 30.0 * 86_400.0;

impl Store {
    /// The store a `GREMLIN_CONFIG_ARN` names, if any.
    pub fn of_arn(arn: &str) -> Option<Store> {
        if arn.starts_with("appconfig:") {
            return Some(Store::AppConfig);
        }
        match arn.split(':').nth(2)? {
            "s3" => Some(Store::S3),
            "secretsmanager" => Some(Store::SecretsManager),
            "ssm" => Some(Store::Ssm),
            _ => None,
        }
    }

    /// Its name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Store::S3 => "S3",
            Store::AppConfig => "AppConfig",
            Store::SecretsManager => "Secrets Manager",
            Store::Ssm => "SSM (standard)",
        }
    }

    /// Dollars per read request.
    pub fn per_request(self) -> f64 {
        match self {
            Store::S3 => 0.0004 / 1_000.0,
            Store::AppConfig => 0.000_000_2,
            Store::SecretsManager => 0.05 / 10_000.0,
            Store::Ssm => 0.0,
        }
    }

    /// Dollars per changed configuration an environment receives (AppConfig only).
    pub fn per_change_received(self) -> f64 {
        match self {
            Store::AppConfig => 0.0008,
            _ => 0.0,
        }
    }
}

/// Reads a busy environment makes in a month at `interval`.
pub fn reads_per_month(interval: Duration) -> f64 {
    MONTH_SECONDS / interval.as_secs_f64().max(1.0)
}

/// What reading the config costs one busy environment in a month: reads at `interval`, and
/// `changes` configurations received.
pub fn per_environment_month(store: Store, interval: Duration, changes: f64) -> f64 {
    reads_per_month(interval) * store.per_request() + changes * store.per_change_received()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_readme_figures_at_thirty_seconds() {
        let every = Duration::from_secs(30);
        assert_eq!(reads_per_month(every), 86_400.0);
        let cents = |store| (per_environment_month(store, every, 0.0) * 1000.0).round() / 1000.0;
        assert_eq!(cents(Store::S3), 0.035);
        assert_eq!(cents(Store::AppConfig), 0.017);
        assert_eq!(cents(Store::SecretsManager), 0.432);
        assert_eq!(cents(Store::Ssm), 0.0);
        assert_eq!(Store::of_arn("arn:aws:s3:::b/k"), Some(Store::S3));
        assert_eq!(Store::of_arn("appconfig:a/e/p"), Some(Store::AppConfig));
        assert_eq!(Store::of_arn("faultline"), None);
    }
}
