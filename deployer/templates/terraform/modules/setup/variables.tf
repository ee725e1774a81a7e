# Rendered by `deployer render terraform`; edit deployer/templates/terraform, not this file.
variable "name" {
  description = "Name prefix: the bucket is <name>-config-<account>-<region> (or the secret <name>-config), the layers <name>-<architecture>, the policy <name>-read-config-<region>."
  type        = string
  default     = "{{name}}"

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,40}$", var.name))
    error_message = "name: use 1 to 40 letters, digits, '-' or '_'."
  }
}

variable "store" {
  description = "Where the config lives: s3 (the default: a versioned, private, encrypted bucket; about $0.035 per busy environment-month of reads), secretsmanager (about $0.43) or appconfig (about $0.018, plus $0.0008 per change received). Ignored with config_role_arn."
  type        = string
  default     = "s3"

  validation {
    condition     = contains(["s3", "secretsmanager", "appconfig"], var.store)
    error_message = "store: s3, secretsmanager or appconfig."
  }
}

variable "config_yaml" {
  description = "The YAML config first stored (see the README's configuration reference). Later edits (deployer experiment) are kept."
  type        = string
  default     = "experiments: []\n"
  sensitive   = true
}

variable "kms_key_id" {
  description = "With store secretsmanager: ARN of a customer managed KMS key to encrypt the secret with; null for the AWS managed key."
  type        = string
  default     = null
}

variable "architectures" {
  description = "Architectures to publish a layer version for."
  type        = list(string)
  default     = [{{archs_hcl}}]

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

variable "reader_accounts" {
  description = "Accounts whose functions read this config: the module creates the role <name>-config-reader they assume, with exactly the store's read statements."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for account in var.reader_accounts : can(regex("^[0-9]{12}$", account))])
    error_message = "reader_accounts: 12-digit AWS account ids."
  }
}

variable "config_arn" {
  description = "With config_role_arn: the config kept in another account (that account's config_arn output)."
  type        = string
  default     = null
}

variable "config_role_arn" {
  description = "The role in the config's account that reads it (that account's reader_role_arn output). Set, the module makes no store and the policy may assume exactly this role."
  type        = string
  default     = null

  validation {
    condition     = var.config_role_arn == null || can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$", var.config_role_arn))
    error_message = "config_role_arn: an IAM role ARN."
  }
}

variable "tags" {
  description = "Tags for the store, the policy and the role."
  type        = map(string)
  default     = {}
}
