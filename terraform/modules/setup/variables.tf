# Rendered by `deployer render terraform`; edit deployer/templates/terraform, not this file.
variable "name" {
  description = "Name prefix: the secret is <name>-config, the layers <name>-<architecture>, the policy <name>-read-config-<region>."
  type        = string
  default     = "faultline"

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,40}$", var.name))
    error_message = "name: use 1 to 40 letters, digits, '-' or '_'."
  }
}

variable "config_yaml" {
  description = "The YAML config first stored in the secret (see the README's configuration reference). Later edits (deployer experiment) are kept."
  type        = string
  default     = "experiments: []\n"
  sensitive   = true
}

variable "kms_key_id" {
  description = "ARN of a customer managed KMS key to encrypt the secret with; null for the AWS managed key."
  type        = string
  default     = null
}

variable "architectures" {
  description = "Architectures to publish a layer version for."
  type        = list(string)
  default     = ["x86_64", "arm64"]

  validation {
    condition     = length(var.architectures) > 0 && alltrue([for a in var.architectures : contains(["x86_64", "arm64"], a)])
    error_message = "architectures: x86_64 and/or arm64."
  }
}

variable "layer_zip_files" {
  description = "Path of the layer zip per architecture (`make layer` builds dist/faultline-layer-<architecture>.zip)."
  type        = map(string)

  validation {
    condition     = alltrue([for a in var.architectures : contains(keys(var.layer_zip_files), a)])
    error_message = "layer_zip_files: give a zip for every architecture in var.architectures."
  }
}

variable "tags" {
  description = "Tags for the secret and the policy."
  type        = map(string)
  default     = {}
}
