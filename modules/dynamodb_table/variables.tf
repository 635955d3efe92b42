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

variable "global_secondary_indexes" {
  description = "Global secondary indexes by name: hash_key and optional range_key with their types (S, N or B; S by default) and projection_type (ALL or KEYS_ONLY)."
  type = map(object({
    hash_key        = string
    hash_key_type   = optional(string, "S")
    range_key       = optional(string)
    range_key_type  = optional(string, "S")
    projection_type = optional(string, "ALL")
  }))
  default = {}

  validation {
    # The table's own keys are strings: an index cannot declare them with another type.
    condition = alltrue([for index in var.global_secondary_indexes : alltrue([
      for name, type in merge(
        { (index.hash_key) = index.hash_key_type },
        index.range_key == null ? {} : { (index.range_key) = index.range_key_type },
      ) : type == "S" if contains([var.hash_key, coalesce(var.range_key, var.hash_key)], name)
    ])])
    error_message = "An index key that is also a key of the table must have type \"S\" (the table's keys are strings); use another attribute or hash_key_type/range_key_type = \"S\"."
  }
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
