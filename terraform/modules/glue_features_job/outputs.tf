output "job_name" {
  description = "Glue job name (FeatureEngineering*EDF JobName)."
  value       = aws_glue_job.this.name
}

output "job_arn" {
  description = "Glue job ARN (what the state machine role may start)."
  value       = aws_glue_job.this.arn
}

output "role_arn" {
  description = "The job's IAM role."
  value       = aws_iam_role.this.arn
}
