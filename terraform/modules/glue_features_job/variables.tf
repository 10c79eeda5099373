variable "job_name" {
  description = "Glue job name (edf_spark.features_job_base-<mode>-<env>); also the S3 prefix of its script and wheel."
  type        = string
}

variable "mode" {
  description = "training or inference: the feature job's --mode default argument."
  type        = string

  validation {
    condition     = contains(["training", "inference"], var.mode)
    error_message = "mode must be training or inference."
  }
}

variable "glue_version" {
  description = "Glue version (edf_spark.glue_version): 5.0 = Spark 3.5.4, Python 3.11."
  type        = string
  default     = "5.0"
}

variable "worker_type" {
  description = "Glue worker type (edf_spark.<mode>.worker_type)."
  type        = string

  validation {
    condition     = contains(["G.1X", "G.2X", "G.4X", "G.8X"], var.worker_type)
    error_message = "worker_type must be one of G.1X, G.2X, G.4X, G.8X."
  }
}

variable "number_of_workers" {
  description = "Glue workers per run (edf_spark.<mode>.number_of_workers); at least 2."
  type        = number

  validation {
    condition     = var.number_of_workers >= 2
    error_message = "Glue Spark jobs need at least 2 workers."
  }
}

variable "timeout_minutes" {
  description = "Job run timeout (edf_spark.timeout_minutes); the run ends in TIMEOUT after it."
  type        = number
  default     = 120
}

variable "script_path" {
  description = "Local path of the job script (src/edf/jobs/glue_features.py)."
  type        = string
}

variable "wheel_path" {
  description = "Local path of the edf wheel (build/glue/edf-<version>-py3-none-any.whl, `make package`)."
  type        = string
  validation {
    condition     = fileexists(var.wheel_path)
    error_message = "The edf wheel of the Glue feature job is missing (expected build/glue/edf-<version>-py3-none-any.whl or var.glue_wheel_dir): run `make package` first."
  }
}

variable "additional_python_modules" {
  description = "pip requirements installed on every node next to the wheel (edf_spark.additional_python_modules)."
  type        = list(string)
  default     = []
}

variable "scripts_bucket" {
  description = "Bucket of the job script, wheel and Glue temp dir (ingestion stack's scripts bucket)."
  type        = string
}

variable "processed_bucket" {
  description = "processed-data bucket: reads processed_edf_data, writes features/."
  type        = string
}

variable "raw_bucket" {
  description = "raw-data bucket: reads edf-inputs/ (topology, weather forecasts)."
  type        = string
}

variable "config_object_key" {
  description = "Key of the deployed config in the scripts bucket."
  type        = string
}

variable "kms_key_arn" {
  description = "Stack key: encrypts the script/wheel objects, the job's S3 writes, logs and bookmarks."
  type        = string
}

variable "data_kms_key_arns" {
  description = "Keys of the data buckets (ingestion stack) the job must decrypt/encrypt with."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags."
  type        = map(string)
  default     = {}
}
