output "timestream_database_arn" {
  description = "Timestream database ARN (null unless TIMESTREAM)."
  value       = try(aws_timestreamwrite_database.this[0].arn, null)
}

output "timestream_table_arns" {
  description = "Timestream table ARNs."
  value       = [for t in aws_timestreamwrite_table.this : t.arn]
}

output "dynamodb_table_arn" {
  description = "DynamoDB table ARN (null unless DYNAMODB)."
  value       = try(aws_dynamodb_table.this[0].arn, null)
}

output "dynamodb_table_name" {
  description = "DynamoDB table name (null unless DYNAMODB)."
  value       = try(aws_dynamodb_table.this[0].name, null)
}

output "rds_endpoint" {
  description = "PostgreSQL host (null unless RDS)."
  value       = try(aws_db_instance.this[0].address, null)
}

output "rds_secret_arn" {
  description = "Secrets Manager ARN of the RDS-managed master credentials (null unless RDS)."
  value       = try(aws_db_instance.this[0].master_user_secret[0].secret_arn, null)
}

output "rds_client_security_group_id" {
  description = "Security group the Lambdas use to reach PostgreSQL (null unless RDS)."
  value       = try(aws_security_group.clients[0].id, null)
}

output "rds_role_secret_arns" {
  description = "Secret ARNs of the reader and writer roles (empty unless RDS)."
  value       = { for k, v in aws_secretsmanager_secret.db_role : k => v.arn }
}

output "rds_port" {
  description = "PostgreSQL port (null unless RDS)."
  value       = try(aws_db_instance.this[0].port, null)
}
