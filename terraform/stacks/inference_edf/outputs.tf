output "inference_state_machine_arn" {
  description = "EDFInferenceWorkflow ARN."
  value       = module.inference_workflow.arn
}

output "api_invoke_url" {
  description = "Base URL of the API stage."
  value       = module.api.invoke_url
}

output "api_key_ids" {
  description = "B2B API key ids by client."
  value       = module.api.api_key_ids
}

output "cognito_user_pool_id" {
  description = "Residents' user pool (B2C)."
  value       = module.api.user_pool_id
}

output "cognito_app_client_id" {
  description = "App client residents' apps sign in with."
  value       = module.api.user_pool_client_id
}

output "forecast_db_type" {
  description = "Forecast store backend deployed."
  value       = local.db_type
}

output "rds_endpoint" {
  description = "PostgreSQL host for config edf_storage.postgres.host (RDS only)."
  value       = module.store.rds_endpoint
}

output "rds_secret_arn" {
  description = "Secret for config edf_storage.postgres.secret_id (RDS only)."
  value       = module.store.rds_secret_arn
}

output "weather_api_secret_arn" {
  description = "Put the weather provider's API key here."
  value       = aws_secretsmanager_secret.weather_api_key.arn
}

output "dashboard_name" {
  description = "CloudWatch dashboard."
  value       = module.monitoring.dashboard_name
}

output "alarm_names" {
  description = "Alarms created."
  value       = module.monitoring.alarm_names
}

output "weather_fetcher_function_name" {
  description = "Weather-forecast fetcher Lambda (null when enable_weather_fetcher is false)."
  value       = local.weather_enabled ? module.weather_fetcher[0].function_name : null
}

output "weather_fetch_schedule_name" {
  description = "EventBridge Scheduler schedule of the weather fetcher (null when disabled)."
  value       = local.weather_enabled ? aws_scheduler_schedule.weather_fetch[0].name : null
}

output "features_job_name" {
  description = "AWS Glue job of FeatureEngineeringInferenceEDF."
  value       = module.features_job.job_name
}
