//! Reading the states of stop alarms from CloudWatch: the one read the extension (which halts
//! experiments) and the deployer (which shows them halted) share. The rule of which state halts
//! is pure and lives in `faultline_schema::stop_alarms`.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

use aws_sdk_cloudwatch::error::SdkError;
use aws_sdk_cloudwatch::operation::describe_alarms::DescribeAlarmsError;
use std::collections::BTreeMap;

/// The most alarm names DescribeAlarms takes in one call.
const NAMES_PER_CALL: usize = 100;

/// The error of a failed read.
pub type ReadError = SdkError<DescribeAlarmsError, aws_sdk_cloudwatch::config::http::HttpResponse>;

/// The state (`OK`, `ALARM`, `INSUFFICIENT_DATA`) of each named alarm, metric or composite; an
/// alarm that does not exist is absent from the map. Names go 100 to a call, and every page of
/// each answer is read.
pub async fn states(
    client: &aws_sdk_cloudwatch::Client,
    names: &[String],
) -> Result<BTreeMap<String, String>, ReadError> {
    let mut states = BTreeMap::new();
    for chunk in names.chunks(NAMES_PER_CALL) {
        let mut pages = client
            .describe_alarms()
            .set_alarm_names(Some(chunk.to_vec()))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page?;
            let metric = page
                .metric_alarms()
                .iter()
                .map(|a| (a.alarm_name(), a.state_value()));
            let composite = page
                .composite_alarms()
                .iter()
                .map(|a| (a.alarm_name(), a.state_value()));
            for (name, state) in metric.chain(composite) {
                if let (Some(name), Some(state)) = (name, state) {
                    states.insert(name.to_string(), state.as_str().to_string());
                }
            }
        }
    }
    Ok(states)
}
