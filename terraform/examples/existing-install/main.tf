# Rendered by `deployer render terraform`; edit deployer/templates/terraform, not this file.
#
# A Terraform-managed function wired to what `deployer init` created (render with
# `deployer render terraform --from-aws` to have the ARNs filled in as defaults).

provider "aws" {
  region = var.region
}

resource "aws_iam_role" "function" {
  name = "${var.function_name}-role"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "lambda.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
}

module "faultline" {
  source = "../../modules/function"

  faultline_layer_arns = var.faultline_layer_arns
  config_arn           = var.config_arn
  policy_arn           = var.policy_arn
  role_name            = aws_iam_role.function.name
  architecture         = var.architecture
  runtime              = "python3.13"
  environment          = { LOG_LEVEL = "INFO" }
}

resource "aws_lambda_function" "function" {
  #checkov:skip=CKV_AWS_116:Invoked synchronously; a dead-letter queue is the application's choice.
  #checkov:skip=CKV_AWS_117:The example reaches no private resources; a VPC is the application's choice.
  #checkov:skip=CKV_AWS_115:Reserved concurrency is the application's choice.
  #checkov:skip=CKV_AWS_173:The variables hold ARNs and ports, no secrets; the config itself stays in its store.
  #checkov:skip=CKV_AWS_272:Code signing is the application's choice.
  function_name = var.function_name
  role          = aws_iam_role.function.arn
  runtime       = "python3.13"
  handler       = "index.handler"
  architectures = [var.architecture]
  filename      = var.function_zip

  layers = module.faultline.layers
  environment {
    variables = module.faultline.environment
  }

  tracing_config {
    mode = "Active"
  }
}
