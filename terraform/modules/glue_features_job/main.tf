# One EDF feature job on AWS Glue 5.0 (Spark 3.5, Python 3.11), started by the workflows with
# glue:startJobRun.sync (docs/spark_engine.md). The job's script and the edf wheel live under
# s3://<scripts bucket>/edf/glue/<job name>/; Glue installs the wheel and the listed pip modules on
# the driver and every executor (--additional-python-modules). Spark reads processed_edf_data from
# S3 itself (date-partition pruning) and writes the features there: no copy to local disks.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name
  prefix     = "edf/glue/${var.job_name}"
  wheel_key  = "${local.prefix}/${basename(var.wheel_path)}"
  modules    = join(",", concat(["s3://${var.scripts_bucket}/${local.wheel_key}"], var.additional_python_modules))
  kms_keys   = concat([var.kms_key_arn], var.data_kms_key_arns)
}

resource "aws_s3_object" "script" {
  bucket      = var.scripts_bucket
  key         = "${local.prefix}/features.py"
  source      = var.script_path
  source_hash = filemd5(var.script_path) # etag cannot be used with SSE-KMS
  kms_key_id  = var.kms_key_arn
  tags        = var.tags
}

resource "aws_s3_object" "wheel" {
  bucket      = var.scripts_bucket
  key         = local.wheel_key
  source      = var.wheel_path
  source_hash = filemd5(var.wheel_path)
  kms_key_id  = var.kms_key_arn
  tags        = var.tags
}

resource "aws_iam_role" "this" {
  name = "${var.job_name}-glue"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "glue.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = { StringEquals = { "aws:SourceAccount" = local.account_id } }
    }]
  })
  tags = var.tags
}

resource "aws_iam_role_policy" "this" {
  name = "${var.job_name}-glue-policy"
  role = aws_iam_role.this.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "ListBuckets"
        Effect   = "Allow"
        Action   = ["s3:ListBucket", "s3:GetBucketLocation"]
        Resource = [for b in [var.processed_bucket, var.raw_bucket, var.scripts_bucket] : "arn:${local.partition}:s3:::${b}"]
      },
      {
        Sid    = "ReadInputsCodeAndConfig"
        Effect = "Allow"
        Action = ["s3:GetObject"]
        Resource = [
          "arn:${local.partition}:s3:::${var.processed_bucket}/processed_edf_data/*",
          "arn:${local.partition}:s3:::${var.raw_bucket}/edf-inputs/*",
          "arn:${local.partition}:s3:::${var.scripts_bucket}/${var.config_object_key}",
          "arn:${local.partition}:s3:::${var.scripts_bucket}/${local.prefix}/*",
        ]
      },
      {
        Sid    = "WriteFeaturesAndTemp"
        Effect = "Allow"
        Action = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]
        Resource = [
          "arn:${local.partition}:s3:::${var.processed_bucket}/features/edf/${var.mode}/*",
          "arn:${local.partition}:s3:::${var.scripts_bucket}/${local.prefix}/tmp/*",
        ]
      },
      {
        Sid      = "JobLogs"
        Effect   = "Allow"
        Action   = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:AssociateKmsKey"]
        Resource = "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/aws-glue/*"
      },
      {
        # PutMetricData has no resource-level permissions; the condition keeps it to Glue's namespace.
        Sid       = "JobMetrics"
        Effect    = "Allow"
        Action    = ["cloudwatch:PutMetricData"]
        Resource  = "*"
        Condition = { StringEquals = { "cloudwatch:namespace" = "Glue" } }
      },
      {
        Sid      = "UseKeys"
        Effect   = "Allow"
        Action   = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
        Resource = local.kms_keys
      },
    ]
  })
}

resource "aws_glue_security_configuration" "this" {
  name = "${var.job_name}-security"

  encryption_configuration {
    cloudwatch_encryption {
      cloudwatch_encryption_mode = "SSE-KMS"
      kms_key_arn                = var.kms_key_arn
    }
    job_bookmarks_encryption {
      job_bookmarks_encryption_mode = "CSE-KMS"
      kms_key_arn                   = var.kms_key_arn
    }
    s3_encryption {
      s3_encryption_mode = "SSE-KMS"
      kms_key_arn        = var.kms_key_arn
    }
  }
}

resource "aws_glue_job" "this" {
  name                   = var.job_name
  description            = "EDF ${var.mode} features (edf.jobs.glue_features): origin-aware PySpark features"
  role_arn               = aws_iam_role.this.arn
  glue_version           = var.glue_version
  worker_type            = var.worker_type
  number_of_workers      = var.number_of_workers
  timeout                = var.timeout_minutes
  max_retries            = 0          # the workflow decides about retries (Retry on the task)
  execution_class        = "STANDARD" # what the API reports when unset (no plan drift); FLEX suits training (docs)
  security_configuration = aws_glue_security_configuration.this.name

  command {
    name            = "glueetl"
    script_location = "s3://${var.scripts_bucket}/${aws_s3_object.script.key}"
    python_version  = "3"
  }

  default_arguments = {
    "--mode"                             = var.mode
    "--additional-python-modules"        = local.modules
    "--job-language"                     = "python"
    "--enable-metrics"                   = "true"
    "--enable-continuous-cloudwatch-log" = "true"
    "--job-bookmark-option"              = "job-bookmark-disable"
    "--TempDir"                          = "s3://${var.scripts_bucket}/${local.prefix}/tmp/"
  }

  execution_property {
    max_concurrent_runs = 2
  }

  tags = var.tags
}
