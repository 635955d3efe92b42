variable "name" {
  description = "Table name."
  type        = string
}

variable "hash_key" {
  description = "Partition key attribute (string)."
  type        = string
}

variable "range_key" {
  description = "Sort key attribute (string), or null for a partition key only."
  type        = string
  default     = null
}

variable "ttl_attribute" {
  description = "Attribute holding the expiry time in epoch seconds."
  type        = string
}

variable "point_in_time_recovery" {
  description = "Keep continuous backups for point-in-time recovery (35 days)."
  type        = bool
  default     = true
}

variable "deletion_protection" {
  description = "Refuse DeleteTable while true (turn it off before destroying)."
  type        = bool
  default     = false
}

variable "kms_key_arn" {
  description = "Customer managed KMS key ARN; null uses the AWS managed key aws/dynamodb."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags for the table."
  type        = map(string)
  default     = {}
}
