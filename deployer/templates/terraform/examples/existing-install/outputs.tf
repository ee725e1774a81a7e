# Rendered by `deployer render terraform`; edit deployer/templates/terraform, not this file.
output "function_name" {
  description = "The wired function."
  value       = aws_lambda_function.function.function_name
}

output "layers" {
  description = "The function's layers, faultline's last."
  value       = module.faultline.layers
}
