variable "db_type" {
  description = "TIMESTREAM | DYNAMODB | RDS (config edf_inference.forecast_db_type)."
  type        = string

  validation {
    condition     = contains(["TIMESTREAM", "DYNAMODB", "RDS"], var.db_type)
    error_message = "db_type must be TIMESTREAM, DYNAMODB or RDS."
  }
}

variable "name" {
  description = "Database name (Timestream database / RDS identifier), with environment suffix."
  type        = string
}

variable "timestream_tables" {
  description = "Timestream tables (forecasts, recommendations)."
  type        = list(string)
  default     = []
}

variable "dynamodb_table_name" {
  description = "DynamoDB table name, with environment suffix."
  type        = string
  default     = ""
}

variable "kms_key_arn" {
  description = "Key encrypting the store, its rejected records and its secret."
  type        = string
}

variable "retention_days" {
  description = "How long forecasts are kept (Timestream magnetic store)."
  type        = number
}

variable "timestream_memory_retention_hours" {
  description = "Timestream memory-store retention; must cover the newest forecasts' queries."
  type        = number
  default     = 24
}

variable "rejected_data_bucket" {
  description = "Bucket receiving records Timestream rejects (its processed-data bucket, prefix timestream-rejected/)."
  type        = string
  default     = ""
}

variable "deletion_protection" {
  description = "Protect the table/instance from deletion (true in production)."
  type        = bool
  default     = true
}

variable "vpc_id" {
  description = "VPC of the RDS instance (RDS only)."
  type        = string
  default     = ""
}

variable "vpc_cidr" {
  description = "CIDR of that VPC, for the Lambdas' HTTPS egress to VPC endpoints (RDS only)."
  type        = string
  default     = ""
}

variable "private_subnet_ids" {
  description = "Private subnets of the RDS instance and the Lambdas that reach it (RDS only)."
  type        = list(string)
  default     = []
}

variable "rds_engine_version" {
  description = "PostgreSQL engine version."
  type        = string
  default     = "16.4"
}

variable "rds_instance_class" {
  description = "RDS instance class."
  type        = string
  default     = "db.t4g.medium"
}

variable "rds_allocated_storage_gb" {
  description = "Allocated storage in GB."
  type        = number
  default     = 50
}

variable "rds_db_name" {
  description = "Database name inside PostgreSQL (config edf_storage.postgres.dbname)."
  type        = string
  default     = "edf"
}

variable "rds_master_username" {
  description = "Master user; its password is generated and kept in Secrets Manager by RDS."
  type        = string
  default     = "edf_admin"
}

variable "rds_backup_retention_days" {
  description = "Automated backup retention."
  type        = number
  default     = 14
}

variable "tags" {
  description = "Tags."
  type        = map(string)
  default     = {}
}

variable "rds_role_secret_names" {
  description = "Secrets Manager names of the least-privilege PostgreSQL roles' credentials, by role (reader, writer)."
  type        = map(string)
  default     = {}
}
