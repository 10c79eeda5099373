# The forecast store for the configured forecast_db_type (exactly one of the three is
# created). Key and table designs mirror src/edf/storage/ (DynamoDB: PK/SK with the ByRun index
# and the expires_at TTL — portfolio totals are items of the base table, written at load time; Timestream: forecasts and recommendations tables;
# PostgreSQL: the schema, a read-only and a writer role are created by the db_bootstrap Lambda,
# which stores each role's credentials in its own secret below).

locals {
  is_timestream = var.db_type == "TIMESTREAM"
  is_dynamodb   = var.db_type == "DYNAMODB"
  is_rds        = var.db_type == "RDS"
}

# ---------------------------------------------------------------- Timestream
resource "aws_timestreamwrite_database" "this" {
  count         = local.is_timestream ? 1 : 0
  database_name = var.name
  kms_key_id    = var.kms_key_arn
  tags          = var.tags
}

resource "aws_timestreamwrite_table" "this" {
  for_each      = local.is_timestream ? toset(var.timestream_tables) : toset([])
  database_name = aws_timestreamwrite_database.this[0].database_name
  table_name    = each.value

  retention_properties {
    memory_store_retention_period_in_hours  = var.timestream_memory_retention_hours
    magnetic_store_retention_period_in_days = var.retention_days
  }

  magnetic_store_write_properties {
    enable_magnetic_store_writes = true
    magnetic_store_rejected_data_location {
      s3_configuration {
        bucket_name       = var.rejected_data_bucket
        object_key_prefix = "timestream-rejected/${var.name}/${each.value}/"
        encryption_option = "SSE_KMS"
        kms_key_id        = var.kms_key_arn
      }
    }
  }

  tags = var.tags
}

# ---------------------------------------------------------------- DynamoDB
resource "aws_dynamodb_table" "this" {
  count                       = local.is_dynamodb ? 1 : 0
  name                        = var.dynamodb_table_name
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "PK"
  range_key                   = "SK"
  deletion_protection_enabled = var.deletion_protection

  dynamic "attribute" {
    for_each = ["PK", "SK", "RPK", "RSK"]
    content {
      name = attribute.value
      type = "S"
    }
  }

  global_secondary_index {
    name      = "ByRun"
    hash_key  = "RPK"
    range_key = "RSK"
    # g: the write generation, so re-writing a run deletes the older generation's items while streaming
    projection_type    = "INCLUDE"
    non_key_attributes = ["g"]
  }

  ttl {
    attribute_name = "expires_at"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }

  tags = var.tags
}

# ---------------------------------------------------------------- RDS PostgreSQL
resource "aws_db_subnet_group" "this" {
  count      = local.is_rds ? 1 : 0
  name       = lower(var.name)
  subnet_ids = var.private_subnet_ids
  tags       = var.tags
}

resource "aws_security_group" "db" {
  count       = local.is_rds ? 1 : 0
  name        = "${var.name}-db"
  description = "EDF forecast PostgreSQL: reachable only from the EDF Lambdas' security group"
  vpc_id      = var.vpc_id
  tags        = var.tags
}

resource "aws_security_group" "clients" {
  # checkov:skip=CKV2_AWS_5: attached to the VPC Lambdas by the inference stack (vpc_config)
  count       = local.is_rds ? 1 : 0
  name        = "${var.name}-clients"
  description = "EDF Lambdas that talk to the forecast PostgreSQL"
  vpc_id      = var.vpc_id
  tags        = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "db_from_clients" {
  count                        = local.is_rds ? 1 : 0
  description                  = "PostgreSQL from EDF Lambdas"
  security_group_id            = aws_security_group.db[0].id
  referenced_security_group_id = aws_security_group.clients[0].id
  from_port                    = 5432
  to_port                      = 5432
  ip_protocol                  = "tcp"
}

resource "aws_vpc_security_group_egress_rule" "clients_to_db" {
  count                        = local.is_rds ? 1 : 0
  description                  = "EDF Lambdas to PostgreSQL"
  security_group_id            = aws_security_group.clients[0].id
  referenced_security_group_id = aws_security_group.db[0].id
  from_port                    = 5432
  to_port                      = 5432
  ip_protocol                  = "tcp"
}

resource "aws_vpc_security_group_egress_rule" "clients_https" {
  count             = local.is_rds ? 1 : 0
  description       = "EDF Lambdas to AWS APIs (S3, Secrets Manager) via VPC endpoints or NAT"
  security_group_id = aws_security_group.clients[0].id
  cidr_ipv4         = var.vpc_cidr
  from_port         = 443
  to_port           = 443
  ip_protocol       = "tcp"
}

resource "aws_db_parameter_group" "this" {
  count  = local.is_rds ? 1 : 0
  name   = lower("${var.name}-pg16")
  family = "postgres16"

  parameter {
    name  = "rds.force_ssl"
    value = "1"
  }

  parameter {
    name  = "log_min_duration_statement"
    value = "1000"
  }

  tags = var.tags
}

resource "aws_db_instance" "this" {
  count                               = local.is_rds ? 1 : 0
  identifier                          = lower(var.name)
  engine                              = "postgres"
  engine_version                      = var.rds_engine_version
  instance_class                      = var.rds_instance_class
  allocated_storage                   = var.rds_allocated_storage_gb
  storage_encrypted                   = true
  kms_key_id                          = var.kms_key_arn
  db_name                             = var.rds_db_name
  username                            = var.rds_master_username
  manage_master_user_password         = true
  master_user_secret_kms_key_id       = var.kms_key_arn
  db_subnet_group_name                = aws_db_subnet_group.this[0].name
  vpc_security_group_ids              = [aws_security_group.db[0].id]
  parameter_group_name                = aws_db_parameter_group.this[0].name
  publicly_accessible                 = false
  multi_az                            = true
  iam_database_authentication_enabled = true
  deletion_protection                 = var.deletion_protection
  backup_retention_period             = var.rds_backup_retention_days
  copy_tags_to_snapshot               = true
  auto_minor_version_upgrade          = true
  monitoring_interval                 = 60
  monitoring_role_arn                 = aws_iam_role.rds_monitoring[0].arn
  performance_insights_enabled        = true
  performance_insights_kms_key_id     = var.kms_key_arn
  enabled_cloudwatch_logs_exports     = ["postgresql", "upgrade"]
  skip_final_snapshot                 = false
  final_snapshot_identifier           = lower("${var.name}-final")
  tags                                = var.tags
}

resource "aws_iam_role" "rds_monitoring" {
  count = local.is_rds ? 1 : 0
  name  = "${var.name}-rds-monitoring"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "monitoring.rds.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
  tags = var.tags
}

resource "aws_iam_role_policy_attachment" "rds_monitoring" {
  count      = local.is_rds ? 1 : 0
  role       = aws_iam_role.rds_monitoring[0].name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
}

# One secret per least-privilege role (edf.storage.pg_roles). Terraform creates them empty: the
# db_bootstrap Lambda generates the passwords and writes {username, password, host, port, dbname},
# so no database password ever enters the Terraform state.
resource "aws_secretsmanager_secret" "db_role" {
  # checkov:skip=CKV2_AWS_57: rotated by re-invoking the db_bootstrap Lambda (new passwords, then the secrets); clients re-read the secret after an authentication failure
  for_each    = local.is_rds ? var.rds_role_secret_names : {}
  name        = each.value
  description = "EDF forecast PostgreSQL credentials of the ${each.key} role (written by the db_bootstrap Lambda)"
  kms_key_id  = var.kms_key_arn
  tags        = var.tags
}

data "aws_partition" "current" {}
