# terraform init -backend-config=backend/dev.hcl
bucket         = "hometech-ml-terraform-state-dev"
key            = "edf/inference_edf/terraform.tfstate"
region         = "eu-central-1"
dynamodb_table = "hometech-ml-terraform-locks-dev"
encrypt        = true
