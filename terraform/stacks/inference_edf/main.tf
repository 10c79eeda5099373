# inference_edf: the forecast store, the inference Lambdas, EDFInferenceWorkflow and its daily
# schedule, the accuracy monitor, the REST API (OpenAPI import, Cognito for B2C, API keys and
# usage plans for B2B), the weather-provider secret, the weather fetcher (weather.tf), and the
# alarms and dashboard.
# Names come from config/edf_config.yaml (*_base + environment suffix).

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
  glue_wheel  = coalesce(one(fileset(local.glue_wheel_dir, "edf-*-py3-none-any.whl")), "edf-wheel-missing.whl")
  functions   = jsondecode(file("${local.repo_root}/src/edf/packaging/functions.json"))
  db_type     = upper(coalesce(var.forecast_db_type, local.cfg.edf_inference.forecast_db_type))
  storage_cfg = local.cfg.edf_storage
  mon         = local.cfg.edf_monitoring
  lead_edges  = local.mon.lead_bucket_edges_hours
  # LeadBucket dimension values the accuracy monitor emits ("0-24", "24-48", ...).
  lead_buckets = [for i in range(length(local.lead_edges) - 1) : "${local.lead_edges[i]}-${local.lead_edges[i + 1]}"]

  names = {
    get_model_function        = "${local.cfg.lambda_get_model_func_base}-${local.suffix}"
    create_model_function     = "${local.cfg.lambda_create_sm_model_func_base}-${local.suffix}"
    load_function             = "${local.cfg.lambda_load_forecasts_func_base}-${local.suffix}"
    b2b_function              = "${local.cfg.project_name}-edf-b2b-api-${local.suffix}"
    b2c_function              = "${local.cfg.project_name}-edf-b2c-api-${local.suffix}"
    accuracy_function         = "${local.cfg.project_name}-edf-accuracy-monitor-${local.suffix}"
    inference_sfn             = "${local.cfg.edf_inference_sfn_base}-${local.suffix}"
    scheduler                 = "${local.cfg.edf_scheduler_base}-${local.suffix}"
    accuracy_schedule         = "${local.cfg.project_name}-edf-accuracy-monitor-${local.suffix}"
    scheduler_role            = "${local.cfg.project_name}-edf-scheduler-${local.suffix}"
    forecast_db               = "${local.cfg.forecast_db_base}-${local.suffix}"
    dynamodb_table            = "${local.storage_cfg.dynamodb_table_base}-${local.suffix}"
    api                       = "${local.cfg.project_name}-edf-api-${local.suffix}"
    weather_secret            = "${local.cfg.project_name}/edf/weather-provider-api-key-${local.suffix}"
    db_reader_secret          = "${local.cfg.project_name}/edf/forecast-db-reader-${local.suffix}"
    db_writer_secret          = "${local.cfg.project_name}/edf/forecast-db-writer-${local.suffix}"
    db_bootstrap_function     = "${local.cfg.project_name}-edf-db-bootstrap-${local.suffix}"
    kms_alias                 = "${local.cfg.project_name}-edf-inference-${local.suffix}"
    model_package_group       = "${local.cfg.edf_model_package_group_name_base}-${local.suffix}"
    monitoring_prefix         = "${local.cfg.project_name}-edf-${local.suffix}"
    timestream_forecasts      = local.cfg.forecast_table_name
    timestream_recommendation = local.storage_cfg.timestream_recommendations_table
  }

  processed_bucket = coalesce(var.processed_bucket_name, "${local.cfg.processed_bucket_base}-${local.suffix}")
  raw_bucket       = coalesce(var.raw_bucket_name, "${local.cfg.raw_bucket_base}-${local.suffix}")
  scripts_bucket   = coalesce(var.scripts_bucket_name, "${local.cfg.scripts_bucket_base}-${local.suffix}")
  config_uri       = "s3://${local.scripts_bucket}/${var.config_object_key}"
  tenant_registry  = "s3://${local.scripts_bucket}/${var.tenant_registry_object_key}"
  s3_arn           = "arn:${local.partition}:s3:::"
  kms_keys         = concat([module.kms.key_arn], var.data_kms_key_arns)

  arn_prefix_sagemaker = "arn:${local.partition}:sagemaker:${local.region}:${local.account_id}"
  model_package_arns = [
    "${local.arn_prefix_sagemaker}:model-package-group/${local.names.model_package_group}",
    "${local.arn_prefix_sagemaker}:model-package/${lower(local.names.model_package_group)}/*",
    "${local.arn_prefix_sagemaker}:model-package/${local.names.model_package_group}/*",
  ]

  # ---- forecast-store permissions for the configured backend (never all three)
  store_table_arns = compact(concat(
    module.store.timestream_table_arns,
    [module.store.dynamodb_table_arn == null ? "" : module.store.dynamodb_table_arn],
    [module.store.dynamodb_table_arn == null ? "" : "${module.store.dynamodb_table_arn}/index/*"],
  ))
  store_actions = {
    TIMESTREAM = {
      write = ["timestream:WriteRecords", "timestream:Select", "timestream:DescribeTable"]
      read  = ["timestream:Select", "timestream:DescribeTable"]
    }
    DYNAMODB = {
      # BatchGetItem: the buildings' current areas (a write reads them before moving a building; the
      # recommendation read keeps only buildings currently in the asked areas).
      write = ["dynamodb:BatchWriteItem", "dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:Query", "dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:DescribeTable"]
      read  = ["dynamodb:Query", "dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:DescribeTable"]
    }
    RDS = { write = [], read = [] }
  }
  store_common = concat(
    local.db_type == "TIMESTREAM" ? [{
      # Endpoint discovery has no resource-level permission.
      sid       = "TimestreamEndpoints"
      actions   = ["timestream:DescribeEndpoints"]
      resources = ["*"]
    }] : [],
    local.db_type == "RDS" ? [{
      # Database credentials: each function reads only its role's secret (aws_iam_role_policy.db_credentials).
      # Lambda ENIs in the private subnets; these EC2 actions have no resource-level scope.
      sid       = "VpcNetworkInterfaces"
      actions   = ["ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"]
      resources = ["*"]
    }] : [],
  )
  store_write_statements = concat(local.store_common, local.db_type == "RDS" ? [] : [{
    sid       = "ForecastStoreWrite"
    actions   = local.store_actions[local.db_type].write
    resources = local.store_table_arns
  }])
  store_read_statements = concat(local.store_common, local.db_type == "RDS" ? [] : [{
    sid       = "ForecastStoreRead"
    actions   = local.store_actions[local.db_type].read
    resources = local.store_table_arns
  }])
  # ---- least-privilege PostgreSQL roles (edf.storage.pg_roles): the API Lambdas and the accuracy
  # monitor read with the reader role, the load writes with the writer role; only the db_bootstrap
  # Lambda reads the RDS master secret. Secret ARNs by name pattern (Secrets Manager appends 6 chars).
  db_role_secrets = local.db_type == "RDS" ? { reader = local.names.db_reader_secret, writer = local.names.db_writer_secret } : {}
  db_secret_arn   = { for role, name in local.db_role_secrets : role => "arn:${local.partition}:secretsmanager:${local.region}:${local.account_id}:secret:${name}-??????" }
  pg_env = {
    reader = local.db_type == "RDS" ? { EDF_PG_SECRET_ID = local.names.db_reader_secret } : {}
    writer = local.db_type == "RDS" ? { EDF_PG_SECRET_ID = local.names.db_writer_secret } : {}
  }
  db_credential_roles = local.db_type != "RDS" ? {} : merge(
    { load_forecasts = "writer", b2b_api = "reader", b2c_api = "reader" },
    var.enable_accuracy_monitor ? { accuracy_monitor = "reader" } : {},
  )
  vpc_subnets = local.db_type == "RDS" ? var.private_subnet_ids : []
  vpc_sgs     = local.db_type == "RDS" ? [module.store.rds_client_security_group_id] : []

  read_config = {
    sid       = "ReadConfig"
    actions   = ["s3:GetObject"]
    resources = ["${local.s3_arn}${local.scripts_bucket}/${var.config_object_key}"]
  }
  data_keys = {
    sid       = "DataKeys"
    actions   = ["kms:Decrypt"]
    resources = local.kms_keys
  }
  store_env = merge(
    {
      EDF_CONFIG_URI       = local.config_uri
      EDF_FORECAST_DB_TYPE = local.db_type
    },
    local.db_type == "DYNAMODB" ? { EDF_DYNAMODB_TABLE = local.names.dynamodb_table } : {},
  )
  layers_for = { for k, v in local.functions : k => v.pandas_layer ? [var.aws_sdk_pandas_layer_arn] : [] if !startswith(k, "_") }

  tags = {
    Project     = local.cfg.project_name
    Component   = "edf-inference"
    Environment = local.suffix
    ManagedBy   = "terraform"
  }
}

