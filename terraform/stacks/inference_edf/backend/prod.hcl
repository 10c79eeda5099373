# terraform init -backend-config=backend/prod.hcl
bucket         = "hometech-ml-terraform-state-prod"
key            = "edf/inference_edf/terraform.tfstate"
region         = "eu-central-1"
dynamodb_table = "hometech-ml-terraform-locks-prod"
encrypt        = true
