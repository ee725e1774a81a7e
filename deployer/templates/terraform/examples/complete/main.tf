# Rendered by `deployer render terraform`; edit deployer/templates/terraform, not this file.
#
# faultline set up by Terraform (setup module) and one function wired to it (function module).
# The function had a layer and variables of its own; faultline's are merged in.

provider "aws" {
  region = var.region
}

module "faultline" {
  source = "../../modules/setup"

  name            = "{{name}}"
  architectures   = [var.architecture]
  layer_zip_files = { (var.architecture) = "${var.dist_dir}/faultline-layer-${var.architecture}.zip" }
}

# The rehearsals dashboard: faults injected, halts, suspensions and guard trips next to every
# function's errors and p99 duration.
module "faultline_dashboard" {
  source = "../../modules/dashboard"

  name = "{{name}}"
}

resource "aws_iam_role" "orders" {
  name = "orders-example"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "lambda.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
}

resource "aws_iam_role_policy_attachment" "orders_logs" {
  role       = aws_iam_role.orders.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
}

module "orders_faultline" {
  source = "../../modules/function"

  faultline_layer_arns = module.faultline.layer_arns
  config_arn           = module.faultline.config_arn
  policy_arn           = module.faultline.policy_arn
  role_name            = aws_iam_role.orders.name
  architecture         = var.architecture
  runtime              = "python3.13"
  layers               = [var.shared_layer_arn]
  aws_services         = var.aws_services
  init_faults          = var.init_faults
  environment = {
{{#each example_own_env}}
    {{key_hcl}} = {{hcl}}
{{/each}}
  }
}

resource "aws_lambda_function" "orders" {
  #checkov:skip=CKV_AWS_116:Invoked synchronously; a dead-letter queue is the application's choice.
  #checkov:skip=CKV_AWS_117:The example reaches no private resources; a VPC is the application's choice.
  #checkov:skip=CKV_AWS_115:Reserved concurrency is the application's choice.
  #checkov:skip=CKV_AWS_173:The variables hold ARNs and ports, no secrets; the config itself stays in its store.
  #checkov:skip=CKV_AWS_272:Code signing is the application's choice.
  function_name = "orders-example"
  role          = aws_iam_role.orders.arn
  runtime       = "python3.13"
  handler       = "index.handler"
  architectures = [var.architecture]
  filename      = var.function_zip
  timeout       = 10

  layers = module.orders_faultline.layers
  environment {
    variables = module.orders_faultline.environment
  }

  tracing_config {
    mode = "Active"
  }
}
