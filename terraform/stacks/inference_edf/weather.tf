# The weather-forecast fetcher (docs/weather.md): a scheduled Lambda that asks the provider once per
# grid cell of the topology and writes validated Parquet under edf-inputs/weather-forecast/, and its
# schedule. A scheduled Lambda rather than a first state of the inference workflow: forecasts keep
# arriving (four issues a day) whether or not inference runs, a provider outage at 05:00 does not
# stop the day's inference (the freshness rule decides), and fetch failures alarm on their own.
# Alarms and dashboard widgets are in modules/monitoring/weather.tf.

locals {
  weather         = local.cfg.edf_weather
  weather_enabled = var.enable_weather_fetcher
  # s3_raw_weather_fcst_path / s3_raw_calendar_path are "s3://{raw_bucket}/<prefix>" in the config
  weather_prefix  = trimprefix(local.cfg.s3_raw_weather_fcst_path, "s3://{raw_bucket}/")
  topology_prefix = trimprefix(local.cfg.s3_raw_calendar_path, "s3://{raw_bucket}/")
  weather_keyed   = local.weather.provider == "open_meteo_customer"
  weather_names = {
    function = "${local.weather.fetcher_function_base}-${local.suffix}"
    schedule = "${local.weather.schedule_base}-${local.suffix}"
  }
}

module "weather_fetcher" {
  count              = local.weather_enabled ? 1 : 0
  source             = "../../modules/lambda_function"
  function_name      = local.weather_names.function
  description        = "Weather forecasts (${local.weather.provider}): one request per grid cell -> ${local.weather_prefix}"
  zip_path           = "${local.zip_dir}/weather_fetcher.zip"
  source_code_hash   = filebase64sha256("${local.zip_dir}/weather_fetcher.zip")
  memory_mb          = local.weather.lambda_memory
  timeout_seconds    = local.weather.lambda_timeout
  kms_key_arn        = module.kms.key_arn
  layers             = local.layers_for.weather_fetcher
  log_retention_days = var.log_retention_days
  environment = {
    EDF_CONFIG_URI = local.config_uri
    # only the secret's id travels; the key is read at run time and never logged
    EDF_WEATHER_SECRET_ID        = aws_secretsmanager_secret.weather_api_key.arn
    EDF_ENVIRONMENT              = local.suffix
    POWERTOOLS_SERVICE_NAME      = "edf-weather-fetcher"
    POWERTOOLS_METRICS_NAMESPACE = local.weather.metrics_namespace
  }
  policy_statements = concat([
    {
      # listing only the two prefixes it reads: the topology and its own output (newest issue age)
      sid       = "ListInputs"
      actions   = ["s3:ListBucket"]
      resources = ["${local.s3_arn}${local.raw_bucket}"]
      condition = { StringLike = { "s3:prefix" = ["${local.topology_prefix}*", "${local.weather_prefix}*"] } }
    },
    {
      sid       = "ReadTopology"
      actions   = ["s3:GetObject"]
      resources = ["${local.s3_arn}${local.raw_bucket}/${local.topology_prefix}*"]
    },
    {
      sid       = "WriteForecasts"
      actions   = ["s3:PutObject"]
      resources = ["${local.s3_arn}${local.raw_bucket}/${local.weather_prefix}*"]
    },
    local.read_config,
    {
      # the raw bucket's SSE-KMS key: read the topology, encrypt what it writes
      sid       = "DataKeys"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = local.kms_keys
    },
    ], local.weather_keyed ? [{
      sid       = "ProviderKey"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = [aws_secretsmanager_secret.weather_api_key.arn]
  }] : [])
}

# Scheduler invokes asynchronously; Lambda would retry a failed fetch twice more on its own. One
# retry is enough (each spends the provider's request budget), and a fetch an hour late is replaced
# by the next scheduled one.
resource "aws_lambda_function_event_invoke_config" "weather_fetcher" {
  count                        = local.weather_enabled ? 1 : 0
  function_name                = module.weather_fetcher[0].function_name
  maximum_retry_attempts       = 1
  maximum_event_age_in_seconds = 3600
}

resource "aws_iam_role_policy" "scheduler_weather" {
  count = local.weather_enabled ? 1 : 0
  name  = "${local.names.scheduler_role}-weather"
  role  = aws_iam_role.scheduler.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid      = "RunWeatherFetcher"
      Effect   = "Allow"
      Action   = ["lambda:InvokeFunction"]
      Resource = [module.weather_fetcher[0].arn]
    }]
  })
}

resource "aws_scheduler_schedule" "weather_fetch" {
  count                        = local.weather_enabled ? 1 : 0
  name                         = local.weather_names.schedule
  description                  = "Weather forecasts (${local.weather.schedule_expression} UTC); the last run before each inference origin feeds it"
  schedule_expression          = local.weather.schedule_expression
  schedule_expression_timezone = "UTC"
  kms_key_arn                  = module.kms.key_arn

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = module.weather_fetcher[0].arn
    role_arn = aws_iam_role.scheduler.arn
    # Empty input: the run's issue time is when it runs.
    input = jsonencode({})

    retry_policy {
      maximum_retry_attempts = 2
    }

    # An invocation the Scheduler cannot deliver lands in the stack's scheduler DLQ (alarmed), like the other schedules.
    dead_letter_config {
      arn = aws_sqs_queue.scheduler_dlq.arn
    }
  }
}
