# terraform init -backend-config=backend/dev.hcl
bucket         = "hometech-ml-terraform-state-dev"
key            = "edf/training_edf/terraform.tfstate"
region         = "eu-central-1"
dynamodb_table = "hometech-ml-terraform-locks-dev"
encrypt        = true
