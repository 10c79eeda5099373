variable "name" {
  description = "API name (already carrying the environment suffix)."
  type        = string
}

variable "openapi_template_path" {
  description = "Path of the OpenAPI document template (src/edf/serving/openapi.yaml)."
  type        = string
}

variable "openapi_template_vars" {
  description = "templatefile variables of the document (Lambda invoke ARNs, ...); cognito_user_pool_arn is added here."
  type        = map(string)
}

variable "stage_name" {
  description = "Stage name."
  type        = string
  default     = "v1"
}

variable "kms_key_arn" {
  description = "Key encrypting the access-log group."
  type        = string
}

variable "log_retention_days" {
  description = "Access-log retention."
  type        = number
  default     = 365
}

variable "stage_throttle_rate_limit" {
  description = "Stage-wide steady-state requests per second."
  type        = number
}

variable "stage_throttle_burst_limit" {
  description = "Stage-wide burst."
  type        = number
}

variable "usage_plans" {
  description = "B2B usage plans by name: throttle and quota."
  type = map(object({
    rate_limit   = number
    burst_limit  = number
    quota_limit  = number
    quota_period = string
  }))
}

variable "b2b_clients" {
  description = "B2B clients that get an API key, mapped to their usage plan name."
  type        = map(string)
  default     = {}
}

variable "lambda_function_names" {
  description = "Functions API Gateway may invoke, by a short key (b2b, b2c)."
  type        = map(string)
}

variable "password_min_length" {
  description = "Minimum resident password length."
  type        = number
  default     = 14
}

variable "manage_account_logging_role" {
  description = "Create the account-level API Gateway CloudWatch role (an account singleton)."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags."
  type        = map(string)
  default     = {}
}

variable "building_claim" {
  description = "Cognito claim with the resident's building id (config edf_serving.building_claim)."
  type        = string
  default     = "custom:building_id"
}

variable "cognito_advanced_security_mode" {
  description = "Cognito threat protection: OFF, AUDIT or ENFORCED. AUDIT/ENFORCED put the pool on the Plus feature plan (billed per active user); set ENFORCED wherever the account allows it (docs/security.md)."
  type        = string
  default     = "OFF"

  validation {
    condition     = contains(["OFF", "AUDIT", "ENFORCED"], var.cognito_advanced_security_mode)
    error_message = "cognito_advanced_security_mode must be OFF, AUDIT or ENFORCED."
  }
}

variable "deletion_protection" {
  description = "Protect the residents' user pool from deletion (turn off only to tear down a throw-away environment)."
  type        = bool
  default     = true
}
