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

variable "image_tag" {
  description = "Tag of the job image in the stack's ECR repository: release-<commit sha>, promoted by CD from a tested git-<sha> build."
  type        = string

  validation {
    condition     = can(regex("^release-[0-9a-f]{7,40}$", var.image_tag))
    error_message = "image_tag must be a promoted release-<git sha> tag: the ECR lifecycle keeps only those forever, so a registered model's image cannot expire."
  }
}

variable "ecr_keep_images" {
  description = "How many unpromoted main-branch (git-*) images the ECR lifecycle policy keeps."
  type        = number
  default     = 30
}

variable "ecr_scratch_image_days" {
  description = "Days before pull-request (pr-*) and branch (branch-*) images expire."
  type        = number
  default     = 14
}

variable "job_volume_size_gb" {
  description = "EBS volume of each SageMaker job."
  type        = number
  default     = 30
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

variable "alert_email" {
  description = "Optional e-mail subscribed to the alerts topic (confirm the subscription mail)."
  type        = string
  default     = null
}

variable "aws_sdk_pandas_layer_arn" {
  description = "ARN of the AWS SDK for pandas managed layer (Python 3.11, x86_64) for functions marked pandas_layer in src/edf/packaging/functions.json; see https://aws-sdk-pandas.readthedocs.io/en/stable/layers.html"
  type        = string
}

