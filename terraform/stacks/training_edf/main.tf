# training_edf: the job image repository, the model registry group, the SageMaker execution
# role, the register Lambda, EDFTrainingWorkflow and the alerts topic with the model-package
# approval notification. Names come from config/edf_config.yaml (*_base + environment suffix).

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  repo_root   = "${path.module}/../../.."
  config_path = coalesce(var.config_path, "${local.repo_root}/config/edf_config.yaml")
  cfg         = yamldecode(file(local.config_path))
  suffix      = coalesce(var.env_suffix, local.cfg.env_suffix)
  region      = local.cfg.aws_region
  account_id  = data.aws_caller_identity.current.account_id
  partition   = data.aws_partition.current.partition
  zip_dir     = coalesce(var.lambda_zip_dir, "${local.repo_root}/build/lambda")
  # the edf wheel of the Glue feature job (`make package` builds it into build/glue)
  glue_wheel_dir = coalesce(var.glue_wheel_dir, "${local.repo_root}/build/glue")
  # one wheel, or a path that does not exist so the module's validation says to build it
  glue_wheel = coalesce(one(fileset(local.glue_wheel_dir, "edf-*-py3-none-any.whl")), "edf-wheel-missing.whl")
  functions  = jsondecode(file("${local.repo_root}/src/edf/packaging/functions.json"))

  names = {
    ecr_repo            = "${local.cfg.ecr_repo_name_edf_base}-${local.suffix}"
    model_package_group = "${local.cfg.edf_model_package_group_name_base}-${local.suffix}"
    register_function   = "${local.cfg.lambda_register_edf_func_base}-${local.suffix}"
    training_sfn        = "${local.cfg.edf_training_sfn_base}-${local.suffix}"
    sagemaker_role      = "${local.cfg.sagemaker_execution_role_base}-${local.suffix}"
    alerts_topic        = "${local.cfg.alerts_topic_base}-${local.suffix}"
    kms_alias           = "${local.cfg.project_name}-edf-training-${local.suffix}"
  }

  processed_bucket = coalesce(var.processed_bucket_name, "${local.cfg.processed_bucket_base}-${local.suffix}")
  raw_bucket       = coalesce(var.raw_bucket_name, "${local.cfg.raw_bucket_base}-${local.suffix}")
  scripts_bucket   = coalesce(var.scripts_bucket_name, "${local.cfg.scripts_bucket_base}-${local.suffix}")
  config_uri       = "s3://${local.scripts_bucket}/${var.config_object_key}"
  image_uri        = "${aws_ecr_repository.edf.repository_url}:${var.image_tag}"

  arn_prefix_sagemaker = "arn:${local.partition}:sagemaker:${local.region}:${local.account_id}"
  model_package_arns = [
    "${local.arn_prefix_sagemaker}:model-package-group/${local.names.model_package_group}",
    "${local.arn_prefix_sagemaker}:model-package/${lower(local.names.model_package_group)}/*",
    "${local.arn_prefix_sagemaker}:model-package/${local.names.model_package_group}/*",
  ]
  kms_keys = concat([module.kms.key_arn], var.data_kms_key_arns)

  tags = {
    Project     = local.cfg.project_name
    Component   = "edf-training"
    Environment = local.suffix
    ManagedBy   = "terraform"
  }
}

module "kms" {
  source      = "../../modules/kms_key"
  alias       = local.names.kms_alias
  description = "EDF training stack: logs, alerts topic, ECR, Lambda environment"
}

# ---------------------------------------------------------------- alerts
resource "aws_sns_topic" "alerts" {
  name              = local.names.alerts_topic
  kms_master_key_id = module.kms.key_arn
}

resource "aws_sns_topic_policy" "alerts" {
  arn = aws_sns_topic.alerts.arn
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "EventBridgeAndAlarmsPublish"
        Effect    = "Allow"
        Principal = { Service = ["events.amazonaws.com", "cloudwatch.amazonaws.com"] }
        Action    = "sns:Publish"
        Resource  = aws_sns_topic.alerts.arn
        Condition = { StringEquals = { "aws:SourceAccount" = local.account_id } }
      },
      {
        Sid       = "DenyInsecureTransport"
        Effect    = "Deny"
        Principal = "*"
        Action    = "sns:Publish"
        Resource  = aws_sns_topic.alerts.arn
        Condition = { Bool = { "aws:SecureTransport" = "false" } }
      },
    ]
  })
}

