# Rendered by `deployer render terraform`; edit deployer/templates/terraform, not this file.
output "dashboard_name" {
  description = "Name of the rehearsals dashboard (CloudWatch console, Dashboards)."
  value       = aws_cloudwatch_dashboard.rehearsals.dashboard_name
}

output "dashboard_arn" {
  description = "ARN of the rehearsals dashboard."
  value       = aws_cloudwatch_dashboard.rehearsals.dashboard_arn
}
