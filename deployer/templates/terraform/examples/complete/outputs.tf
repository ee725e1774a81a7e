# Rendered by `deployer render terraform`; edit deployer/templates/terraform, not this file.
output "function_name" {
  description = "The example function."
  value       = aws_lambda_function.orders.function_name
}

output "config_arn" {
  description = "The config (an S3 object): start experiments with `deployer experiment start`."
  value       = module.faultline.config_arn
}

output "layers" {
  description = "The function's layers, faultline's last."
  value       = module.orders_faultline.layers
}

output "dashboard_name" {
  description = "The rehearsals dashboard."
  value       = module.faultline_dashboard.dashboard_name
}