resource "aws_sns_topic_subscription" "email" {
  count     = var.alert_email == null ? 0 : 1
  topic_arn = aws_sns_topic.alerts.arn
  protocol  = "email"
  endpoint  = var.alert_email
}

# ---------------------------------------------------------------- image + registry
resource "aws_ecr_repository" "edf" {
  name                 = local.names.ecr_repo
  image_tag_mutability = "IMMUTABLE"
  force_delete         = var.force_destroy

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = module.kms.key_arn
  }
}

# Tags (bitbucket-pipelines.yml): CI pushes pr-<id>-<sha> for pull requests, branch-<sha> for other
# branches and git-<sha> for main; CD promotes a tested git-<sha> image by retagging it
# release-<sha> (no rebuild) and the stack trains with it, so every model package references a
# release-* image. release-* images are never expired (no rule selects them): an approved model's
# image cannot disappear. Only scratch images expire. Several prefixes in one tagPrefixList would
# select images carrying all of them, hence one rule per prefix.
resource "aws_ecr_lifecycle_policy" "edf" {
  repository = aws_ecr_repository.edf.name
  policy = jsonencode({
    rules = [
      {
        rulePriority = 1
        description  = "Pull-request images: ${var.ecr_scratch_image_days} days"
        selection = {
          tagStatus     = "tagged"
          tagPrefixList = ["pr-"]
          countType     = "sinceImagePushed"
          countUnit     = "days"
          countNumber   = var.ecr_scratch_image_days
        }
        action = { type = "expire" }
      },
      {
        rulePriority = 2
        description  = "Branch images: ${var.ecr_scratch_image_days} days"
        selection = {
          tagStatus     = "tagged"
          tagPrefixList = ["branch-"]
          countType     = "sinceImagePushed"
          countUnit     = "days"
          countNumber   = var.ecr_scratch_image_days
        }
        action = { type = "expire" }
      },
      {
        rulePriority = 3
        description  = "Main-branch candidates not (yet) promoted: keep the newest ${var.ecr_keep_images}"
        selection = {
          tagStatus     = "tagged"
          tagPrefixList = ["git-"]
          countType     = "imageCountMoreThan"
          countNumber   = var.ecr_keep_images
        }
        action = { type = "expire" }
      },
      {
        rulePriority = 4
        description  = "Untagged layers of superseded pushes: 1 day"
        selection = {
          tagStatus   = "untagged"
          countType   = "sinceImagePushed"
          countUnit   = "days"
          countNumber = 1
        }
        action = { type = "expire" }
      },
    ]
  })
}

resource "aws_sagemaker_model_package_group" "edf" {
  model_package_group_name        = local.names.model_package_group
  model_package_group_description = "EDF building demand + solar forecaster bundles (PendingManualApproval until an MLOps engineer approves)"
}

# "SageMaker Model Package State Change": every registration and approval decision of the
# group reaches the alerts topic.
resource "aws_cloudwatch_event_rule" "model_package_state" {
  name        = "${local.names.model_package_group}-state-change"
  description = "Model package registered / approved / rejected in ${local.names.model_package_group}"
  event_pattern = jsonencode({
    source        = ["aws.sagemaker"]
    "detail-type" = ["SageMaker Model Package State Change"]
    detail        = { ModelPackageGroupName = [local.names.model_package_group] }
  })
}

resource "aws_cloudwatch_event_target" "model_package_state" {
  rule      = aws_cloudwatch_event_rule.model_package_state.name
  target_id = "alerts-topic"
  arn       = aws_sns_topic.alerts.arn
}

# ---------------------------------------------------------------- SageMaker execution role
resource "aws_iam_role" "sagemaker" {
  name = local.names.sagemaker_role
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "sagemaker.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
}

