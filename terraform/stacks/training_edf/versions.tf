terraform {
  required_version = ">= 1.6"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }

  # Remote state: partial configuration, completed per environment with
  #   terraform init -backend-config=backend/<env>.hcl
  backend "s3" {}
}

provider "aws" {
  region      = local.region
  max_retries = var.aws_max_retries

  default_tags {
    tags = local.tags
  }
}
