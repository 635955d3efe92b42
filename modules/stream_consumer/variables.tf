variable "name" {
  description = "Name prefix of the queue (<name>-dlq) and the role policy, e.g. \"realtime-dev-broadcaster\"."
  type        = string
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
  description = "ARN of the DynamoDB stream to read (the table's LatestStreamArn)."
  type        = string

  validation {
    # A table ARN is an ARN too: the mistake would surface only at apply.
    condition     = can(regex("^arn:aws[a-z-]*:dynamodb:[a-z0-9-]+:[0-9]{12}:table/[A-Za-z0-9_.-]{3,255}/stream/[0-9T:.-]+$", var.stream_arn))
    error_message = "stream_arn must be a DynamoDB stream ARN like \"arn:aws:dynamodb:us-east-1:123456789012:table/Incidents/stream/2024-01-01T00:00:00.000\" (the table's LatestStreamArn, not the table ARN)."
  }
}

variable "starting_position" {
  description = "Where a new mapping starts reading: LATEST or TRIM_HORIZON."
  type        = string
  default     = "LATEST"
}

variable "batch_size" {
  description = "Records per invocation (1-10000)."
  type        = number
  default     = 100
}

variable "maximum_batching_window_in_seconds" {
  description = "Seconds to gather records before invoking (0-300)."
  type        = number
  default     = 0
}

variable "parallelization_factor" {
  description = "Concurrent batches per shard (1-10); order is kept per partition key."
  type        = number
  default     = 1
}

variable "maximum_retry_attempts" {
  description = "Retries of a failing batch before it goes to the dead-letter queue (0-10000). -1 (infinite) is rejected: one bad record would block its shard until it expires."
  type        = number
  default     = 5

  validation {
    condition     = var.maximum_retry_attempts != -1
    error_message = "maximum_retry_attempts must be a number of retries between 0 and 10000; -1 (retry forever) would let one bad record block its shard for the stream's 24 h retention."
  }
}

variable "maximum_record_age_in_seconds" {
  description = "Records older than this go to the dead-letter queue instead of the function (60-604800). -1 (no limit) is rejected for the same reason as infinite retries."
  type        = number
  default     = 3600

  validation {
    condition     = var.maximum_record_age_in_seconds != -1
    error_message = "maximum_record_age_in_seconds must be a number of seconds between 60 and 604800; -1 (no limit) would let one bad record block its shard for the stream's 24 h retention."
  }
}

variable "event_names" {
  description = "Stream records the function receives, by eventName (INSERT, MODIFY, REMOVE); the others are filtered out before invocation."
  type        = list(string)
  default     = ["INSERT", "MODIFY"]

  validation {
    condition     = length(var.event_names) > 0 && alltrue([for e in var.event_names : contains(["INSERT", "MODIFY", "REMOVE"], e)])
    error_message = "event_names must be a non-empty subset of \"INSERT\", \"MODIFY\" and \"REMOVE\", e.g. [\"INSERT\", \"MODIFY\"]."
  }
}

variable "kms_key_arn" {
  description = "Customer managed KMS key ARN for the queue; null uses SSE-SQS."
  type        = string
  default     = null
}

variable "stream_kms_key_arn" {
  description = "Customer managed KMS key ARN the stream's table is encrypted with; the function's role gets kms:Decrypt on it through DynamoDB only (kms:ViaService). null: the table uses an AWS owned or AWS managed key, which needs no grant."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags for the queue and the mapping."
  type        = map(string)
  default     = {}
}
