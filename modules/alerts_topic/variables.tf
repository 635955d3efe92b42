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
    # The endpoint also names the function whose resource policy lets SNS invoke it.
    condition     = alltrue([for s in var.subscriptions : s.protocol != "lambda" || can(regex("^arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:function:[A-Za-z0-9_-]+(:[A-Za-z0-9_$-]+)?$", s.endpoint))])
    error_message = "A lambda subscription's endpoint must be the function's ARN, e.g. \"arn:aws:lambda:us-east-1:123456789012:function:page-on-call\" (or with an alias, \":live\"), in this account: the stack grants SNS the permission to invoke it."
  }

  validation {
    # SNS sends SMS only to E.164 numbers.
    # https://docs.aws.amazon.com/sns/latest/dg/sms_sending-overview.html
    condition     = alltrue([for s in var.subscriptions : s.protocol != "sms" || can(regex("^\\+[1-9][0-9]{6,14}$", s.endpoint))])
    error_message = "An sms subscription's endpoint must be a phone number in E.164 form, e.g. \"+15555550100\" (a new account's SMS sandbox delivers only to numbers verified in the SNS console: docs/deploying.md, first deploy)."
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
