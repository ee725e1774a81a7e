//! What CloudWatch itself would record, put into moto for the demo and the tests (moto has
//! neither Lambda's metrics nor the Logs-to-metrics extraction of Embedded Metric Format):
//!
//! - Lambda's per-function metrics, from the emulator's finished invocations: `Invocations`
//!   (1 each), `Errors` (1 for a function error or a timeout, else 0) and `Duration` (ms), in
//!   namespace `AWS/Lambda` with dimension `FunctionName`, at the invocation's start;
//! - the metrics of EMF log lines, as CloudWatch Logs extracts them (the EMF specification):
//!   for each `CloudWatchMetrics` directive, each dimension set and each metric, one datum whose
//!   value is the line's field of the metric's name, whose dimensions are the line's fields of
//!   the set's names, at the line's `_aws.Timestamp`.
//!
//! Datapoints are high-resolution (`StorageResolution` 1), so a demo lasting a minute can be
//! read at a period of seconds.

use crate::lambda_emulator::Finished;
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use std::time::SystemTime;

fn at(time: SystemTime) -> DateTime {
    DateTime::from(time)
}

async fn put(
    client: &aws_sdk_cloudwatch::Client,
    namespace: &str,
    data: Vec<MetricDatum>,
) -> anyhow::Result<()> {
    // PutMetricData takes at most 1,000 data a call.
    for chunk in data.chunks(500) {
        client
            .put_metric_data()
            .namespace(namespace)
            .set_metric_data(Some(chunk.to_vec()))
            .send()
            .await?;
    }
    Ok(())
}

fn datum(
    name: &str,
    dimensions: Vec<Dimension>,
    value: f64,
    unit: StandardUnit,
    when: DateTime,
) -> MetricDatum {
    MetricDatum::builder()
        .metric_name(name)
        .set_dimensions(Some(dimensions))
        .value(value)
        .unit(unit)
        .timestamp(when)
        .storage_resolution(1)
        .build()
}

/// Lambda's `Invocations`, `Errors` and `Duration` for `function`'s finished invocations.
pub async fn put_lambda_metrics(
    client: &aws_sdk_cloudwatch::Client,
    function: &str,
    finished: &[Finished],
) -> anyhow::Result<()> {
    let by_name = || {
        vec![
            Dimension::builder()
                .name("FunctionName")
                .value(function)
                .build(),
        ]
    };
    let mut data = Vec::new();
    for invocation in finished {
        let when = at(invocation.started);
        data.push(datum(
            "Invocations",
            by_name(),
            1.0,
            StandardUnit::Count,
            when,
        ));
        data.push(datum(
            "Errors",
            by_name(),
            if invocation.error { 1.0 } else { 0.0 },
            StandardUnit::Count,
            when,
        ));
        data.push(datum(
            "Duration",
            by_name(),
            invocation.duration.as_secs_f64() * 1000.0,
            StandardUnit::Milliseconds,
            when,
        ));
    }
    put(client, "AWS/Lambda", data).await
}

/// The metrics of every EMF document among `lines` (other lines are skipped).
pub async fn put_emf(client: &aws_sdk_cloudwatch::Client, lines: &[String]) -> anyhow::Result<()> {
    let mut by_namespace: std::collections::BTreeMap<String, Vec<MetricDatum>> =
        std::collections::BTreeMap::new();
    for line in lines {
        let Some(start) = line.find('{') else {
            continue;
        };
        let Ok(document) = serde_json::from_str::<serde_json::Value>(&line[start..]) else {
            continue;
        };
        let aws = &document["_aws"];
        let Some(millis) = aws["Timestamp"].as_u64() else {
            continue;
        };
        let when = DateTime::from_millis(i64::try_from(millis).unwrap_or(i64::MAX));
        for directive in aws["CloudWatchMetrics"].as_array().into_iter().flatten() {
            let namespace = directive["Namespace"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            for set in directive["Dimensions"].as_array().into_iter().flatten() {
                let dimensions: Vec<Dimension> = set
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|key| {
                        let key = key.as_str()?;
                        let value = document[key].as_str()?;
                        Some(Dimension::builder().name(key).value(value).build())
                    })
                    .collect();
                for metric in directive["Metrics"].as_array().into_iter().flatten() {
                    let Some(name) = metric["Name"].as_str() else {
                        continue;
                    };
                    let Some(value) = document[name].as_f64() else {
                        continue;
                    };
                    let unit = StandardUnit::from(metric["Unit"].as_str().unwrap_or("None"));
                    by_namespace
                        .entry(namespace.clone())
                        .or_default()
                        .push(datum(name, dimensions.clone(), value, unit, when));
                }
            }
        }
    }
    for (namespace, data) in by_namespace {
        put(client, &namespace, data).await?;
    }
    Ok(())
}
