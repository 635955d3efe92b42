variable "name" {
  description = "Name prefix of the queue (<name>-dlq) and the role policy, e.g. \"realtime-dev-broadcaster\"."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,76}$", var.name))
    error_message = "name must be 1-76 letters, digits, hyphens or underscores (the queue name <name>-dlq is limited to 80)."
  }
}

variable "function_name" {
  description = "Name (or ARN) of the consuming Lambda function."
  type        = string
}

variable "function_role_name" {
  description = "Name of the function's execution role; the stream and queue permissions are attached to it."
  type        = string
}

variable "stream_arn" {
  description = "ARN of the DynamoDB stream to read."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:dynamodb:[a-z0-9-]+:[0-9]{12}:table/[A-Za-z0-9_.-]{3,255}/stream/[0-9T:.-]+$", var.stream_arn))
    error_message = "stream_arn must be a DynamoDB stream ARN like \"arn:aws:dynamodb:us-east-1:123456789012:table/Incidents/stream/2024-01-01T00:00:00.000\" (the table's LatestStreamArn, not the table ARN)."
  }
}

variable "event_names" {
  description = "Stream event names passed to the function; other records are filtered out before invocation."
  type        = list(string)
  default     = ["INSERT", "MODIFY"]

  validation {
    condition     = length(var.event_names) > 0 && alltrue([for e in var.event_names : contains(["INSERT", "MODIFY", "REMOVE"], e)])
    error_message = "event_names must be a non-empty subset of INSERT, MODIFY and REMOVE."
  }
}

variable "starting_position" {
  description = "Where a new mapping starts reading: LATEST or TRIM_HORIZON."
  type        = string
  default     = "LATEST"

  validation {
    condition     = contains(["LATEST", "TRIM_HORIZON"], var.starting_position)
    error_message = "starting_position must be \"LATEST\" or \"TRIM_HORIZON\"."
  }
}

variable "enabled" {
  description = "Whether the mapping polls the stream."
  type        = bool
  default     = true
}

variable "batch_size" {
  description = "Records per invocation (1-10000)."
  type        = number
  default     = 100

  validation {
    condition     = var.batch_size >= 1 && var.batch_size <= 10000 && floor(var.batch_size) == var.batch_size
    error_message = "batch_size must be a whole number between 1 and 10000."
  }
}

variable "maximum_batching_window_in_seconds" {
  description = "Seconds to gather records before invoking (0-300)."
  type        = number
  default     = 0

  validation {
    condition     = var.maximum_batching_window_in_seconds >= 0 && var.maximum_batching_window_in_seconds <= 300 && floor(var.maximum_batching_window_in_seconds) == var.maximum_batching_window_in_seconds
    error_message = "maximum_batching_window_in_seconds must be a whole number between 0 and 300."
  }
}

variable "parallelization_factor" {
  description = "Concurrent batches per shard (1-10); order is kept per partition key."
  type        = number
  default     = 1

  validation {
    condition     = var.parallelization_factor >= 1 && var.parallelization_factor <= 10 && floor(var.parallelization_factor) == var.parallelization_factor
    error_message = "parallelization_factor must be a whole number between 1 and 10."
  }
}

variable "maximum_retry_attempts" {
  description = "Retries of a failing batch before it goes to the dead-letter queue (0-10000). -1 (infinite) is rejected: one bad record would block its shard until it expires."
  type        = number
  default     = 5

  validation {
    condition     = var.maximum_retry_attempts >= 0 && var.maximum_retry_attempts <= 10000 && floor(var.maximum_retry_attempts) == var.maximum_retry_attempts
    error_message = "maximum_retry_attempts must be a whole number between 0 and 10000; -1 (retry forever) would let one bad record block its shard for the stream's 24 h retention."
  }
}

variable "maximum_record_age_in_seconds" {
  description = "Records older than this go to the dead-letter queue instead of the function (60-604800). -1 (no limit) is rejected for the same reason as infinite retries."
  type        = number
  default     = 3600

  validation {
    condition     = var.maximum_record_age_in_seconds >= 60 && var.maximum_record_age_in_seconds <= 604800 && floor(var.maximum_record_age_in_seconds) == var.maximum_record_age_in_seconds
    error_message = "maximum_record_age_in_seconds must be a whole number between 60 and 604800; -1 (no limit) would let one bad record block its shard for the stream's 24 h retention."
  }
}

variable "dead_letter_retention_seconds" {
  description = "How long the dead-letter queue keeps a failure record (60-1209600)."
  type        = number
  default     = 1209600

  validation {
    condition     = var.dead_letter_retention_seconds >= 60 && var.dead_letter_retention_seconds <= 1209600
    error_message = "dead_letter_retention_seconds must be between 60 and 1209600 (14 days)."
  }
}

variable "kms_key_arn" {
  description = "Customer managed KMS key ARN for the queue; null uses SSE-SQS."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags for the queue and the mapping."
  type        = map(string)
  default     = {}
}
