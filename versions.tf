terraform {
  # 1.11: terraform test with mock_provider override_during, S3 native locking
  # (use_lockfile) in the backend.
  required_version = ">= 1.11"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }
}