module "kms" {
  source      = "../../modules/kms_key"
  alias       = local.names.kms_alias
  description = "EDF inference stack: forecast store, logs, secrets, Lambda environment"
}

# ---------------------------------------------------------------- forecast store
module "store" {
  source                = "../../modules/forecast_store"
  db_type               = local.db_type
  name                  = local.names.forecast_db
  timestream_tables     = [local.names.timestream_forecasts, local.names.timestream_recommendation]
  dynamodb_table_name   = local.names.dynamodb_table
  kms_key_arn           = module.kms.key_arn
  retention_days        = var.forecast_retention_days
  rejected_data_bucket  = local.processed_bucket
  deletion_protection   = var.store_deletion_protection
  vpc_id                = var.vpc_id
  vpc_cidr              = var.vpc_cidr
  private_subnet_ids    = var.private_subnet_ids
  rds_db_name           = local.storage_cfg.postgres.dbname
  rds_role_secret_names = local.db_role_secrets
}

resource "aws_secretsmanager_secret" "weather_api_key" {
  # checkov:skip=CKV2_AWS_57: a third-party provider's API key; it is rotated in the provider's portal, so a rotation Lambda has nothing to call
  name        = local.names.weather_secret
  description = "API key of the weather-forecast provider (set the value with put-secret-value; never in Terraform state)"
  kms_key_id  = module.kms.key_arn
}

