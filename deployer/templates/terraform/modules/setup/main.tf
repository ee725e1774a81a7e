# Rendered by `deployer render terraform`; edit deployer/templates/terraform, not this file.
#
# What `deployer init` creates: the config store (an S3 bucket, or a secret), the managed policy
# that reads exactly that config, the role other accounts assume to read it when they are given,
# and a layer version per architecture. With config_role_arn, the config is another account's:
# no store is made, and the policy may assume exactly that role.

data "aws_region" "current" {}

data "aws_partition" "current" {}

data "aws_caller_identity" "current" {}

locals {
  via_role      = var.config_role_arn != null
  use_s3        = !local.via_role && var.store == "s3"
  use_appconfig = !local.via_role && var.store == "appconfig"
  bucket        = "{{bucket_prefix}}${data.aws_caller_identity.current.account_id}-${data.aws_region.current.name}"
}

resource "aws_s3_bucket" "config" {
  #checkov:skip=CKV_AWS_18:One small object edited by `deployer experiment`; CloudTrail data events log its reads and writes if wanted.
  #checkov:skip=CKV_AWS_144:The config is per Region by design (its stop alarms are the Region's); versioning keeps its history.
  #checkov:skip=CKV_AWS_145:S3-managed keys, so that no KMS key must be granted to every function; the config holds no secret.
  #checkov:skip=CKV2_AWS_62:Nothing reacts to the config's changes: every environment polls it.
  #checkov:skip=CKV2_AWS_61:Every version of the config is kept: it is the experiments' history.
  count  = local.use_s3 ? 1 : 0
  bucket = local.bucket
  tags   = var.tags
}

resource "aws_s3_bucket_versioning" "config" {
  count  = local.use_s3 ? 1 : 0
  bucket = aws_s3_bucket.config[0].id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_public_access_block" "config" {
  count                   = local.use_s3 ? 1 : 0
  bucket                  = aws_s3_bucket.config[0].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_server_side_encryption_configuration" "config" {
  count  = local.use_s3 ? 1 : 0
  bucket = aws_s3_bucket.config[0].id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_object" "config" {
  count        = local.use_s3 ? 1 : 0
  bucket       = aws_s3_bucket.config[0].id
  key          = "faultline.yaml"
  content      = var.config_yaml
  content_type = "application/x-yaml"

  lifecycle {
    # Experiments are started and stopped in the object (`deployer experiment`); Terraform only
    # writes the first config.
    ignore_changes = [content]
  }

  depends_on = [aws_s3_bucket_versioning.config]
}

resource "aws_appconfig_application" "config" {
  count       = local.use_appconfig ? 1 : 0
  name        = "{{appconfig_application}}"
  description = "faultline config and experiments (edited by `deployer experiment`)"
  tags        = var.tags
}

resource "aws_appconfig_environment" "config" {
  count          = local.use_appconfig ? 1 : 0
  application_id = aws_appconfig_application.config[0].id
  name           = "{{appconfig_environment}}"
  description    = "Where faultline's functions read their experiments"
  tags           = var.tags
}

resource "aws_appconfig_configuration_profile" "config" {
  count          = local.use_appconfig ? 1 : 0
  application_id = aws_appconfig_application.config[0].id
  name           = "{{appconfig_profile}}"
  location_uri   = "hosted"
  type           = "AWS.Freeform"
  tags           = var.tags
}

resource "aws_appconfig_deployment_strategy" "config" {
  # Experiment edits apply at the functions' next refresh, as with the other stores.
  count                          = local.use_appconfig ? 1 : 0
  name                           = "{{appconfig_strategy}}"
  description                    = "faultline: deploy experiment edits at once"
  deployment_duration_in_minutes = 0
  final_bake_time_in_minutes     = 0
  growth_factor                  = 100
  replicate_to                   = "NONE"
  tags                           = var.tags
}

resource "aws_appconfig_hosted_configuration_version" "config" {
  count                    = local.use_appconfig ? 1 : 0
  application_id           = aws_appconfig_application.config[0].id
  configuration_profile_id = aws_appconfig_configuration_profile.config[0].configuration_profile_id
  content_type             = "application/x-yaml"
  content                  = var.config_yaml

  lifecycle {
    # Later versions are `deployer experiment`'s; Terraform only writes the first config.
    ignore_changes = [content]
  }
}

