//! A metric's datapoints over the report's span, or why CloudWatch gave none.

use chrono::{DateTime, Utc};
use serde::Serialize;

/// Datapoints in time order, or the reason there are none (a refused query).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Series {
    pub points: Vec<(DateTime<Utc>, f64)>,
    /// Why the data is missing, when CloudWatch did not answer for it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing: Option<String>,
}

impl Series {
    pub fn with(mut points: Vec<(DateTime<Utc>, f64)>) -> Series {
        points.sort_by_key(|(at, _)| *at);
        Series {
            points,
            missing: None,
        }
    }

    pub fn missing(reason: impl Into<String>) -> Series {
        Series {
            points: Vec::new(),
            missing: Some(reason.into()),
        }
    }

    fn within(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> impl Iterator<Item = f64> + '_ {
        self.points
            .iter()
            .filter(move |(at, _)| *at >= from && *at < to)
            .map(|(_, value)| *value)
    }

    /// The sum of the datapoints in `[from, to)`; None when there are none.
    pub fn sum(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Option<f64> {
        self.within(from, to)
            .fold(None, |sum, value| Some(sum.unwrap_or(0.0) + value))
    }

    /// The largest datapoint in `[from, to)`; None when there are none.
    pub fn max(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Option<f64> {
        self.within(from, to).fold(None, |max: Option<f64>, value| {
            Some(max.map_or(value, |m| m.max(value)))
        })
    }

    /// Adds `other`'s datapoints into this one's, timestamp by timestamp.
    pub fn add(&mut self, other: &Series) {
        for (at, value) in &other.points {
            match self.points.iter_mut().find(|(t, _)| t == at) {
                Some((_, sum)) => *sum += value,
                None => self.points.push((*at, *value)),
            }
        }
        self.points.sort_by_key(|(at, _)| *at);
        if self.missing.is_none() {
            self.missing.clone_from(&other.missing);
        }
    }
}