# ---------------------------------------------------------------- pipeline Lambdas
module "get_approved_model" {
  source             = "../../modules/lambda_function"
  function_name      = local.names.get_model_function
  description        = "GetApprovedEDFModelPackage: newest Approved package of the EDF group"
  zip_path           = "${local.zip_dir}/get_approved_model.zip"
  source_code_hash   = filebase64sha256("${local.zip_dir}/get_approved_model.zip")
  memory_mb          = local.cfg.lambda_shared.get_model_memory
  timeout_seconds    = local.cfg.lambda_shared.get_model_timeout
  kms_key_arn        = module.kms.key_arn
  layers             = local.layers_for.get_approved_model
  log_retention_days = var.log_retention_days
  environment = {
    EDF_CONFIG_URI          = local.config_uri
    EDF_MODEL_PACKAGE_GROUP = local.names.model_package_group
  }
  policy_statements = [
    {
      sid       = "ReadRegistry"
      actions   = ["sagemaker:ListModelPackages", "sagemaker:DescribeModelPackage", "sagemaker:DescribeModelPackageGroup"]
      resources = local.model_package_arns
    },
    local.read_config,
  ]
}

module "create_sagemaker_model" {
  source             = "../../modules/lambda_function"
  function_name      = local.names.create_model_function
  description        = "CreateEDFSageMakerModel: SageMaker Model resource of the approved package"
  zip_path           = "${local.zip_dir}/create_sagemaker_model.zip"
  source_code_hash   = filebase64sha256("${local.zip_dir}/create_sagemaker_model.zip")
  memory_mb          = local.cfg.lambda_shared.create_sm_model_memory
  timeout_seconds    = local.cfg.lambda_shared.create_sm_model_timeout
  kms_key_arn        = module.kms.key_arn
  layers             = local.layers_for.create_sagemaker_model
  log_retention_days = var.log_retention_days
  environment = {
    EDF_CONFIG_URI         = local.config_uri
    EDF_SAGEMAKER_ROLE_ARN = var.sagemaker_execution_role_arn
  }
  policy_statements = [
    {
      sid       = "CreateModel"
      actions   = ["sagemaker:CreateModel", "sagemaker:DescribeModel", "sagemaker:AddTags"]
      resources = ["${local.arn_prefix_sagemaker}:model/edf-model-*"]
    },
    {
      sid       = "ReadPackage"
      actions   = ["sagemaker:DescribeModelPackage"]
      resources = local.model_package_arns
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
      resources = [var.sagemaker_execution_role_arn]
      condition = { StringEquals = { "iam:PassedToService" = ["sagemaker.amazonaws.com"] } }
    },
    local.read_config,
  ]
}

