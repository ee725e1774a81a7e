# Rendered by `deployer render terraform`; edit deployer/templates/terraform, not this file.
variable "faultline_layer_arns" {
  description = "faultline layer version ARN by architecture: the setup module's layer_arns output (or what `deployer init` printed)."
  type        = map(string)
}

variable "config_arn" {
  description = "ARN of the config (GREMLIN_CONFIG_ARN): the setup module's config_arn output."
  type        = string
}

variable "config_role_arn" {
  description = "The role in another account that reads the config there (GREMLIN_CONFIG_ARN_ROLE): that account's setup module's reader_role_arn output; null when the config is in this account."
  type        = string
  default     = null
}

variable "policy_arn" {
  description = "ARN of the managed policy that reads the config: the setup module's policy_arn output."
  type        = string
}

variable "role_name" {
  description = "Name of the function's execution role; the read policy is attached to it."
  type        = string
}

variable "architecture" {
  description = "The function's architecture: x86_64 or arm64."
  type        = string
  default     = "x86_64"

  validation {
    condition     = contains(["x86_64", "arm64"], var.architecture)
    error_message = "architecture: x86_64 or arm64."
  }
}

variable "runtime" {
  description = "The function's runtime (nodejs22.x, java21, python3.13, ...): Node.js 22/24 functions get NODE_USE_ENV_PROXY=1 and Java functions faultline's proxy options in JAVA_TOOL_OPTIONS, which their HTTP clients need to use the dependency proxy."
  type        = string
  default     = ""
}

variable "layers" {
  description = "The function's own layer version ARNs, in order; faultline's goes last (an older faultline version is replaced where it stands)."
  type        = list(string)
  default     = []
}

variable "environment" {
  description = "The function's own environment variables; faultline's are merged in (a previous AWS_LAMBDA_EXEC_WRAPPER or HTTP(S)_PROXY is chained, NO_PROXY is extended)."
  type        = map(string)
  default     = {}
}

variable "enabled" {
  description = "false keeps the layer and variables in place but injects nothing (GREMLIN_LAMBDA_ENABLED)."
  type        = bool
  default     = true
}

variable "init_faults" {
  description = "true opts the function in to cold-start faults, experiments on the init flag (what `deployer enable --init-faults` sets): FAULTLINE_INIT_FAULTS = true, so that faultline reads its config during INIT, waiting up to its request_timeout. Without it INIT never waits for the config."
  type        = bool
  default     = false
}

variable "aws_services" {
  description = "AWS services whose SDK calls go through faultline's TLS origination, so that experiments on the aws-<service> flags can answer them (what `deployer enable --aws-services` takes): each gets AWS_ENDPOINT_URL_<SERVICE> = http://<service>.<region>.<dns suffix>:443. A function's own endpoint variable is kept; a function with its own AWS_ENDPOINT_URL, or on Node.js before nodejs24.x, gets none."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for service in var.aws_services : contains(["dynamodb", "s3", "sqs", "sns", "kinesis", "events", "lambda", "secretsmanager", "states", "ssm", "sts", "firehose", "bedrock-runtime", "monitoring", "logs", "kms", "streams.dynamodb"], service)])
    error_message = "aws_services: each one of dynamodb, s3, sqs, sns, kinesis, events, lambda, secretsmanager, states, ssm, sts, firehose, bedrock-runtime, monitoring, logs, kms, streams.dynamodb."
  }
}