resource "aws_iam_role_policy" "sagemaker" {
  name = "${local.names.sagemaker_role}-policy"
  role = aws_iam_role.sagemaker.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid    = "ListDataBuckets"
        Effect = "Allow"
        Action = ["s3:ListBucket", "s3:GetBucketLocation"]
        Resource = [for b in [local.processed_bucket, local.raw_bucket, local.scripts_bucket] :
        "arn:${local.partition}:s3:::${b}"]
      },
      {
        Sid    = "ReadInputsAndConfig"
        Effect = "Allow"
        Action = ["s3:GetObject"]
        Resource = [
          "arn:${local.partition}:s3:::${local.processed_bucket}/*",
          "arn:${local.partition}:s3:::${local.raw_bucket}/edf-inputs/*",
          "arn:${local.partition}:s3:::${local.scripts_bucket}/${var.config_object_key}",
        ]
      },
      {
        Sid    = "WriteJobOutputs"
        Effect = "Allow"
        Action = ["s3:PutObject", "s3:AbortMultipartUpload"]
        Resource = [for p in ["features", "model-artifacts", "evaluation-output", "forecast-output", "validation-output", "optimization-output"] :
        "arn:${local.partition}:s3:::${local.processed_bucket}/${p}/*"]
      },
      {
        Sid      = "PullJobImage"
        Effect   = "Allow"
        Action   = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]
        Resource = aws_ecr_repository.edf.arn
      },
      {
        # GetAuthorizationToken and PutMetricData have no resource-level permissions.
        Sid      = "RegistryTokenAndMetrics"
        Effect   = "Allow"
        Action   = ["ecr:GetAuthorizationToken", "cloudwatch:PutMetricData"]
        Resource = "*"
      },
      {
        Sid      = "JobLogs"
        Effect   = "Allow"
        Action   = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
        Resource = "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/aws/sagemaker/*"
      },
      {
        # The evaluation job compares the challenger with the approved champion.
        Sid      = "ReadRegistry"
        Effect   = "Allow"
        Action   = ["sagemaker:ListModelPackages", "sagemaker:DescribeModelPackage", "sagemaker:DescribeModelPackageGroup"]
        Resource = local.model_package_arns
      },
      {
        Sid      = "UseKeys"
        Effect   = "Allow"
        Action   = ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
        Resource = local.kms_keys
      },
    ]
  })
}

# ---------------------------------------------------------------- register Lambda
module "register_model" {
  source           = "../../modules/lambda_function"
  function_name    = local.names.register_function
  description      = "RegisterModelEDF: evaluated bundle -> model package (PendingManualApproval)"
  zip_path         = "${local.zip_dir}/register_model.zip"
  source_code_hash = filebase64sha256("${local.zip_dir}/register_model.zip")
  memory_mb        = local.cfg.lambda_shared.register_model_memory
  timeout_seconds  = local.cfg.lambda_shared.register_model_timeout
  kms_key_arn      = module.kms.key_arn
  layers           = local.functions.register_model.pandas_layer ? [var.aws_sdk_pandas_layer_arn] : []
  environment = {
    EDF_CONFIG_URI             = local.config_uri
    EDF_MODEL_PACKAGE_GROUP    = local.names.model_package_group
    EDF_SAGEMAKER_ROLE_ARN     = aws_iam_role.sagemaker.arn
    POWERTOOLS_SERVICE_NAME    = "edf-register-model"
    AWS_STS_REGIONAL_ENDPOINTS = "regional"
  }
  log_retention_days = var.log_retention_days
  policy_statements = [
    {
      sid       = "RegisterPackages"
      actions   = ["sagemaker:CreateModelPackage", "sagemaker:DescribeModelPackage", "sagemaker:ListModelPackages", "sagemaker:DescribeModelPackageGroup", "sagemaker:AddTags"]
      resources = local.model_package_arns
    },
    {
      sid       = "ReadReportsAndConfig"
      actions   = ["s3:GetObject"]
      resources = ["arn:${local.partition}:s3:::${local.processed_bucket}/*", "arn:${local.partition}:s3:::${local.scripts_bucket}/${var.config_object_key}"]
    },
    {
      sid       = "DataKeys"
      actions   = ["kms:Decrypt"]
      resources = local.kms_keys
    },
  ]
}

# ---------------------------------------------------------------- training feature job (AWS Glue 5.0)
module "features_job" {
  source                    = "../../modules/glue_features_job"
  job_name                  = "${local.cfg.edf_spark.features_job_base}-training-${local.suffix}"
  mode                      = "training"
  glue_version              = local.cfg.edf_spark.glue_version
  worker_type               = local.cfg.edf_spark.training.worker_type
  number_of_workers         = local.cfg.edf_spark.training.number_of_workers
  timeout_minutes           = local.cfg.edf_spark.timeout_minutes
  additional_python_modules = local.cfg.edf_spark.additional_python_modules
  script_path               = "${local.repo_root}/src/edf/jobs/glue_features.py"
  wheel_path                = "${local.glue_wheel_dir}/${local.glue_wheel}"
  scripts_bucket            = local.scripts_bucket
  processed_bucket          = local.processed_bucket
  raw_bucket                = local.raw_bucket
  config_object_key         = var.config_object_key
  kms_key_arn               = module.kms.key_arn
  data_kms_key_arns         = var.data_kms_key_arns
  tags                      = local.tags
}

