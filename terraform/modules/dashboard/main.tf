# Rendered by `deployer render terraform`; edit deployer/templates/terraform, not this file.
#
# The rehearsals dashboard: faults injected, experiments halted, suspended or stopped by a
# guard, next to every function's errors and p99 duration. Metric-math SEARCH expressions: no
# list of functions.

data "aws_region" "current" {}

resource "aws_cloudwatch_dashboard" "rehearsals" {
  # Dashboards are named per account: the Region suffix keeps one per Region.
  dashboard_name = "${var.name}-rehearsals-${data.aws_region.current.name}"
  dashboard_body = <<-EOT
    {
      "start": "-PT3H",
      "widgets": [
        {
          "height": 6,
          "properties": {
            "metrics": [
              [
                {
                  "expression": "SEARCH('{faultline,experiment} MetricName=\"FaultsInjected\"', 'Sum', 60)",
                  "id": "faults",
                  "label": "",
                  "period": 60
                }
              ]
            ],
            "period": 60,
            "region": "${data.aws_region.current.name}",
            "stacked": false,
            "title": "Faults injected, by experiment",
            "view": "timeSeries"
          },
          "type": "metric",
          "width": 12,
          "x": 0,
          "y": 0
        },
        {
          "height": 6,
          "properties": {
            "metrics": [
              [
                {
                  "expression": "SEARCH('{faultline,\"function-name\",flag} MetricName=\"FaultsInjected\"', 'Sum', 60)",
                  "id": "byflag",
                  "label": "",
                  "period": 60
                }
              ]
            ],
            "period": 60,
            "region": "${data.aws_region.current.name}",
            "stacked": false,
            "title": "Faults injected, by function and flag",
            "view": "timeSeries"
          },
          "type": "metric",
          "width": 12,
          "x": 12,
          "y": 0
        },
        {
          "height": 6,
          "properties": {
            "metrics": [
              [
                {
                  "expression": "SEARCH('{faultline,experiment} MetricName=\"ExperimentHalted\"', 'Sum', 60)",
                  "id": "halted",
                  "label": "halted",
                  "period": 60
                }
              ],
              [
                {
                  "expression": "SEARCH('{faultline,\"function-name\"} MetricName=\"ExperimentsSuspended\"', 'Sum', 60)",
                  "id": "suspended",
                  "label": "suspended",
                  "period": 60
                }
              ],
              [
                {
                  "expression": "SEARCH('{faultline,experiment} MetricName=\"ExperimentGuardTripped\"', 'Sum', 60)",
                  "id": "guard",
                  "label": "guard tripped",
                  "period": 60
                }
              ]
            ],
            "period": 60,
            "region": "${data.aws_region.current.name}",
            "stacked": false,
            "title": "Experiments stopped: halted by an alarm, suspended, guard tripped",
            "view": "timeSeries"
          },
          "type": "metric",
          "width": 24,
          "x": 0,
          "y": 6
        },
        {
          "height": 6,
          "properties": {
            "metrics": [
              [
                {
                  "expression": "SEARCH('{AWS/Lambda,FunctionName} MetricName=\"Errors\"', 'Sum', 60)",
                  "id": "errors",
                  "label": "",
                  "period": 60
                }
              ]
            ],
            "period": 60,
            "region": "${data.aws_region.current.name}",
            "stacked": false,
            "title": "Lambda errors, by function",
            "view": "timeSeries"
          },
          "type": "metric",
          "width": 12,
          "x": 0,
          "y": 12
        },
        {
          "height": 6,
          "properties": {
            "metrics": [
              [
                {
                  "expression": "SEARCH('{AWS/Lambda,FunctionName} MetricName=\"Duration\"', 'p99', 60)",
                  "id": "p99",
                  "label": "",
                  "period": 60
                }
              ]
            ],
            "period": 60,
            "region": "${data.aws_region.current.name}",
            "stacked": false,
            "title": "Lambda duration p99, by function (ms)",
            "view": "timeSeries"
          },
          "type": "metric",
          "width": 12,
          "x": 12,
          "y": 12
        }
      ]
    }
  EOT
}
