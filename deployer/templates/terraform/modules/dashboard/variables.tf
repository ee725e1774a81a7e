# Rendered by `deployer render terraform`; edit deployer/templates/terraform, not this file.
variable "name" {
  description = "Name prefix: the dashboard is <name>-rehearsals-<region>."
  type        = string
  default     = "{{name}}"

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,40}$", var.name))
    error_message = "name: use 1 to 40 letters, digits, '-' or '_'."
  }
}
