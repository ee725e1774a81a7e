# Rendered by `deployer render terraform`; edit deployer/templates/terraform, not this file.
output "layers" {
  description = "The function's layers with faultline's: give them to aws_lambda_function.layers."
  value       = local.layers

  precondition {
    condition     = length(local.layers) <= {{max_layers}}
    error_message = "The function would have ${length(local.layers)} layers with faultline's; Lambda allows {{max_layers}}."
  }
}

output "environment" {
  description = "The function's environment with faultline's variables: give it to aws_lambda_function.environment[0].variables."
  value       = local.environment
}

output "wrapper" {
  description = "The exec wrapper (AWS_LAMBDA_EXEC_WRAPPER). OS-only runtimes (provided.*) ignore it; see the README for the one-line bootstrap change."
  value       = local.wrapper
}

output "layer_arn" {
  description = "The faultline layer version chosen for the function's architecture."
  value       = local.faultline_layer
}
