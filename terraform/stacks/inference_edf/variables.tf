variable "config_path" {
  description = "EDF config read for names and sizes (the same file CD uploads to S3)."
  type        = string
  default     = null
}

variable "env_suffix" {
  description = "Environment suffix appended to every *_base name (dev, prod); null = config env_suffix."
  type        = string
  default     = null
}

variable "aws_max_retries" {
  description = "AWS provider retry budget."
  type        = number
  default     = 25
}

variable "processed_bucket_name" {
  description = "Processed-zone bucket from the ingestion stack; null = config processed_bucket_base + suffix."
  type        = string
  default     = null
}

variable "raw_bucket_name" {
  description = "Raw-zone bucket from the ingestion stack; null = config raw_bucket_base + suffix."
  type        = string
  default     = null
}

variable "scripts_bucket_name" {
  description = "Scripts bucket from the ingestion stack (CD uploads the config there); null = config scripts_bucket_base + suffix."
  type        = string
  default     = null
}

variable "data_kms_key_arns" {
  description = "KMS keys of the ingestion buckets (their SSE-KMS keys) that jobs and Lambdas must decrypt with."
  type        = list(string)
  default     = []
}

variable "config_object_key" {
  description = "Key of the config object in the scripts bucket (CD uploads config/edf_config.yaml there)."
  type        = string
  default     = "config/edf_config.yaml"
}

variable "glue_wheel_dir" {
  description = "Directory holding the edf wheel (edf-<version>-py3-none-any.whl) of the Glue feature job; default build/glue."
  type        = string
  default     = null
}

variable "lambda_zip_dir" {
  description = "Directory of the zips `make package` builds."
  type        = string
  default     = null
}

variable "log_retention_days" {
  description = "Retention of every log group."
  type        = number
  default     = 365
}

variable "force_destroy" {
  description = "Allow destroying the ECR repository and model package group with content (test environments only)."
  type        = bool
  default     = false
}

variable "aws_sdk_pandas_layer_arn" {
  description = "ARN of the AWS SDK for pandas managed layer (Python 3.11, x86_64) for functions marked pandas_layer in src/edf/packaging/functions.json; see https://aws-sdk-pandas.readthedocs.io/en/stable/layers.html"
  type        = string
}

variable "sagemaker_execution_role_arn" {
  description = "Role of the SageMaker jobs (training_edf output sagemaker_execution_role_arn)."
  type        = string
}

variable "alerts_topic_arn" {
  description = "EDF alerts topic (training_edf output alerts_topic_arn)."
  type        = string
}

variable "training_state_machine_arn" {
  description = "EDFTrainingWorkflow (training_edf output); the accuracy monitor starts it on persistent drift."
  type        = string
}

variable "training_kms_key_arn" {
  description = "Training stack key (training_edf output kms_key_arn): the alerts topic is encrypted with it."
  type        = string
}

variable "forecast_db_type" {
  description = "Override of config edf_inference.forecast_db_type (TIMESTREAM | DYNAMODB | RDS); null = config."
  type        = string
  default     = null
}

variable "forecast_retention_days" {
  description = "How long stored forecasts are kept (Timestream magnetic store)."
  type        = number
  default     = 730
}

variable "store_deletion_protection" {
  description = "Deletion protection of the forecast table/instance (false only for throw-away environments)."
  type        = bool
  default     = true
}

variable "vpc_id" {
  description = "VPC for RDS (forecast_db_type = RDS)."
  type        = string
  default     = ""
}

variable "vpc_cidr" {
  description = "CIDR of that VPC (RDS)."
  type        = string
  default     = ""
}

variable "private_subnet_ids" {
  description = "Private subnets for RDS and the Lambdas that reach it (RDS)."
  type        = list(string)
  default     = []
}

variable "job_volume_size_gb" {
  description = "EBS volume of each SageMaker job."
  type        = number
  default     = 30
}

variable "tenant_registry_object_key" {
  description = "Key (scripts bucket) of the tenant registry JSON the APIs authorize with."
  type        = string
  default     = "config/tenants.json"
}

variable "api_stage_name" {
  description = "API stage."
  type        = string
  default     = "v1"
}

variable "api_stage_throttle" {
  description = "Stage-wide throttle (requests/s and burst)."
  type = object({
    rate_limit  = number
    burst_limit = number
  })
  default = { rate_limit = 100, burst_limit = 200 }
}

variable "usage_plans" {
  description = "B2B usage plans: per-key throttle and quota."
  type = map(object({
    rate_limit   = number
    burst_limit  = number
    quota_limit  = number
    quota_period = string
  }))
  default = {
    standard = { rate_limit = 10, burst_limit = 20, quota_limit = 50000, quota_period = "MONTH" }
    premium  = { rate_limit = 50, burst_limit = 100, quota_limit = 500000, quota_period = "MONTH" }
  }
}

variable "b2b_clients" {
  description = "B2B clients that get an API key, mapped to a usage plan name."
  type        = map(string)
  default     = {}
}

variable "manage_apigateway_account_role" {
  description = "Create the account-level API Gateway CloudWatch role (an account singleton; false if another stack owns it)."
  type        = bool
  default     = true
}

variable "api_p99_latency_ms" {
  description = "p99 latency alarm threshold."
  type        = number
  default     = 2000
}

variable "enable_accuracy_monitor" {
  description = "Deploy the accuracy monitor Lambda and its schedule (needs lambdas/accuracy_monitor)."
  type        = bool
  default     = true
}

variable "lambda_memory_mb" {
  description = "Memory of the API and accuracy-monitor Lambdas (the config sizes the pipeline Lambdas)."
  type        = map(number)
  default     = { b2b_api = 512, b2c_api = 512, accuracy_monitor = 1024 }
}

variable "lambda_timeout_seconds" {
  description = "Timeouts of the API and accuracy-monitor Lambdas (API Gateway stops waiting at 29 s)."
  type        = map(number)
  default     = { b2b_api = 29, b2c_api = 29, accuracy_monitor = 600 }
}

variable "cognito_advanced_security_mode" {
  description = "Cognito threat protection for residents: OFF, AUDIT or ENFORCED. AUDIT/ENFORCED put the user pool on the Plus feature plan (billed per monthly active user); set ENFORCED wherever the account allows it (docs/security.md)."
  type        = string
  default     = "OFF"

  validation {
    condition     = contains(["OFF", "AUDIT", "ENFORCED"], var.cognito_advanced_security_mode)
    error_message = "cognito_advanced_security_mode must be OFF, AUDIT or ENFORCED."
  }
}

variable "enable_weather_fetcher" {
  description = "Deploy the weather-forecast fetcher and its schedule (false when ingestion already fills edf-inputs/weather-forecast/)."
  type        = bool
  default     = true
}