# ---------------------------------------------------------------- training workflow
module "training_workflow" {
  source      = "../../modules/state_machine"
  name        = local.names.training_sfn
  kms_key_arn = module.kms.key_arn
  definition = templatefile("${local.repo_root}/pipelines/training.asl.json", {
    alerts_topic_arn            = aws_sns_topic.alerts.arn
    config_uri                  = local.config_uri
    default_strategy            = lower(local.cfg.edf_training.default_strategy)
    evaluation_instance_count   = local.cfg.edf_evaluation.instance_count
    evaluation_instance_type    = local.cfg.edf_evaluation.instance_type
    features_training_job_name  = module.features_job.job_name
    image_uri                   = local.image_uri
    job_volume_size_gb          = var.job_volume_size_gb
    max_runtime_seconds         = local.cfg.edf_training.max_runtime_seconds
    model_package_group_name    = local.names.model_package_group
    processed_bucket            = local.processed_bucket
    raw_bucket                  = local.raw_bucket
    register_model_function_arn = module.register_model.arn
    sagemaker_role_arn          = aws_iam_role.sagemaker.arn
    training_instance_count     = local.cfg.edf_training.instance_count
    training_instance_type      = local.cfg.edf_training.instance_type
  })
  log_retention_days = var.log_retention_days
  policy_statements = [
    {
      sid     = "RunJobs"
      actions = ["sagemaker:CreateProcessingJob", "sagemaker:DescribeProcessingJob", "sagemaker:StopProcessingJob", "sagemaker:CreateTrainingJob", "sagemaker:DescribeTrainingJob", "sagemaker:StopTrainingJob", "sagemaker:AddTags"]
      resources = [
        "${local.arn_prefix_sagemaker}:processing-job/edf-*",
        "${local.arn_prefix_sagemaker}:training-job/edf-*",
      ]
    },
    {
      # glue:startJobRun.sync starts the run and polls it (GetJobRun), stopping it if the task is aborted.
      sid       = "RunFeatureJob"
      actions   = ["glue:StartJobRun", "glue:GetJobRun", "glue:GetJobRuns", "glue:BatchStopJobRun"]
      resources = [module.features_job.job_arn]
    },
    {
      sid       = "PassJobRole"
      actions   = ["iam:PassRole"]
      resources = [aws_iam_role.sagemaker.arn]
      condition = { StringEquals = { "iam:PassedToService" = ["sagemaker.amazonaws.com"] } }
    },
    {
      # The .sync integrations manage these Step Functions-owned rules.
      sid     = "SyncIntegrationRules"
      actions = ["events:PutTargets", "events:PutRule", "events:DescribeRule"]
      resources = [
        "arn:${local.partition}:events:${local.region}:${local.account_id}:rule/StepFunctionsGetEventsForSageMakerProcessingJobsRule",
        "arn:${local.partition}:events:${local.region}:${local.account_id}:rule/StepFunctionsGetEventsForSageMakerTrainingJobsRule",
      ]
    },
    {
      sid       = "InvokeRegister"
      actions   = ["lambda:InvokeFunction"]
      resources = [module.register_model.arn, "${module.register_model.arn}:*"]
    },
    {
      sid       = "ReadEvaluationReport"
      actions   = ["s3:GetObject"]
      resources = ["arn:${local.partition}:s3:::${local.processed_bucket}/evaluation-output/*"]
    },
    {
      # WriteTrainingOverridesEDF: the run's overrides reach the jobs as an S3 object, not as arguments.
      sid       = "WriteRunInputs"
      actions   = ["s3:PutObject"]
      resources = ["arn:${local.partition}:s3:::${local.processed_bucket}/run-inputs/*"]
    },
    {
      sid       = "NotifyAlerts"
      actions   = ["sns:Publish"]
      resources = [aws_sns_topic.alerts.arn]
    },
    {
      sid       = "DataKeys"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = local.kms_keys
    },
  ]
}