module "load_forecasts" {
  source             = "../../modules/lambda_function"
  function_name      = local.names.load_function
  description        = "LoadForecastsToDB: forecasts + recommendations Parquet -> ${local.db_type} (idempotent per run)"
  zip_path           = "${local.zip_dir}/load_forecasts.zip"
  source_code_hash   = filebase64sha256("${local.zip_dir}/load_forecasts.zip")
  memory_mb          = local.cfg.edf_inference.load_forecasts_lambda_memory
  timeout_seconds    = local.cfg.edf_inference.load_forecasts_lambda_timeout
  kms_key_arn        = module.kms.key_arn
  layers             = local.layers_for.load_forecasts
  log_retention_days = var.log_retention_days
  subnet_ids         = local.vpc_subnets
  security_group_ids = local.vpc_sgs
  environment        = merge(local.store_env, local.pg_env.writer)
  policy_statements = concat(local.store_write_statements, [
    {
      sid       = "ReadRunOutputs"
      actions   = ["s3:GetObject", "s3:ListBucket"]
      resources = ["${local.s3_arn}${local.processed_bucket}", "${local.s3_arn}${local.processed_bucket}/forecast-output/*"]
    },
    local.read_config,
    local.data_keys,
  ])
}

# ---------------------------------------------------------------- API Lambdas
module "api_function" {
  for_each           = toset(["b2b_api", "b2c_api"])
  source             = "../../modules/lambda_function"
  function_name      = each.key == "b2b_api" ? local.names.b2b_function : local.names.b2c_function
  description        = each.key == "b2b_api" ? "EDF B2B API (API key + usage plan)" : "EDF B2C API (Cognito residents)"
  zip_path           = "${local.zip_dir}/${each.key}.zip"
  source_code_hash   = filebase64sha256("${local.zip_dir}/${each.key}.zip")
  memory_mb          = var.lambda_memory_mb[each.key]
  timeout_seconds    = var.lambda_timeout_seconds[each.key]
  kms_key_arn        = module.kms.key_arn
  layers             = local.layers_for[each.key]
  log_retention_days = var.log_retention_days
  subnet_ids         = local.vpc_subnets
  security_group_ids = local.vpc_sgs
  environment = merge(local.store_env, local.pg_env.reader, {
    EDF_TENANT_REGISTRY     = local.tenant_registry
    POWERTOOLS_SERVICE_NAME = "edf-${replace(each.key, "_", "-")}"
  })
  policy_statements = concat(local.store_read_statements, [
    {
      sid       = "ReadConfigAndTenants"
      actions   = ["s3:GetObject"]
      resources = ["${local.s3_arn}${local.scripts_bucket}/${var.config_object_key}", "${local.s3_arn}${local.scripts_bucket}/${var.tenant_registry_object_key}"]
    },
    local.data_keys,
    # B2C only: a resident's fallback time zone is the building's topology zone (edf.serving.zones).
    ], [for statement in [{
      sid       = "ReadTopology"
      actions   = ["s3:GetObject", "s3:ListBucket"]
      resources = ["${local.s3_arn}${local.raw_bucket}", "${local.s3_arn}${local.raw_bucket}/edf-inputs/calendar-topology/*"]
  }] : statement if each.key == "b2c_api"])
}

