variable "name" {
  description = "Topic name (a standard topic: no .fifo suffix)."
  type        = string
}

variable "display_name" {
  description = "Display name (the sender name of SMS messages)."
  type        = string
  default     = null
}

variable "kms_key_id" {
  description = "KMS key ARN (or alias ARN) encrypting the topic; null uses the AWS managed key alias/aws/sns."
  type        = string
  default     = null
}

variable "subscriptions" {
  description = "Who receives alerts: protocol (email, email-json, sms, https, sqs, lambda), endpoint, and an optional filter policy (JSON) on message attributes."
  type = list(object({
    protocol      = string
    endpoint      = string
    filter_policy = optional(string)
  }))
  default = []

  validation {
    # SNS also accepts http (alerts in clear text), application and firehose.
    condition     = alltrue([for s in var.subscriptions : contains(["email", "email-json", "sms", "https", "sqs", "lambda"], s.protocol)])
    error_message = "Each subscription protocol must be one of email, email-json, sms, https, sqs or lambda (plain http would send alerts unencrypted: use https)."
  }

  validation {
    # Subscriptions are keyed by "<protocol>:<endpoint>".
    condition     = length(distinct([for s in var.subscriptions : "${s.protocol}:${s.endpoint}"])) == length(var.subscriptions)
    error_message = "Each protocol and endpoint pair may appear only once in subscriptions: merge the duplicates into one entry."
  }
}

variable "tags" {
  description = "Tags for the topic."
  type        = map(string)
  default     = {}
}
