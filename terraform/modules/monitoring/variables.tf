variable "name_prefix" {
  description = "Prefix of alarm and dashboard names (carries the environment suffix)."
  type        = string
}

variable "alerts_topic_arn" {
  description = "SNS topic alarms notify (alarm and OK transitions)."
  type        = string
}

variable "state_machine_arns" {
  description = "State machines to watch, by short name."
  type        = map(string)
}

variable "lambda_function_names" {
  description = "Lambda functions to watch, by short name."
  type        = map(string)
}

variable "api_name" {
  description = "REST API name (the ApiName metric dimension)."
  type        = string
}

variable "api_stage" {
  description = "REST API stage."
  type        = string
}

variable "api_5xx_threshold" {
  description = "5XX responses per 5 minutes that raise the alarm."
  type        = number
  default     = 0
}

variable "api_p99_latency_ms" {
  description = "p99 latency (ms) above which the API alarm fires."
  type        = number
}

variable "serving_namespace" {
  description = "CloudWatch namespace of the API Lambdas' EMF metrics (config edf_serving.metrics_namespace)."
  type        = string
  default     = "EDF/Serving"
}

variable "accuracy_namespace" {
  description = "CloudWatch namespace of the accuracy monitor's EMF metrics."
  type        = string
  default     = "EDF/Accuracy"
}

variable "lead_buckets" {
  description = "LeadBucket dimension values the accuracy monitor emits (one dashboard widget each)."
  type        = list(string)
}

variable "max_cv_rmse_pct" {
  default     = null
  description = "CV(RMSE) % above which accuracy is degraded. Null disables the alarm."
  type        = number
}

variable "min_coverage" {
  default     = null
  description = "Lowest acceptable interval coverage. Null disables the alarm."
  type        = number
}

variable "max_coverage" {
  default     = null
  description = "Highest acceptable interval coverage. Null disables the alarm."
  type        = number
}

variable "tags" {
  description = "Tags."
  type        = map(string)
  default     = {}
}

variable "weather_namespace" {
  description = "CloudWatch namespace of the weather fetcher's EMF metrics; null: no fetcher, no weather alarms."
  type        = string
  default     = null
}

variable "weather_environment" {
  description = "Environment dimension value the fetcher emits (the env suffix)."
  type        = string
  default     = ""
}

variable "weather_max_age_hours" {
  description = "Newest-forecast age (h) above which the age alarm fires (edf_weather.freshness.max_age_hours)."
  type        = number
  default     = 12
}

variable "weather_error_rate_pct" {
  description = "Failed provider requests per hour, in % of requests, above which the alarm fires."
  type        = number
  default     = 20
}

variable "weather_latency_p90_ms" {
  description = "Provider p90 latency (ms) above which the alarm fires."
  type        = number
  default     = 5000
}

variable "daily_state_machine_arn" {
  description = "The daily (inference) state machine whose success the deadline alarm expects."
  type        = string
}

variable "success_deadline_hour_utc" {
  description = "UTC hour by which a successful execution of the daily state machine must exist (1-23)."
  type        = number

  validation {
    condition     = var.success_deadline_hour_utc >= 1 && var.success_deadline_hour_utc <= 23
    error_message = "success_deadline_hour_utc must be an hour from 1 to 23 (one alarm evaluation spans at most a day)."
  }
}

variable "inputs_namespace" {
  description = "Namespace of ProcessedDataAgeHours, put by the inference features job (config edf_inference.alarms.metrics_namespace)."
  type        = string
}

variable "environment" {
  description = "Environment suffix: the Environment dimension of ProcessedDataAgeHours."
  type        = string
}

variable "processed_data_max_age_hours" {
  description = "Alarm when the newest processed hour is older than this at the daily run."
  type        = number
}

variable "dead_letter_queue_names" {
  description = "SQS dead-letter queues to alarm on (any visible message), by short name."
  type        = map(string)
  default     = {}
}
