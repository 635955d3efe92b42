variable "name" {
  description = "Topic name."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,256}$", var.name))
    error_message = "name must be 1-256 letters, digits, hyphens or underscores (a standard topic; FIFO topics cannot deliver to email, SMS or HTTPS)."
  }
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
  description = "Who receives alerts: protocol (email, email-json, sms, https, sqs, lambda), endpoint, and an optional filter policy (JSON)."
  type = list(object({
    protocol             = string
    endpoint             = string
    filter_policy        = optional(string)
    filter_policy_scope  = optional(string, "MessageAttributes")
    raw_message_delivery = optional(bool, false)
  }))
  default = []

  validation {
    condition     = alltrue([for s in var.subscriptions : contains(["email", "email-json", "sms", "https", "sqs", "lambda"], s.protocol)])
    error_message = "Each subscription protocol must be one of email, email-json, sms, https, sqs or lambda (plain http would send alerts unencrypted: use https)."
  }

  validation {
    condition = alltrue([for s in var.subscriptions :
      (s.protocol == "email" || s.protocol == "email-json") ? can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", s.endpoint)) :
      s.protocol == "sms" ? can(regex("^\\+[1-9][0-9]{6,14}$", s.endpoint)) :
      s.protocol == "https" ? startswith(s.endpoint, "https://") :
      s.protocol == "sqs" ? can(regex("^arn:aws[a-z-]*:sqs:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]+$", s.endpoint)) :
      s.protocol == "lambda" ? can(regex("^arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:function:[A-Za-z0-9_-]+(:[A-Za-z0-9_$-]+)?$", s.endpoint)) :
      true
    ])
    error_message = "Each endpoint must match its protocol: an email address for email, an E.164 number like \"+15555550100\" for sms, an https:// URL for https, a queue ARN for sqs, a function ARN for lambda."
  }

  validation {
    condition     = alltrue([for s in var.subscriptions : s.filter_policy == null || can(keys(jsondecode(s.filter_policy)))])
    error_message = "filter_policy must be a JSON object, e.g. jsonencode({ urgency = [\"critical\"] }), or null."
  }

  validation {
    condition     = alltrue([for s in var.subscriptions : contains(["MessageAttributes", "MessageBody"], s.filter_policy_scope)])
    error_message = "filter_policy_scope must be \"MessageAttributes\" or \"MessageBody\"."
  }

  validation {
    condition     = length(distinct([for s in var.subscriptions : "${s.protocol}:${s.endpoint}"])) == length(var.subscriptions)
    error_message = "Each protocol and endpoint pair may appear only once in subscriptions."
  }
}

variable "tags" {
  description = "Tags for the topic."
  type        = map(string)
  default     = {}
}
