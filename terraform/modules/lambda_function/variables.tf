variable "function_name" {
  description = "Function name (already carrying the environment suffix)."
  type        = string
}

variable "description" {
  description = "What the function does."
  type        = string
  default     = ""
}

variable "zip_path" {
  description = "Path of the deployment zip built by `make package`."
  type        = string
}

variable "source_code_hash" {
  description = "base64 SHA-256 of the zip (filebase64sha256), so code changes redeploy and nothing else does."
  type        = string
}

variable "handler" {
  description = "Handler entry point inside the zip."
  type        = string
  default     = "handler.handler"
}

variable "runtime" {
  description = "Lambda runtime; matches the Python the zips are built for."
  type        = string
  default     = "python3.11"
}

variable "memory_mb" {
  description = "Memory size in MB."
  type        = number
  default     = 256
}

variable "timeout_seconds" {
  description = "Timeout in seconds."
  type        = number
  default     = 60
}

variable "layers" {
  description = "Layer ARNs (e.g. the AWS SDK for pandas managed layer)."
  type        = list(string)
  default     = []
}

variable "environment" {
  description = "Environment variables."
  type        = map(string)
  default     = {}
}

variable "kms_key_arn" {
  description = "Key encrypting the log group and the environment variables."
  type        = string
}

variable "log_retention_days" {
  description = "Log retention."
  type        = number
  default     = 365
}

variable "policy_statements" {
  description = "Extra IAM statements for the execution role; never a \"*\" action."
  type = list(object({
    sid       = string
    actions   = list(string)
    resources = list(string)
    condition = optional(map(map(list(string))))
  }))
  default = []

  validation {
    condition     = alltrue([for s in var.policy_statements : !contains(s.actions, "*")])
    error_message = "A statement may not grant the \"*\" action."
  }
}

variable "subnet_ids" {
  description = "Private subnets when the function must reach a VPC resource (RDS); empty = no VPC."
  type        = list(string)
  default     = []
}

variable "security_group_ids" {
  description = "Security groups used with subnet_ids."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags."
  type        = map(string)
  default     = {}
}
