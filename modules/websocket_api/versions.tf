terraform {
  # 1.9: a validation rule of mock_routes refers to lambda_routes.
  required_version = ">= 1.9"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.70"
    }
  }
}
