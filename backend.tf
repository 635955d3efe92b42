# Partial configuration: each environment supplies bucket, key, region and
# locking in envs/<env>.s3.tfbackend (make init ENV=<env>).
terraform {
  backend "s3" {}
}