# ---------------------------------------------------------------- accuracy monitor
module "accuracy_monitor" {
  count              = var.enable_accuracy_monitor ? 1 : 0
  source             = "../../modules/lambda_function"
  function_name      = local.names.accuracy_function
  description        = "Scores stored forecasts against actuals; EMF metrics EDF/Accuracy; drift-triggered retraining"
  zip_path           = "${local.zip_dir}/accuracy_monitor.zip"
  source_code_hash   = filebase64sha256("${local.zip_dir}/accuracy_monitor.zip")
  memory_mb          = var.lambda_memory_mb.accuracy_monitor
  timeout_seconds    = var.lambda_timeout_seconds.accuracy_monitor
  kms_key_arn        = module.kms.key_arn
  layers             = local.layers_for.accuracy_monitor
  log_retention_days = var.log_retention_days
  subnet_ids         = local.vpc_subnets
  security_group_ids = local.vpc_sgs
  environment = merge(local.store_env, local.pg_env.reader, {
    EDF_TRAINING_STATE_MACHINE_ARN = var.training_state_machine_arn
    EDF_ALERTS_TOPIC_ARN           = var.alerts_topic_arn
    POWERTOOLS_SERVICE_NAME        = "edf-accuracy-monitor"
    POWERTOOLS_METRICS_NAMESPACE   = local.mon.metrics_namespace
  })
  policy_statements = concat(local.store_read_statements, [
    {
      # Issued forecasts (forecast-output/), actuals (processed_edf_data/), its own reports and
      # drift state (accuracy/), and the topology for grid areas (raw edf-inputs/).
      sid     = "ReadForecastsActualsTopology"
      actions = ["s3:GetObject", "s3:ListBucket"]
      resources = [
        "${local.s3_arn}${local.processed_bucket}",
        "${local.s3_arn}${local.processed_bucket}/processed_edf_data/*",
        "${local.s3_arn}${local.processed_bucket}/forecast-output/*",
        "${local.s3_arn}${local.processed_bucket}/accuracy/*",
        "${local.s3_arn}${local.raw_bucket}",
        "${local.s3_arn}${local.raw_bucket}/edf-inputs/*",
      ]
    },
    {
      sid       = "WriteAccuracyReports"
      actions   = ["s3:PutObject"]
      resources = ["${local.s3_arn}${local.processed_bucket}/accuracy/*"]
    },
    {
      sid       = "StartRetraining"
      actions   = ["states:StartExecution", "states:ListExecutions"]
      resources = [var.training_state_machine_arn]
    },
    {
      sid       = "Alert"
      actions   = ["sns:Publish"]
      resources = [var.alerts_topic_arn]
    },
    {
      sid       = "AlertTopicKey"
      actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
      resources = [var.training_kms_key_arn]
    },
    local.read_config,
    local.data_keys,
  ])
}

# ---------------------------------------------------------------- inference feature job (AWS Glue 5.0)
module "features_job" {
  source                    = "../../modules/glue_features_job"
  job_name                  = "${local.cfg.edf_spark.features_job_base}-inference-${local.suffix}"
  mode                      = "inference"
  glue_version              = local.cfg.edf_spark.glue_version
  worker_type               = local.cfg.edf_spark.inference.worker_type
  number_of_workers         = local.cfg.edf_spark.inference.number_of_workers
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

# ---------------------------------------------------------------- database roles (RDS only)
locals {
  db_role_of_function = {
    load_forecasts   = module.load_forecasts.role_name
    b2b_api          = module.api_function["b2b_api"].role_name
    b2c_api          = module.api_function["b2c_api"].role_name
    accuracy_monitor = var.enable_accuracy_monitor ? module.accuracy_monitor[0].role_name : ""
  }
}

resource "aws_iam_role_policy" "db_credentials" {
  for_each = local.db_credential_roles
  name     = "${local.db_role_of_function[each.key]}-db-${each.value}"
  role     = local.db_role_of_function[each.key]
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid      = "DatabaseCredentials${title(each.value)}"
      Effect   = "Allow"
      Action   = ["secretsmanager:GetSecretValue"]
      Resource = [local.db_secret_arn[each.value]]
    }]
  })
}

