//! What a report reads from CloudWatch: datapoints with `GetMetricData`, the flags a function's
//! faults were counted under with `ListMetrics`, and alarm transitions with
//! `DescribeAlarmHistory`. A refused call never fails the report: its figures say "no data" and
//! why.

use super::series::Series;
use crate::aws::Aws;
use aws_sdk_cloudwatch::primitives::DateTime as SdkTime;
use aws_sdk_cloudwatch::types::{
    Dimension, DimensionFilter, HistoryItemType, Metric, MetricDataQuery, MetricStat, ScanBy,
};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// One metric to read: namespace, name, dimensions and statistic.
#[derive(Debug, Clone)]
pub struct Query {
    pub namespace: &'static str,
    pub metric: &'static str,
    pub dimensions: Vec<(&'static str, String)>,
    pub stat: &'static str,
}

impl Query {
    pub fn new(
        namespace: &'static str,
        metric: &'static str,
        dimensions: Vec<(&'static str, String)>,
        stat: &'static str,
    ) -> Query {
        Query {
            namespace,
            metric,
            dimensions,
            stat,
        }
    }
}

fn sdk_time(at: DateTime<Utc>) -> SdkTime {
    SdkTime::from_secs(at.timestamp())
}

fn chrono_time(at: &SdkTime) -> Option<DateTime<Utc>> {
    DateTime::<Utc>::from_timestamp(at.secs(), at.subsec_nanos())
}

/// Why a call failed, in one line: the AWS error code, else the HTTP status.
fn failure<E>(
    call: &str,
    err: &aws_sdk_cloudwatch::error::SdkError<E, aws_sdk_cloudwatch::config::http::HttpResponse>,
) -> String
where
    E: aws_sdk_cloudwatch::error::ProvideErrorMetadata,
{
    use aws_sdk_cloudwatch::error::ProvideErrorMetadata as _;
    let code = err.code().map(str::to_string).or_else(|| {
        err.raw_response()
            .map(|raw| format!("HTTP {}", raw.status().as_u16()))
    });
    format!(
        "CloudWatch {call} failed: {}: {}",
        code.as_deref().unwrap_or("no answer"),
        err.message().unwrap_or("no message")
    )
}

/// Each query's datapoints between `start` and `end` at `period` seconds, in query order; every
/// one missing, with the reason, when CloudWatch refuses the call.
pub async fn fetch(
    aws_: &Aws,
    queries: &[Query],
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    period: i32,
) -> Vec<Series> {
    let built: Vec<MetricDataQuery> = queries
        .iter()
        .enumerate()
        .map(|(i, q)| {
            let metric = Metric::builder()
                .namespace(q.namespace)
                .metric_name(q.metric)
                .set_dimensions(Some(
                    q.dimensions
                        .iter()
                        .map(|(name, value)| Dimension::builder().name(*name).value(value).build())
                        .collect(),
                ))
                .build();
            MetricDataQuery::builder()
                .id(format!("m{i}"))
                .metric_stat(
                    MetricStat::builder()
                        .metric(metric)
                        .period(period)
                        .stat(q.stat)
                        .build(),
                )
                .return_data(true)
                .build()
        })
        .collect();
    let mut series = vec![Series::default(); queries.len()];
    let mut token: Option<String> = None;
    loop {
        let answer = aws_
            .cloudwatch
            .get_metric_data()
            .set_metric_data_queries(Some(built.clone()))
            .start_time(sdk_time(start))
            .end_time(sdk_time(end))
            .scan_by(ScanBy::TimestampAscending)
            .set_next_token(token.clone())
            .send()
            .await;
        let answer = match answer {
            Ok(answer) => answer,
            Err(err) => {
                let reason = failure("GetMetricData", &err);
                return queries.iter().map(|_| Series::missing(&reason)).collect();
            }
        };
        for result in answer.metric_data_results() {
            let Some(index) = result
                .id()
                .and_then(|id| id.strip_prefix('m'))
                .and_then(|i| i.parse::<usize>().ok())
            else {
                continue;
            };
            if let Some(into) = series.get_mut(index) {
                let points = result
                    .timestamps()
                    .iter()
                    .zip(result.values())
                    .filter_map(|(at, value)| chrono_time(at).map(|at| (at, *value)));
                into.points.extend(points);
            }
        }
        token = answer.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    series.into_iter().map(|s| Series::with(s.points)).collect()
}

/// The flags under which faults were counted for `function` (the `flag` dimension of
/// faultline's `FaultsInjected` by `function-name, flag`).
pub async fn fault_flags(aws_: &Aws, function: &str) -> Result<Vec<String>, String> {
    let mut flags = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let answer = aws_
            .cloudwatch
            .list_metrics()
            .namespace("faultline")
            .metric_name("FaultsInjected")
            .dimensions(
                DimensionFilter::builder()
                    .name("function-name")
                    .value(function)
                    .build(),
            )
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(|err| failure("ListMetrics", &err))?;
        for metric in answer.metrics() {
            let dimensions = metric.dimensions();
            // Only the (function-name, flag) set: other sets have other dimensions.
            if dimensions.len() != 2 {
                continue;
            }
            if let Some(flag) = dimensions
                .iter()
                .find(|d| d.name() == Some("flag"))
                .and_then(|d| d.value())
                && !flags.iter().any(|f| f == flag)
            {
                flags.push(flag.to_string());
            }
        }
        token = answer.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    flags.sort();
    Ok(flags)
}

/// One alarm state change.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Transition {
    pub at: DateTime<Utc>,
    pub alarm: String,
    pub summary: String,
}

/// The state changes of `alarms` between `start` and `end`, oldest first.
pub async fn alarm_transitions(
    aws_: &Aws,
    alarms: &[String],
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<Vec<Transition>, String> {
    let mut transitions = Vec::new();
    for alarm in alarms {
        let answer = aws_
            .cloudwatch
            .describe_alarm_history()
            .alarm_name(alarm)
            .history_item_type(HistoryItemType::StateUpdate)
            .start_date(sdk_time(start))
            .end_date(sdk_time(end))
            .send()
            .await
            .map_err(|err| failure("DescribeAlarmHistory", &err))?;
        for item in answer.alarm_history_items() {
            if let Some(at) = item.timestamp().and_then(chrono_time) {
                transitions.push(Transition {
                    at,
                    alarm: alarm.clone(),
                    summary: item.history_summary().unwrap_or_default().to_string(),
                });
            }
        }
    }
    transitions.sort_by_key(|t| t.at);
    Ok(transitions)
}