resource "aws_appconfig_deployment" "config" {
  count                    = local.use_appconfig ? 1 : 0
  application_id           = aws_appconfig_application.config[0].id
  environment_id           = aws_appconfig_environment.config[0].environment_id
  configuration_profile_id = aws_appconfig_configuration_profile.config[0].configuration_profile_id
  configuration_version    = aws_appconfig_hosted_configuration_version.config[0].version_number
  deployment_strategy_id   = aws_appconfig_deployment_strategy.config[0].id
  tags                     = var.tags

  lifecycle {
    ignore_changes = [configuration_version]
  }
}

resource "aws_secretsmanager_secret" "config" {
  #checkov:skip=CKV_AWS_149:The AWS managed key is the default; set var.kms_key_id for a customer managed key.
  #checkov:skip=CKV2_AWS_57:The secret holds faultline's config and experiments, not a credential: there is nothing to rotate.
  count       = !local.via_role && var.store == "secretsmanager" ? 1 : 0
  name        = "${var.name}-config"
  description = "faultline config and experiments (edited by `deployer experiment`)"
  kms_key_id  = var.kms_key_id
  tags        = var.tags
}

resource "aws_secretsmanager_secret_version" "config" {
  count         = length(aws_secretsmanager_secret.config)
  secret_id     = aws_secretsmanager_secret.config[0].id
  secret_string = var.config_yaml

  lifecycle {
    # Experiments are started and stopped in the secret (`deployer experiment`); Terraform only
    # writes the first config.
    ignore_changes = [secret_string]
  }
}

locals {
  secret_arn                  = one(aws_secretsmanager_secret.config[*].arn)
  config_bucket_arn           = "arn:${data.aws_partition.current.partition}:s3:::${local.bucket}"
  config_object_arn           = "${local.config_bucket_arn}/faultline.yaml"
  appconfig_ids               = local.use_appconfig ? "${aws_appconfig_application.config[0].id}/${aws_appconfig_environment.config[0].environment_id}/${aws_appconfig_configuration_profile.config[0].configuration_profile_id}" : ""
  appconfig_configuration_arn = local.use_appconfig ? "arn:${data.aws_partition.current.partition}:appconfig:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:application/${aws_appconfig_application.config[0].id}/environment/${aws_appconfig_environment.config[0].environment_id}/configuration/${aws_appconfig_configuration_profile.config[0].configuration_profile_id}" : null
  config_arn                  = local.via_role ? var.config_arn : local.use_s3 ? local.config_object_arn : local.use_appconfig ? "appconfig:${local.appconfig_ids}" : local.secret_arn

  # The read policy's statements for each way of keeping the config (its one definition is
  # the deployer's, deployer/src/install/read_policy.rs).
  statements = {
{{#each read_policy}}
    {{@key}} = {
{{#each this}}
      {{@key}} = [
{{#each this}}
        {
{{#each hcl_attributes}}
          {{{this}}}
{{/each}}
        },
{{/each}}
      ]
{{/each}}
    }
{{/each}}
  }
  policy_kind = local.via_role ? "via_role" : local.use_s3 ? "s3" : local.use_appconfig ? "appconfig" : var.kms_key_id == null ? "secretsmanager" : "secretsmanager_key"
}

resource "aws_iam_policy" "read_config" {
  # Managed policies are global: the region suffix keeps one per region.
  name        = "${var.name}-read-config-${data.aws_region.current.name}"
  description = "Lets a function with faultline read exactly its config and the region's alarms (stop conditions)."
  tags        = var.tags
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = local.statements[local.policy_kind].function
  })
}

resource "aws_iam_role" "reader" {
  count       = !local.via_role && length(var.reader_accounts) > 0 ? 1 : 0
  name        = "${var.name}-config-reader"
  description = "Assumed by functions in the reader accounts to read the faultline config kept here."
  tags        = var.tags
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "WorkloadAccountsReadTheConfig"
      Effect    = "Allow"
      Principal = { AWS = [for account in var.reader_accounts : "arn:${data.aws_partition.current.partition}:iam::${account}:root"] }
      Action    = "sts:AssumeRole"
    }]
  })
}

resource "aws_iam_role_policy" "reader" {
  count = length(aws_iam_role.reader)
  name  = "read-faultline-config"
  role  = aws_iam_role.reader[0].id
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = local.statements[local.policy_kind].reader
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
