variable "name" {
  description = "State machine name (already carrying the environment suffix)."
  type        = string
}

variable "definition" {
  description = "ASL JSON (rendered templatefile of pipelines/*.asl.json)."
  type        = string
}

variable "kms_key_arn" {
  description = "Key encrypting the log group."
  type        = string
}

variable "log_retention_days" {
  description = "Log retention."
  type        = number
  default     = 365
}

variable "policy_statements" {
  description = "IAM statements the workflow's tasks need; never a \"*\" action."
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

variable "tags" {
  description = "Tags."
  type        = map(string)
  default     = {}
}
