//! The CloudWatch dashboard of rehearsals: its one definition, written into the CloudFormation
//! template, the SAM example and the Terraform module (each with its own way of naming the
//! Region). It needs no list of functions: every graph is a metric-math `SEARCH` over
//! faultline's namespace or Lambda's, so a function enabled tomorrow shows up by itself.
//!
//! Top row: faults injected by experiment, and by function and flag. Middle: what stopped
//! experiments: halts by a stop alarm, suspensions by the dead-man, guard trips. Bottom, to read
//! against them: Lambda's errors and p99 duration per function.

use serde_json::{Value, json};

/// The Region in the body until a writer spells it its way.
const REGION: &str = "__REGION__";

/// The period of every graph, in seconds.
const PERIOD: u32 = 60;

/// One time-series graph of `SEARCH` expressions (id, expression, label).
fn graph(title: &str, x: u32, y: u32, width: u32, searches: &[(&str, &str, &str)]) -> Value {
    let metrics: Vec<Value> = searches
        .iter()
        .map(|(id, expression, label)| {
            json!([{"expression": expression, "id": id, "label": label, "period": PERIOD}])
        })
        .collect();
    json!({
        "type": "metric",
        "x": x,
        "y": y,
        "width": width,
        "height": 6,
        "properties": {
            "title": title,
            "view": "timeSeries",
            "stacked": false,
            "region": REGION,
            "period": PERIOD,
            "metrics": metrics,
        },
    })
}

/// A `SEARCH` for `metric` of `namespace` by the dimensions `keys`, with `statistic`.
fn search(namespace: &str, keys: &[&str], metric: &str, statistic: &str) -> String {
    let schema = std::iter::once(namespace.to_string())
        .chain(keys.iter().map(|k| {
            if k.contains('-') {
                format!("\"{k}\"")
            } else {
                (*k).to_string()
            }
        }))
        .collect::<Vec<_>>()
        .join(",");
    format!("SEARCH('{{{schema}}} MetricName=\"{metric}\"', '{statistic}', {PERIOD})")
}

/// The dashboard body, with the Region still `__REGION__`.
pub fn body() -> Value {
    let faultline = "faultline";
    let lambda = "AWS/Lambda";
    json!({
        "start": "-PT3H",
        "widgets": [
            graph("Faults injected, by experiment", 0, 0, 12, &[(
                "faults",
                &search(faultline, &["experiment"], "FaultsInjected", "Sum"),
                "",
            )]),
            graph("Faults injected, by function and flag", 12, 0, 12, &[(
                "byflag",
                &search(faultline, &["function-name", "flag"], "FaultsInjected", "Sum"),
                "",
            )]),
            graph("Experiments stopped: halted by an alarm, suspended, guard tripped", 0, 6, 24, &[
                ("halted", &search(faultline, &["experiment"], "ExperimentHalted", "Sum"), "halted"),
                (
                    "suspended",
                    &search(faultline, &["function-name"], "ExperimentsSuspended", "Sum"),
                    "suspended",
                ),
                (
                    "guard",
                    &search(faultline, &["experiment"], "ExperimentGuardTripped", "Sum"),
                    "guard tripped",
                ),
            ]),
            graph("Lambda errors, by function", 0, 12, 12, &[(
                "errors",
                &search(lambda, &["FunctionName"], "Errors", "Sum"),
                "",
            )]),
            graph("Lambda duration p99, by function (ms)", 12, 12, 12, &[(
                "p99",
                &search(lambda, &["FunctionName"], "Duration", "p99"),
                "",
            )]),
        ],
    })
}

/// The body as pretty JSON with the Region spelt `region`, each line indented by `indent`
/// spaces (for a YAML block scalar or an HCL heredoc).
fn written(region: &str, indent: usize) -> String {
    let text = serde_json::to_string_pretty(&body()).unwrap_or_default();
    let pad = " ".repeat(indent);
    text.replace(REGION, region)
        .lines()
        .map(|line| format!("{pad}{line}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The body for CloudFormation's `!Sub |` (the Region as `${AWS::Region}`).
pub fn cfn_body(indent: usize) -> String {
    written("${AWS::Region}", indent)
}

/// The body for a Terraform heredoc (the Region as `${data.aws_region.current.name}`).
pub fn hcl_body(indent: usize) -> String {
    written("${data.aws_region.current.name}", indent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_graph_searches_and_names_the_region() {
        let body = body();
        let widgets = body["widgets"].as_array().cloned().unwrap_or_default();
        assert_eq!(widgets.len(), 5);
        for widget in &widgets {
            assert_eq!(widget["properties"]["region"], REGION);
            for metric in widget["properties"]["metrics"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let expression = metric[0]["expression"].as_str().unwrap_or_default();
                assert!(expression.starts_with("SEARCH('{"), "{expression}");
            }
        }
        assert_eq!(
            search(
                "faultline",
                &["function-name", "flag"],
                "FaultsInjected",
                "Sum"
            ),
            "SEARCH('{faultline,\"function-name\",flag} MetricName=\"FaultsInjected\"', 'Sum', 60)"
        );
        // The CloudFormation text is JSON once the Region is substituted.
        let cfn = cfn_body(0).replace("${AWS::Region}", "eu-west-1");
        let parsed: Value = serde_json::from_str(&cfn).expect("JSON");
        assert_eq!(parsed["widgets"][0]["properties"]["region"], "eu-west-1");
        assert!(hcl_body(2).starts_with("  {"));
    }
}
