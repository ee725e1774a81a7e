# Rendered by `deployer render terraform`; edit deployer/templates/terraform, not this file.
output "config_arn" {
  description = "ARN of the config (GREMLIN_CONFIG_ARN of every wired function): the S3 object, the secret, appconfig:APPLICATION/ENVIRONMENT/PROFILE by id, or the given config_arn."
  value       = local.config_arn
}

output "reader_role_arn" {
  description = "ARN of the role the reader accounts' functions assume (their GREMLIN_CONFIG_ARN_ROLE); null without reader_accounts."
  value       = one(aws_iam_role.reader[*].arn)
}

output "policy_arn" {
  description = "ARN of the managed policy that reads the config; attach it to every wired function's role."
  value       = aws_iam_policy.read_config.arn
}

output "layer_arns" {
  description = "faultline layer version ARN by architecture (x86_64, arm64)."
  value       = { for arch, layer in aws_lambda_layer_version.faultline : arch => layer.arn }
}
