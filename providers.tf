# Credentials and the endpoint come from the standard AWS settings
# (AWS_PROFILE, AWS_ENDPOINT_URL, ...). Nothing emulator-specific lives here:
# the local stack points the provider at the emulator with environment
# variables only.
provider "aws" {
  region = var.region

  default_tags {
    tags = merge(var.tags, {
      Project     = var.project
      Environment = var.environment
      ManagedBy   = "terraform"
    })
  }
}
