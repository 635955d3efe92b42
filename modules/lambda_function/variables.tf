variable "function_name" {
  description = "Name of the function; also names its role and its log group (/aws/lambda/<name>)."
  type        = string
}

variable "description" {
  description = "Human-readable description of the function."
  type        = string
  default     = ""
}

variable "handler" {
  description = "Handler in module.function form, e.g. \"broadcaster.handler\"."
  type        = string
}

variable "runtime" {
  description = "Lambda Python runtime identifier; the handlers need Python 3.12 or newer."
  type        = string
  default     = "python3.12"

  validation {
    condition     = contains(["python3.12", "python3.13"], var.runtime)
    error_message = "runtime must be \"python3.12\" or \"python3.13\" (the handlers need Python 3.12 or newer); build the zips with the same LAMBDA_PYTHON."
  }
}

variable "architecture" {
  description = "Instruction set the zip was built for: \"x86_64\" or \"arm64\" (LAMBDA_ARCH of make build)."
  type        = string
  default     = "x86_64"
}

variable "filename" {
  description = "Path to the deployment zip produced by make build."
  type        = string
}

variable "source_code_hash" {
  description = "filebase64sha256 of the zip, so a changed zip (and only a changed zip) updates the code."
  type        = string
}

variable "memory_size" {
  description = "Memory in MB."
  type        = number
  default     = 256
}

variable "timeout" {
  description = "Timeout in seconds."
  type        = number
  default     = 10
}

variable "reserved_concurrent_executions" {
  description = "Reserved concurrency; -1 leaves the function unreserved."
  type        = number
  default     = -1

  validation {
    # Lambda accepts 0, which throttles every invocation.
    condition     = var.reserved_concurrent_executions != 0
    error_message = "reserved_concurrent_executions must be -1 (unreserved) or a number >= 1; 0 would throttle every invocation."
  }
}

variable "layers" {
  description = "Lambda layer version ARNs."
  type        = list(string)
  default     = []

  validation {
    # The provider accepts any ARN here; a function or unversioned layer ARN
    # fails only at apply.
    condition     = alltrue([for l in var.layers : can(regex("^arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:layer:[A-Za-z0-9_-]+:[0-9]+$", l))])
    error_message = "layers must hold layer version ARNs like \"arn:aws:lambda:us-east-1:123456789012:layer:boto3:1\" (with the version number, not a function ARN)."
  }
}

variable "environment_variables" {
  description = "Environment variables of the function."
  type        = map(string)
  default     = {}
}

variable "policy_statements" {
  description = "Allow statements of the execution role, beyond writing to its own log group. Each names its actions and resources explicitly; condition is an IAM Condition block as IAM writes it, e.g. { StringEquals = { \"kms:ViaService\" = [\"dynamodb.us-east-1.amazonaws.com\"] } }."
  type = list(object({
    sid       = string
    actions   = list(string)
    resources = list(string)
    condition = optional(map(map(list(string))))
  }))
  default = []

  validation {
    condition = alltrue([for s in var.policy_statements :
      length(s.actions) > 0 && length(s.resources) > 0 &&
      alltrue([for a in s.actions : can(regex("^[a-z0-9-]+:[A-Za-z]+$", a))])
    ])
    error_message = "Each policy statement needs at least one resource and explicit actions like \"dynamodb:PutItem\"; wildcards in actions are not allowed."
  }
}

variable "log_retention_days" {
  description = "Retention of the function's log group, in days."
  type        = number
  default     = 30
}

variable "tags" {
  description = "Tags for every resource of the module."
  type        = map(string)
  default     = {}
}