# The one-shot migration (edf.storage.pg_bootstrap.handle_bootstrap): schema, reader and writer roles,
# their grants and passwords. The only holder of the RDS master secret; invoked by Terraform once
# per database (re-invoke it to rotate both role passwords).
module "db_bootstrap" {
  count              = local.db_type == "RDS" ? 1 : 0
  source             = "../../modules/lambda_function"
  function_name      = local.names.db_bootstrap_function
  description        = "Creates the forecast schema and the least-privilege PostgreSQL roles; writes their secrets"
  zip_path           = "${local.zip_dir}/db_bootstrap.zip"
  source_code_hash   = filebase64sha256("${local.zip_dir}/db_bootstrap.zip")
  memory_mb          = 256
  timeout_seconds    = 120
  kms_key_arn        = module.kms.key_arn
  layers             = local.layers_for.db_bootstrap
  log_retention_days = var.log_retention_days
  subnet_ids         = local.vpc_subnets
  security_group_ids = local.vpc_sgs
  environment = {
    EDF_CONFIG_URI          = local.config_uri
    EDF_PG_MASTER_SECRET_ID = coalesce(module.store.rds_secret_arn, "none")
    EDF_PG_READER_SECRET_ID = local.names.db_reader_secret
    EDF_PG_WRITER_SECRET_ID = local.names.db_writer_secret
    EDF_PG_HOST             = coalesce(module.store.rds_endpoint, "none")
    EDF_PG_PORT             = tostring(coalesce(module.store.rds_port, 5432))
    EDF_PG_DBNAME           = local.storage_cfg.postgres.dbname
    EDF_PG_SCHEMA           = local.storage_cfg.postgres.schema_name
    EDF_FORECAST_DB_TYPE    = local.db_type
  }
  policy_statements = concat(local.store_common, [
    {
      sid       = "MasterCredentials"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = [coalesce(module.store.rds_secret_arn, "none")]
    },
    {
      sid       = "WriteRoleCredentials"
      actions   = ["secretsmanager:PutSecretValue"]
      resources = values(local.db_secret_arn)
    },
    {
      sid       = "SecretKeys"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [module.kms.key_arn]
    },
    local.read_config,
  ])
}

resource "aws_lambda_invocation" "db_bootstrap" {
  count         = local.db_type == "RDS" ? 1 : 0
  function_name = module.db_bootstrap[0].function_name
  input         = jsonencode({ action = "bootstrap" })
  triggers = {
    database = module.store.rds_endpoint
    secrets  = join(",", values(module.store.rds_role_secret_arns))
  }
}

# ---------------------------------------------------------------- inference workflow
module "inference_workflow" {
  source      = "../../modules/state_machine"
  name        = local.names.inference_sfn
  kms_key_arn = module.kms.key_arn
  definition = templatefile("${local.repo_root}/pipelines/inference.asl.json", {
    alerts_topic_arn                    = var.alerts_topic_arn
    config_uri                          = local.config_uri
    create_sagemaker_model_function_arn = module.create_sagemaker_model.arn
    features_inference_job_name         = module.features_job.job_name
    forecast_horizon_hours              = local.cfg.edf_inference.forecast_horizon_hours
    forecast_instance_count             = local.cfg.edf_inference.forecast_gen_instance_count
    forecast_instance_type              = local.cfg.edf_inference.forecast_gen_instance_type
    get_approved_model_function_arn     = module.get_approved_model.arn
    job_volume_size_gb                  = var.job_volume_size_gb
    load_forecasts_function_arn         = module.load_forecasts.arn
    max_runtime_seconds                 = local.cfg.edf_training.max_runtime_seconds
    model_package_group_name            = local.names.model_package_group
    origin_hour_utc                     = format("%02d", local.cfg.edf_feature_eng.origin_hour_utc)
    processed_bucket                    = local.processed_bucket
    raw_bucket                          = local.raw_bucket
    sagemaker_role_arn                  = var.sagemaker_execution_role_arn
  })
  log_retention_days = var.log_retention_days
  policy_statements = [
    {
      sid       = "RunJobs"
      actions   = ["sagemaker:CreateProcessingJob", "sagemaker:DescribeProcessingJob", "sagemaker:StopProcessingJob", "sagemaker:AddTags"]
      resources = ["${local.arn_prefix_sagemaker}:processing-job/edf-*"]
    },
    {
      sid       = "PassJobRole"
      actions   = ["iam:PassRole"]
      resources = [var.sagemaker_execution_role_arn]
      condition = { StringEquals = { "iam:PassedToService" = ["sagemaker.amazonaws.com"] } }
    },
    {
      sid       = "SyncIntegrationRule"
      actions   = ["events:PutTargets", "events:PutRule", "events:DescribeRule"]
      resources = ["arn:${local.partition}:events:${local.region}:${local.account_id}:rule/StepFunctionsGetEventsForSageMakerProcessingJobsRule"]
    },
    {
      sid     = "InvokeLambdas"
      actions = ["lambda:InvokeFunction"]
      resources = flatten([for arn in [module.get_approved_model.arn, module.create_sagemaker_model.arn, module.load_forecasts.arn] :
      [arn, "${arn}:*"]])
    },
    {
      sid       = "NotifyAlerts"
      actions   = ["sns:Publish"]
      resources = [var.alerts_topic_arn]
    },
    {
      sid       = "AlertTopicKey"
      actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
      resources = [var.training_kms_key_arn]
    },
    {
      # WriteGridConditionsEDF: the run's grid conditions reach the optimize job as an S3 object.
      sid       = "WriteRunInputs"
      actions   = ["s3:PutObject"]
      resources = ["${local.s3_arn}${local.processed_bucket}/run-inputs/*"]
    },
    {
      sid       = "RunInputKeys"
      actions   = ["kms:GenerateDataKey"]
      resources = local.kms_keys
    },
  ]
}

