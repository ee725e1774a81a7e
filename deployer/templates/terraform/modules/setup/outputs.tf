# Rendered by `deployer render terraform`; edit deployer/templates/terraform, not this file.
output "secret_arn" {
  description = "ARN of the config secret (GREMLIN_CONFIG_ARN of every wired function)."
  value       = aws_secretsmanager_secret.config.arn
}

output "secret_name" {
  description = "Name of the config secret (`deployer --name` takes the prefix)."
  value       = aws_secretsmanager_secret.config.name
}

output "policy_arn" {
  description = "ARN of the managed policy that reads the config secret; attach it to every wired function's role."
  value       = aws_iam_policy.read_config.arn
}

output "layer_arns" {
  description = "faultline layer version ARN by architecture (x86_64, arm64)."
  value       = { for arch, layer in aws_lambda_layer_version.faultline : arch => layer.arn }
}
