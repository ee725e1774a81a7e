# Rendered by `deployer render terraform`; edit deployer/templates/terraform, not this file.
variable "region" {
  description = "AWS region of the function and of the faultline install."
  type        = string
}

variable "function_name" {
  description = "Name of the function."
  type        = string
}

variable "function_zip" {
  description = "Zip of the function's code (index.py with a handler)."
  type        = string
}

variable "architecture" {
  description = "The function's architecture: x86_64 or arm64."
  type        = string
  default     = "{{first_arch}}"
}

variable "faultline_layer_arns" {
  description = "faultline layer version ARN by architecture, as `deployer init` published them."
  type        = map(string)
{{#if has_default_layers}}
  default = {
{{#each archs}}
{{#if default_layer_arn}}
    {{arch}} = {{default_layer_arn}}
{{/if}}
{{/each}}
  }
{{/if}}
}

variable "config_arn" {
  description = "ARN of the config `deployer init` created (an S3 object, or a secret)."
  type        = string
{{#if default_config_arn}}
  default     = {{default_config_arn}}
{{/if}}
}

variable "policy_arn" {
  description = "ARN of the read policy `deployer init` created."
  type        = string
{{#if default_read_policy_arn}}
  default     = {{default_read_policy_arn}}
{{/if}}
}