# ---------------------------------------------------------------- schedules
resource "aws_iam_role" "scheduler" {
  name = local.names.scheduler_role
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "scheduler.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = { StringEquals = { "aws:SourceAccount" = local.account_id } }
    }]
  })
}

resource "aws_iam_role_policy" "scheduler" {
  name = "${local.names.scheduler_role}-policy"
  role = aws_iam_role.scheduler.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(
      [{
        Sid      = "StartInference"
        Effect   = "Allow"
        Action   = ["states:StartExecution"]
        Resource = [module.inference_workflow.arn]
        }, {
        # The schedules and the dead-letter queue are encrypted with the stack key; Scheduler
        # decrypts the schedules and encrypts dead letters as this role.
        Sid      = "ScheduleKey"
        Effect   = "Allow"
        Action   = ["kms:Decrypt", "kms:GenerateDataKey"]
        Resource = [module.kms.key_arn]
        }, {
        Sid      = "DeadLetters"
        Effect   = "Allow"
        Action   = ["sqs:SendMessage"]
        Resource = [aws_sqs_queue.scheduler_dlq.arn]
      }],
      var.enable_accuracy_monitor ? [{
        Sid      = "RunAccuracyMonitor"
        Effect   = "Allow"
        Action   = ["lambda:InvokeFunction"]
        Resource = [module.accuracy_monitor[0].arn]
      }] : [],
    )
  })
}

# Invocations the Scheduler could not deliver after its retries (StartExecution throttled, role or
# key misconfigured, state machine deleted) land here instead of vanishing; an alarm watches it.
resource "aws_sqs_queue" "scheduler_dlq" {
  name                              = "${local.names.scheduler}-dlq"
  kms_master_key_id                 = module.kms.key_arn
  kms_data_key_reuse_period_seconds = 300
  message_retention_seconds         = 1209600 # 14 days, the SQS maximum: time to inspect and replay
  tags                              = local.tags
}

resource "aws_sqs_queue_policy" "scheduler_dlq" {
  queue_url = aws_sqs_queue.scheduler_dlq.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "DenyInsecureTransport"
      Effect    = "Deny"
      Principal = "*"
      Action    = "sqs:*"
      Resource  = aws_sqs_queue.scheduler_dlq.arn
      Condition = { Bool = { "aws:SecureTransport" = "false" } }
    }]
  })
}

resource "aws_scheduler_schedule" "daily_inference" {
  name                         = local.names.scheduler
  description                  = "Daily EDF inference (${local.cfg.edf_inference.scheduler_expression} ${local.cfg.edf_inference.scheduler_timezone})"
  schedule_expression          = local.cfg.edf_inference.scheduler_expression
  schedule_expression_timezone = local.cfg.edf_inference.scheduler_timezone
  kms_key_arn                  = module.kms.key_arn

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = module.inference_workflow.arn
    role_arn = aws_iam_role.scheduler.arn
    # Empty input: GetInferenceDate takes the origin from the execution start time.
    input = jsonencode({})

    retry_policy {
      maximum_retry_attempts = 2
    }

    dead_letter_config {
      arn = aws_sqs_queue.scheduler_dlq.arn
    }
  }
}

