# Rendered by `deployer render terraform`; edit deployer/templates/terraform, not this file.
variable "region" {
  description = "AWS region to deploy to."
  type        = string
}

variable "architecture" {
  description = "Architecture of the example function and of the layer published for it."
  type        = string
  default     = "x86_64"
}

variable "dist_dir" {
  description = "Folder holding faultline-layer-<architecture>.zip (`make layer` writes dist/)."
  type        = string
  default     = "../../../dist"
}

variable "function_zip" {
  description = "Zip of the example function's code (index.py with a handler)."
  type        = string
}

variable "shared_layer_arn" {
  description = "A layer version the function already uses; it stays before faultline's."
  type        = string
}

variable "init_faults" {
  description = "Opt the example function in to cold-start faults (the function module's init_faults)."
  type        = bool
  default     = false
}

variable "aws_services" {
  description = "AWS services whose SDK calls go through faultline's TLS origination (the function module's aws_services)."
  type        = list(string)
  default     = []
}
