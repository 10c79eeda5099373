# A Lambda function with its own execution role and KMS-encrypted log group. The role gets
# exactly: writing to its own log group, X-Ray segments, using the stack key, and the
# statements the caller passes in (each resource-scoped by the caller).

data "aws_partition" "current" {}

locals {
  log_group_name = "/aws/lambda/${var.function_name}"
}

resource "aws_cloudwatch_log_group" "this" {
  name              = local.log_group_name
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

resource "aws_iam_role" "this" {
  name = "${var.function_name}-role"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "lambda.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
  tags = var.tags
}

resource "aws_iam_role_policy" "this" {
  name = "${var.function_name}-policy"
  role = aws_iam_role.this.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(
      [
        {
          Sid      = "OwnLogGroup"
          Effect   = "Allow"
          Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
          Resource = "${aws_cloudwatch_log_group.this.arn}:*"
        },
        {
          # X-Ray has no resource-level permissions for these two actions.
          Sid      = "XRayTracing"
          Effect   = "Allow"
          Action   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
          Resource = "*"
        },
        {
          Sid      = "StackKey"
          Effect   = "Allow"
          Action   = ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
          Resource = var.kms_key_arn
        },
      ],
      [for s in var.policy_statements : {
        Sid       = s.sid
        Effect    = "Allow"
        Action    = s.actions
        Resource  = s.resources
        Condition = s.condition
      } if s.condition != null],
      [for s in var.policy_statements : {
        Sid      = s.sid
        Effect   = "Allow"
        Action   = s.actions
        Resource = s.resources
      } if s.condition == null],
    )
  })
}

resource "aws_lambda_function" "this" {
  # checkov:skip=CKV_AWS_115: reserved concurrency would fail on new accounts (10-execution quota); the Throttles alarm covers saturation
  # checkov:skip=CKV_AWS_116: Step Functions and API Gateway invoke synchronously and handle the error; the scheduled monitor is retried by Scheduler and its failures raise the Errors alarm
  # checkov:skip=CKV_AWS_272: code signing needs a Signer profile per account; zips are built reproducibly in CI and hash-pinned via source_code_hash
  function_name    = var.function_name
  description      = var.description
  role             = aws_iam_role.this.arn
  filename         = var.zip_path
  source_code_hash = var.source_code_hash
  handler          = var.handler
  runtime          = var.runtime
  architectures    = ["x86_64"]
  memory_size      = var.memory_mb
  timeout          = var.timeout_seconds
  layers           = var.layers
  kms_key_arn      = var.kms_key_arn

  environment {
    variables = var.environment
  }

  tracing_config {
    mode = "Active"
  }

  dynamic "vpc_config" {
    for_each = length(var.subnet_ids) > 0 ? [1] : []
    content {
      subnet_ids         = var.subnet_ids
      security_group_ids = var.security_group_ids
    }
  }

  tags       = var.tags
  depends_on = [aws_cloudwatch_log_group.this, aws_iam_role_policy.this]
}
