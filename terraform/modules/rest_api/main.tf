# The EDF REST API, imported from the project's OpenAPI document (Lambda proxy integrations
# and security schemes live in that document). This module adds what the document cannot
# carry: the Cognito user pool behind the B2C authorizer, B2B API keys with usage plans
# (throttle + quota), the stage with access logging, X-Ray and stage-wide throttling, and
# the permissions for API Gateway to invoke the two Lambdas.

data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  # What the resident app client may read and write (issue 14, item 1). Writable: only the e-mail.
  # The building id and the time zone decide what a resident sees, so only admins set them
  # (AdminCreateUser / AdminUpdateUserAttributes); they stay readable because the ID token carries
  # only readable attributes and the B2C API needs both claims.
  client_write_attributes = ["email"]
  client_read_attributes  = ["email", "email_verified", "zoneinfo", var.building_claim]
}

resource "aws_cognito_user_pool" "b2c" {
  name                     = "${var.name}-residents"
  auto_verified_attributes = ["email"]
  username_attributes      = ["email"]
  mfa_configuration        = "OPTIONAL"
  # Residents are admin-created with their building id; nobody signs up on their own.
  deletion_protection = var.deletion_protection ? "ACTIVE" : "INACTIVE"
  # Threat protection (advanced security) needs the Plus feature plan; see cognito_advanced_security_mode.
  user_pool_tier = var.cognito_advanced_security_mode == "OFF" ? null : "PLUS"

  admin_create_user_config {
    allow_admin_create_user_only = true
  }

  software_token_mfa_configuration {
    enabled = true
  }

  password_policy {
    minimum_length    = var.password_min_length
    require_lowercase = true
    require_uppercase = true
    require_numbers   = true
    require_symbols   = true
  }

  # The resident's building id, read by the B2C API from the token (config edf_serving.building_claim).
  schema {
    name                     = trimprefix(var.building_claim, "custom:")
    attribute_data_type      = "String"
    mutable                  = false
    developer_only_attribute = false
    required                 = false

    string_attribute_constraints {
      min_length = 1
      max_length = 64
    }
  }

  # Threat protection (compromised credentials, adaptive authentication): AUDIT or ENFORCED where the
  # account has the Plus feature plan (variable cognito_advanced_security_mode; docs/security.md).
  user_pool_add_ons {
    advanced_security_mode = var.cognito_advanced_security_mode
  }

  tags = var.tags
}

resource "aws_cognito_user_pool_client" "b2c_app" {
  name                          = "${var.name}-resident-app"
  user_pool_id                  = aws_cognito_user_pool.b2c.id
  generate_secret               = false
  explicit_auth_flows           = ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
  prevent_user_existence_errors = "ENABLED"
  # Without write_attributes a client may write every attribute, custom:building_id included.
  write_attributes = local.client_write_attributes
  read_attributes  = local.client_read_attributes
}

locals {
  # The document's Cognito authorizer needs the pool created here, so the module renders it.
  openapi_body = templatefile(var.openapi_template_path, merge(var.openapi_template_vars, {
    cognito_user_pool_arn = aws_cognito_user_pool.b2c.arn
  }))
}

resource "aws_api_gateway_rest_api" "this" {
  name        = var.name
  description = "EDF forecasts and recommendations (B2B: API key; B2C: Cognito)."
  body        = local.openapi_body
  # API keys come from the x-api-key header, as the OpenAPI security scheme declares.
  api_key_source = "HEADER"

  endpoint_configuration {
    types = ["REGIONAL"]
  }

  lifecycle {
    create_before_destroy = true
  }

  tags = var.tags
}

