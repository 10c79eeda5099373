output "rest_api_id" {
  description = "REST API id."
  value       = aws_api_gateway_rest_api.this.id
}

output "stage_name" {
  description = "Stage name."
  value       = aws_api_gateway_stage.this.stage_name
}

output "invoke_url" {
  description = "Base URL of the stage."
  value       = aws_api_gateway_stage.this.invoke_url
}

output "user_pool_id" {
  description = "Cognito user pool of residents (B2C)."
  value       = aws_cognito_user_pool.b2c.id
}

output "user_pool_arn" {
  description = "Cognito user pool ARN (referenced by the OpenAPI Cognito authorizer)."
  value       = aws_cognito_user_pool.b2c.arn
}

output "user_pool_client_id" {
  description = "App client id residents' apps sign in with."
  value       = aws_cognito_user_pool_client.b2c_app.id
}

output "api_key_ids" {
  description = "B2B API key ids by client (values: `aws apigateway get-api-key --include-value`)."
  value       = { for k, v in aws_api_gateway_api_key.b2b : k => v.id }
}
