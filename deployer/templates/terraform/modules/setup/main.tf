# Rendered by `deployer render terraform`; edit deployer/templates/terraform, not this file.
#
# What `deployer init` creates: the config secret, the managed policy that reads exactly that
# secret, and a layer version per architecture.

data "aws_region" "current" {}

data "aws_partition" "current" {}

data "aws_caller_identity" "current" {}

resource "aws_secretsmanager_secret" "config" {
  #checkov:skip=CKV_AWS_149:The AWS managed key is the default; set var.kms_key_id for a customer managed key.
  #checkov:skip=CKV2_AWS_57:The secret holds faultline's config and experiments, not a credential: there is nothing to rotate.
  name        = "${var.name}-config"
  description = "faultline config and experiments (edited by `deployer experiment`)"
  kms_key_id  = var.kms_key_id
  tags        = var.tags
}

resource "aws_secretsmanager_secret_version" "config" {
  secret_id     = aws_secretsmanager_secret.config.id
  secret_string = var.config_yaml

  lifecycle {
    # Experiments are started and stopped in the secret (`deployer experiment`); Terraform only
    # writes the first config.
    ignore_changes = [secret_string]
  }
}

resource "aws_iam_policy" "read_config" {
  # Managed policies are global: the region suffix keeps one per region.
  name        = "${var.name}-read-config-${data.aws_region.current.name}"
  description = "Lets a function with faultline read exactly its config secret and the region's alarms (stop conditions)."
  tags        = var.tags
  policy = jsonencode({
    Version = "2012-10-17"
    # The experiments' stop conditions are the alarms of this region and account.
    Statement = concat(
      [
{{#each read_policy.always}}
        {
{{#each hcl_attributes}}
          {{{this}}}
{{/each}}
        },
{{/each}}
      ],
      var.kms_key_id == null ? [] : [
{{#each read_policy.with_key}}
        {
{{#each hcl_attributes}}
          {{{this}}}
{{/each}}
        },
{{/each}}
      ],
    )
  })
}

resource "aws_lambda_layer_version" "faultline" {
  for_each = toset(var.architectures)

  layer_name               = "${var.name}-${each.key}"
  description              = "faultline extension and exec wrapper (${each.key})"
  filename                 = var.layer_zip_files[each.key]
  source_code_hash         = filebase64sha256(var.layer_zip_files[each.key])
  compatible_architectures = [each.key]

  # Functions keep using a version after a new one is published: never delete one.
  skip_destroy = true
}
