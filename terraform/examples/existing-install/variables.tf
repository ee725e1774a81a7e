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
  default     = "x86_64"
}

variable "faultline_layer_arns" {
  description = "faultline layer version ARN by architecture, as `deployer init` published them."
  type        = map(string)
}

variable "config_arn" {
  description = "ARN of the config `deployer init` created (an S3 object, or a secret)."
  type        = string
}

variable "policy_arn" {
  description = "ARN of the read policy `deployer init` created."
  type        = string
}
