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
{{{dashboard_hcl}}}
  EOT
}
