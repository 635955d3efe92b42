variable "function_name" {
  description = "Name of the function; also names its role and its log group (/aws/lambda/<name>)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,64}$", var.function_name))
    error_message = "function_name must be 1-64 letters, digits, hyphens or underscores, e.g. \"realtime-dev-broadcaster\"."
  }
}

variable "description" {
  description = "Human-readable description of the function."
  type        = string
  default     = ""
}

variable "handler" {
  description = "Handler in module.function form, e.g. \"broadcaster.handler\"."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z_][A-Za-z0-9_.]*\\.[A-Za-z_][A-Za-z0-9_]*$", var.handler))
    error_message = "handler must look like \"module.function\", e.g. \"connection_manager.on_connect\"."
  }
}

variable "runtime" {
  description = "Lambda Python runtime identifier."
  type        = string
  default     = "python3.12"

  validation {
    condition     = contains(["python3.12", "python3.13"], var.runtime)
    error_message = "runtime must be \"python3.12\" or \"python3.13\" (the handlers need Python 3.12 or newer; the zips are built for that version)."
  }
}

variable "architecture" {
  description = "Instruction set the zip was built for: \"x86_64\" or \"arm64\"."
  type        = string
  default     = "x86_64"

  validation {
    condition     = contains(["x86_64", "arm64"], var.architecture)
    error_message = "architecture must be \"x86_64\" or \"arm64\", matching LAMBDA_ARCH used by make build."
  }
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
  description = "Memory in MB (128-10240)."
  type        = number
  default     = 256

  validation {
    condition     = var.memory_size >= 128 && var.memory_size <= 10240 && floor(var.memory_size) == var.memory_size
    error_message = "memory_size must be a whole number of MB between 128 and 10240."
  }
}

variable "timeout" {
  description = "Timeout in seconds (1-900)."
  type        = number
  default     = 10

  validation {
    condition     = var.timeout >= 1 && var.timeout <= 900 && floor(var.timeout) == var.timeout
    error_message = "timeout must be a whole number of seconds between 1 and 900."
  }
}

variable "reserved_concurrent_executions" {
  description = "Reserved concurrency; -1 leaves the function unreserved. 0 is rejected because it stops every invocation."
  type        = number
  default     = -1

  validation {
    condition     = var.reserved_concurrent_executions == -1 || (var.reserved_concurrent_executions >= 1 && floor(var.reserved_concurrent_executions) == var.reserved_concurrent_executions)
    error_message = "reserved_concurrent_executions must be -1 (unreserved) or a whole number >= 1; 0 would throttle every invocation."
  }
}

variable "layers" {
  description = "Lambda layer version ARNs (at most 5)."
  type        = list(string)
  default     = []

  validation {
    condition     = length(var.layers) <= 5 && alltrue([for l in var.layers : can(regex("^arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:layer:[A-Za-z0-9_-]+:[0-9]+$", l))])
    error_message = "layers must hold at most 5 layer version ARNs like \"arn:aws:lambda:us-east-1:123456789012:layer:boto3:1\"."
  }
}

variable "environment_variables" {
  description = "Environment variables of the function."
  type        = map(string)
  default     = {}
}

variable "policy_statements" {
  description = "Allow statements of the execution role, beyond writing to its own log group. Each names its actions and resources explicitly."
  type = list(object({
    sid       = string
    actions   = list(string)
    resources = list(string)
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
  description = "Retention of the function's log group, in days (a value CloudWatch Logs accepts)."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653."
  }
}

variable "log_kms_key_arn" {
  description = "KMS key ARN for the log group; null uses the CloudWatch Logs service key. The key policy must allow logs.<region>.amazonaws.com."
  type        = string
  default     = null
}

variable "kms_key_arn" {
  description = "KMS key ARN for the environment variables; null uses the Lambda service key."
  type        = string
  default     = null
}

variable "tracing_mode" {
  description = "X-Ray tracing: \"PassThrough\" (no traces unless the caller samples) or \"Active\" (adds xray:PutTraceSegments and xray:PutTelemetryRecords)."
  type        = string
  default     = "PassThrough"

  validation {
    condition     = contains(["PassThrough", "Active"], var.tracing_mode)
    error_message = "tracing_mode must be \"PassThrough\" or \"Active\"."
  }
}

variable "tags" {
  description = "Tags for every resource of the module."
  type        = map(string)
  default     = {}
}