resource "aws_api_gateway_deployment" "this" {
  rest_api_id = aws_api_gateway_rest_api.this.id

  # Redeploy exactly when the imported document changes.
  triggers = {
    redeployment = sha256(local.openapi_body)
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_cloudwatch_log_group" "access" {
  name              = "/aws/apigateway/${var.name}/access"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

resource "aws_api_gateway_stage" "this" {
  # checkov:skip=CKV_AWS_120: responses are per-caller and per-run forecasts; caching would serve stale or other callers' data
  # checkov:skip=CKV2_AWS_29: WAF web ACL is account policy (cost, rule sets) and attaches to the stage outside this stack
  # checkov:skip=CKV2_AWS_51: callers are API-key or Cognito authenticated over TLS; no mutual-TLS backend to present a client certificate to
  deployment_id        = aws_api_gateway_deployment.this.id
  rest_api_id          = aws_api_gateway_rest_api.this.id
  stage_name           = var.stage_name
  xray_tracing_enabled = true

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.access.arn
    format = jsonencode({
      requestId      = "$context.requestId"
      ip             = "$context.identity.sourceIp"
      requestTime    = "$context.requestTime"
      httpMethod     = "$context.httpMethod"
      resourcePath   = "$context.resourcePath"
      status         = "$context.status"
      responseLength = "$context.responseLength"
      latencyMs      = "$context.responseLatency"
      apiKeyId       = "$context.identity.apiKeyId"
      user           = "$context.authorizer.claims.sub"
      xrayTraceId    = "$context.xrayTraceId"
    })
  }

  tags       = var.tags
  depends_on = [aws_api_gateway_account.this]
}

resource "aws_api_gateway_method_settings" "all" {
  # checkov:skip=CKV_AWS_225: caching stays off on purpose (per-caller, per-run answers; see the stage); cache_data_encrypted is set should it be enabled
  rest_api_id = aws_api_gateway_rest_api.this.id
  stage_name  = aws_api_gateway_stage.this.stage_name
  method_path = "*/*"

  settings {
    metrics_enabled        = true
    logging_level          = "INFO"
    data_trace_enabled     = false
    throttling_rate_limit  = var.stage_throttle_rate_limit
    throttling_burst_limit = var.stage_throttle_burst_limit
    caching_enabled        = false
    cache_data_encrypted   = true
  }
}

# Execution logging (logging_level above) needs the account-level CloudWatch role. It is an
# account singleton: set manage_account_logging_role = false when another stack owns it.
resource "aws_iam_role" "apigw_cloudwatch" {
  count = var.manage_account_logging_role ? 1 : 0
  name  = "${var.name}-apigw-cloudwatch"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "apigateway.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
  tags = var.tags
}

resource "aws_iam_role_policy" "apigw_cloudwatch" {
  count = var.manage_account_logging_role ? 1 : 0
  name  = "${var.name}-apigw-cloudwatch"
  role  = aws_iam_role.apigw_cloudwatch[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid    = "ExecutionLogs"
      Effect = "Allow"
      Action = [
        "logs:CreateLogGroup", "logs:CreateLogStream", "logs:DescribeLogGroups",
        "logs:DescribeLogStreams", "logs:PutLogEvents", "logs:GetLogEvents", "logs:FilterLogEvents",
      ]
      Resource = "arn:${data.aws_partition.current.partition}:logs:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:log-group:API-Gateway-Execution-Logs_*"
    }]
  })
}

resource "aws_api_gateway_account" "this" {
  count               = var.manage_account_logging_role ? 1 : 0
  cloudwatch_role_arn = aws_iam_role.apigw_cloudwatch[0].arn
  depends_on          = [aws_iam_role_policy.apigw_cloudwatch]
}

resource "aws_api_gateway_usage_plan" "b2b" {
  for_each    = var.usage_plans
  name        = "${var.name}-${each.key}"
  description = "B2B usage plan ${each.key}"

  api_stages {
    api_id = aws_api_gateway_rest_api.this.id
    stage  = aws_api_gateway_stage.this.stage_name
  }

  throttle_settings {
    rate_limit  = each.value.rate_limit
    burst_limit = each.value.burst_limit
  }

  quota_settings {
    limit  = each.value.quota_limit
    period = each.value.quota_period
  }

  tags = var.tags
}

resource "aws_api_gateway_api_key" "b2b" {
  for_each    = var.b2b_clients
  name        = "${var.name}-${each.key}"
  description = "B2B client ${each.key} (usage plan ${each.value})"
  enabled     = true
  tags        = var.tags
}

resource "aws_api_gateway_usage_plan_key" "b2b" {
  for_each      = var.b2b_clients
  key_id        = aws_api_gateway_api_key.b2b[each.key].id
  key_type      = "API_KEY"
  usage_plan_id = aws_api_gateway_usage_plan.b2b[each.value].id
}

resource "aws_lambda_permission" "invoke" {
  for_each      = var.lambda_function_names
  statement_id  = "AllowApiGatewayInvoke-${each.key}"
  action        = "lambda:InvokeFunction"
  function_name = each.value
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_api_gateway_rest_api.this.execution_arn}/*/*"
}
