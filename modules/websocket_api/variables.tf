variable "name" {
  description = "Name of the API (also prefixes the authorizer and the access log group)."
  type        = string
}

variable "description" {
  description = "Description of the API."
  type        = string
  default     = ""
}

variable "stage_name" {
  description = "Stage name; it is the last path segment of the wss:// URL."
  type        = string
  default     = "prod"

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,128}$", var.stage_name))
    error_message = "stage_name may hold only letters, digits, hyphens and underscores (1-128 characters), e.g. \"prod\"."
  }
}

variable "lambda_routes" {
  description = "Routes served by Lambda proxy integrations, keyed by route key (\"$connect\", \"$disconnect\" or a custom action). $default is managed by the module."
  type = map(object({
    function_name  = string
    invoke_arn     = string
    operation_name = optional(string)
  }))

  validation {
    condition     = contains(keys(var.lambda_routes), "$connect") && contains(keys(var.lambda_routes), "$disconnect") && !contains(keys(var.lambda_routes), "$default")
    error_message = "lambda_routes must include \"$connect\" and \"$disconnect\" and must not include \"$default\" (the module answers unknown actions itself)."
  }

  validation {
    condition     = alltrue([for k in keys(var.lambda_routes) : contains(["$connect", "$disconnect"], k) || can(regex("^[A-Za-z0-9_.-]{1,128}$", k))])
    error_message = "Custom route keys must be plain action names such as \"subscribe\"; only $connect and $disconnect may start with \"$\"."
  }
}

variable "default_route_response" {
  description = "Body sent back, verbatim, to a client whose message matches no route (a static JSON text)."
  type        = string

  validation {
    condition     = can(jsondecode(var.default_route_response)) && !strcontains(var.default_route_response, "$") && !strcontains(var.default_route_response, "#")
    error_message = "default_route_response must be static JSON without \"$\" or \"#\" (it is a Velocity template on AWS)."
  }
}

variable "authorizer" {
  description = "REQUEST Lambda authorizer for $connect; null leaves $connect unauthorized (the connect handler then decides). The function's resource policy is granted to this API."
  type = object({
    function_arn     = string
    identity_sources = optional(list(string), ["route.request.querystring.token"])
  })
  default = null

  validation {
    condition     = var.authorizer == null || can(regex("^arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:function:[A-Za-z0-9_-]+(:[A-Za-z0-9_$-]+)?$", var.authorizer.function_arn))
    error_message = "authorizer.function_arn must be a Lambda function ARN like \"arn:aws:lambda:us-east-1:123456789012:function:ws-authorizer\"."
  }

  validation {
    condition     = var.authorizer == null || try(length(var.authorizer.identity_sources) > 0 && alltrue([for s in var.authorizer.identity_sources : can(regex("^(route\\.request\\.(header|querystring)\\.[A-Za-z0-9_-]+|stageVariables\\.[A-Za-z0-9_]+|context\\.[A-Za-z0-9_.]+)$", s))]), false)
    error_message = "authorizer.identity_sources must be a non-empty list like [\"route.request.querystring.token\"] (route.request.header.*, route.request.querystring.*, stageVariables.* or context.*)."
  }
}

variable "throttling_burst_limit" {
  description = "Stage-wide burst limit (requests) for every route."
  type        = number
  default     = 500

  validation {
    condition     = var.throttling_burst_limit >= 0 && floor(var.throttling_burst_limit) == var.throttling_burst_limit
    error_message = "throttling_burst_limit must be a whole number >= 0."
  }
}

variable "throttling_rate_limit" {
  description = "Stage-wide steady-state rate limit (requests per second) for every route."
  type        = number
  default     = 1000

  validation {
    condition     = var.throttling_rate_limit >= 0
    error_message = "throttling_rate_limit must be >= 0."
  }
}

variable "execution_logging_level" {
  description = "Stage execution logging: \"OFF\", \"ERROR\" or \"INFO\". Anything but OFF needs the account-level API Gateway CloudWatch Logs role."
  type        = string
  default     = "OFF"

  validation {
    condition     = contains(["OFF", "ERROR", "INFO"], var.execution_logging_level)
    error_message = "execution_logging_level must be \"OFF\", \"ERROR\" or \"INFO\"."
  }
}

variable "detailed_metrics_enabled" {
  description = "Per-route CloudWatch metrics (billed as custom metrics)."
  type        = bool
  default     = false
}

variable "access_logs_enabled" {
  description = "Write access logs to a log group of this module. Needs the account-level API Gateway CloudWatch Logs role."
  type        = bool
  default     = false
}

variable "access_log_retention_days" {
  description = "Retention of the access log group, in days (a value CloudWatch Logs accepts)."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.access_log_retention_days)
    error_message = "access_log_retention_days must be one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653."
  }
}

variable "tags" {
  description = "Tags for the API, the stage and the log group."
  type        = map(string)
  default     = {}
}