resource "aws_scheduler_schedule" "accuracy_monitor" {
  count                        = var.enable_accuracy_monitor ? 1 : 0
  name                         = local.names.accuracy_schedule
  description                  = "Daily forecast-accuracy scoring"
  schedule_expression          = local.mon.scheduler_expression
  schedule_expression_timezone = local.cfg.edf_inference.scheduler_timezone
  kms_key_arn                  = module.kms.key_arn

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = module.accuracy_monitor[0].arn
    role_arn = aws_iam_role.scheduler.arn
    input    = jsonencode({})

    retry_policy {
      maximum_retry_attempts = 2
    }

    dead_letter_config {
      arn = aws_sqs_queue.scheduler_dlq.arn
    }
  }
}

# ---------------------------------------------------------------- REST API
module "api" {
  source                = "../../modules/rest_api"
  name                  = local.names.api
  openapi_template_path = "${local.repo_root}/src/edf/serving/openapi.yaml"
  openapi_template_vars = {
    api_title             = local.names.api
    b2b_lambda_invoke_arn = module.api_function["b2b_api"].invoke_arn
    b2c_lambda_invoke_arn = module.api_function["b2c_api"].invoke_arn
  }
  stage_name                     = var.api_stage_name
  kms_key_arn                    = module.kms.key_arn
  log_retention_days             = var.log_retention_days
  stage_throttle_rate_limit      = var.api_stage_throttle.rate_limit
  stage_throttle_burst_limit     = var.api_stage_throttle.burst_limit
  usage_plans                    = var.usage_plans
  b2b_clients                    = var.b2b_clients
  building_claim                 = local.cfg.edf_serving.building_claim
  manage_account_logging_role    = var.manage_apigateway_account_role
  cognito_advanced_security_mode = var.cognito_advanced_security_mode
  lambda_function_names = {
    b2b = module.api_function["b2b_api"].function_name
    b2c = module.api_function["b2c_api"].function_name
  }
}

# ---------------------------------------------------------------- alarms + dashboard
module "monitoring" {
  source           = "../../modules/monitoring"
  name_prefix      = local.names.monitoring_prefix
  alerts_topic_arn = var.alerts_topic_arn
  state_machine_arns = {
    inference = module.inference_workflow.arn
    training  = var.training_state_machine_arn
  }
  lambda_function_names = merge(
    {
      get_approved_model     = module.get_approved_model.function_name
      create_sagemaker_model = module.create_sagemaker_model.function_name
      load_forecasts         = module.load_forecasts.function_name
      b2b_api                = module.api_function["b2b_api"].function_name
      b2c_api                = module.api_function["b2c_api"].function_name
    },
    var.enable_accuracy_monitor ? { accuracy_monitor = module.accuracy_monitor[0].function_name } : {},
    local.weather_enabled ? { weather_fetcher = module.weather_fetcher[0].function_name } : {},
  )
  api_name           = local.names.api
  api_stage          = module.api.stage_name
  api_p99_latency_ms = var.api_p99_latency_ms
  accuracy_namespace = local.mon.metrics_namespace
  serving_namespace  = local.cfg.edf_serving.metrics_namespace
  lead_buckets       = local.lead_buckets
  # The daily run: succeeded by the deadline hour, inputs fresh, schedule delivered.
  daily_state_machine_arn      = module.inference_workflow.arn
  success_deadline_hour_utc    = local.cfg.edf_inference.alarms.success_deadline_hour_utc
  inputs_namespace             = local.cfg.edf_inference.alarms.metrics_namespace
  environment                  = local.suffix
  processed_data_max_age_hours = local.cfg.edf_inference.alarms.processed_data_max_age_hours
  dead_letter_queue_names      = { scheduler = aws_sqs_queue.scheduler_dlq.name }
  # The drift policy's bad-day thresholds: an alarm fires on the first bad day, retraining after N.
  max_cv_rmse_pct = local.mon.drift.max_cv_rmse_pct
  min_coverage    = local.mon.drift.min_coverage
  max_coverage    = local.mon.drift.max_coverage
  # the weather fetcher's alarms (modules/monitoring/weather.tf)
  weather_namespace      = local.weather_enabled ? local.weather.metrics_namespace : null
  weather_environment    = local.suffix
  weather_max_age_hours  = local.weather.freshness.max_age_hours
  weather_error_rate_pct = local.weather.alarm_error_rate_pct
  weather_latency_p90_ms = local.weather.alarm_latency_p90_ms
}
