# Rendered by `deployer render terraform`; edit deployer/templates/terraform, not this file.
#
# Wires one function for faultline without owning it: give this module the function's own layers
# and environment, and give its `layers` and `environment` outputs to your aws_lambda_function.
# The result equals what `deployer enable` makes of the function. The only resource here is the
# read policy's attachment to the function's role.

data "aws_region" "current" {}

data "aws_partition" "current" {}

locals {
  wrapper         = "/opt/faultline-wrapper"
  faultline_proxy = "http://localhost:5034"
  faultline_layer = var.faultline_layer_arns[var.architecture]
  # The layer ARN without its version: any version of it is faultline's.
  faultline_layer_base = regex("^(.+):[0-9]+$", local.faultline_layer)[0]

  # Layers: an older faultline version is replaced where it stands, else faultline's goes last.
  own_layers = [
    for layer in var.layers :
    startswith(layer, "${local.faultline_layer_base}:") ? local.faultline_layer : layer
  ]
  layers = distinct(contains(local.own_layers, local.faultline_layer) ? local.own_layers : concat(local.own_layers, [local.faultline_layer]))

  # NO_PROXY: the function's own hosts first, then loopback and the metadata endpoints.
  own_no_proxy = [for host in split(",", lookup(var.environment, "NO_PROXY", "")) : trimspace(host) if trimspace(host) != ""]
  no_proxy     = join(",", distinct(concat(local.own_no_proxy, ["localhost", "127.0.0.1", "169.254.169.254"])))

  # A wrapper or proxy the function had before is chained behind faultline's, never lost.
  previous_wrapper = lookup(var.environment, "AWS_LAMBDA_EXEC_WRAPPER", "")
  previous_proxy   = lookup(var.environment, "HTTPS_PROXY", lookup(var.environment, "HTTP_PROXY", ""))
  chained = {
    for key, value in {
      FAULTLINE_NEXT_WRAPPER   = local.previous_wrapper != local.wrapper ? local.previous_wrapper : ""
      FAULTLINE_UPSTREAM_PROXY = local.previous_proxy != local.faultline_proxy ? local.previous_proxy : ""
    } : key => value if value != ""
  }

  faultline_environment = {
    GREMLIN_LAMBDA_ENABLED  = tostring(var.enabled)
    GREMLIN_CONFIG_ARN      = var.config_arn
    AWS_LAMBDA_EXEC_WRAPPER = "/opt/faultline-wrapper"
    HTTP_PROXY              = "http://localhost:5034"
    HTTPS_PROXY             = "http://localhost:5034"
    NO_PROXY                = local.no_proxy
  }

  # Runtimes whose HTTP clients ignore HTTP(S)_PROXY unless told: Node.js 22/24 read them with
  # NODE_USE_ENV_PROXY=1; the JVM reads system properties only, so faultline's proxy options
  # take the place of any the function's JAVA_TOOL_OPTIONS had.
  own_java_options = [
    for option in split(" ", lookup(var.environment, "JAVA_TOOL_OPTIONS", "")) : option
    if option != "" && length([for prefix in ["-Dhttp.proxyHost=", "-Dhttp.proxyPort=", "-Dhttps.proxyHost=", "-Dhttps.proxyPort=", "-Dhttp.nonProxyHosts="] : prefix if startswith(option, prefix)]) == 0
  ]
  runtime_environment = merge(
    contains(["nodejs22.x", "nodejs24.x"], var.runtime) ? { NODE_USE_ENV_PROXY = "1" } : {},
    startswith(var.runtime, "java") ? { JAVA_TOOL_OPTIONS = join(" ", concat(local.own_java_options, ["-Dhttp.proxyHost=localhost", "-Dhttp.proxyPort=5034", "-Dhttps.proxyHost=localhost", "-Dhttps.proxyPort=5034", "-Dhttp.nonProxyHosts=localhost|127.0.0.1|169.254.169.254"])) } : {},
  )

  # AWS SDK calls through TLS origination: each service's endpoint variable, unless the function
  # has its own (or a global AWS_ENDPOINT_URL, which a per-service one would override), and not on
  # Node.js before 24 (its SDK would connect to AWS itself: faultline's preload needs Node 24).
  aws_endpoint_variables = {
    "dynamodb"         = "AWS_ENDPOINT_URL_DYNAMODB"
    "s3"               = "AWS_ENDPOINT_URL_S3"
    "sqs"              = "AWS_ENDPOINT_URL_SQS"
    "sns"              = "AWS_ENDPOINT_URL_SNS"
    "kinesis"          = "AWS_ENDPOINT_URL_KINESIS"
    "events"           = "AWS_ENDPOINT_URL_EVENTBRIDGE"
    "lambda"           = "AWS_ENDPOINT_URL_LAMBDA"
    "secretsmanager"   = "AWS_ENDPOINT_URL_SECRETS_MANAGER"
    "states"           = "AWS_ENDPOINT_URL_SFN"
    "ssm"              = "AWS_ENDPOINT_URL_SSM"
    "sts"              = "AWS_ENDPOINT_URL_STS"
    "firehose"         = "AWS_ENDPOINT_URL_FIREHOSE"
    "bedrock-runtime"  = "AWS_ENDPOINT_URL_BEDROCK_RUNTIME"
    "monitoring"       = "AWS_ENDPOINT_URL_CLOUDWATCH"
    "logs"             = "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS"
    "kms"              = "AWS_ENDPOINT_URL_KMS"
    "streams.dynamodb" = "AWS_ENDPOINT_URL_DYNAMODB_STREAMS"
  }
  sdk_follows_proxy = !startswith(var.runtime, "nodejs") || try(tonumber(regex("^nodejs([0-9]+)", var.runtime)[0]) >= 24, false)
  aws_endpoints = lookup(var.environment, "AWS_ENDPOINT_URL", "") != "" || !local.sdk_follows_proxy ? {} : {
    for service in var.aws_services :
    local.aws_endpoint_variables[service] => "http://${service}.${data.aws_region.current.name}.${data.aws_partition.current.dns_suffix}:443"
    if !contains(keys(var.environment), local.aws_endpoint_variables[service])
  }

  init_faults = var.init_faults ? { FAULTLINE_INIT_FAULTS = "true" } : {}
  config_role = var.config_role_arn == null ? {} : { GREMLIN_CONFIG_ARN_ROLE = var.config_role_arn }

  environment       = merge(var.environment, local.chained, local.faultline_environment, local.runtime_environment, local.aws_endpoints, local.init_faults, local.config_role)
  environment_bytes = length(join("", [for key, value in local.environment : "${key}${value}"]))
}

resource "aws_iam_role_policy_attachment" "read_config" {
  role       = var.role_name
  policy_arn = var.policy_arn

  lifecycle {
    precondition {
      condition     = length(local.layers) <= 5
      error_message = "The function would have ${length(local.layers)} layers with faultline's; Lambda allows 5."
    }
    precondition {
      condition     = local.environment_bytes <= 4096
      error_message = "The environment would be ${local.environment_bytes} bytes with faultline's variables; Lambda allows 4096."
    }
  }
}
