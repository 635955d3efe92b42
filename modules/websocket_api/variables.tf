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
    # The name goes into the Lambda permissions' source ARNs and the
    # ManageConnections ARN, which exist before the stage does.
    condition     = can(regex("^[A-Za-z0-9_-]{1,128}$", var.stage_name))
    error_message = "stage_name may hold only letters, digits, hyphens and underscores (1-128 characters), e.g. \"prod\"."
  }
}

variable "lambda_routes" {
  description = "Routes served by Lambda proxy integrations, keyed by route key (\"$connect\", \"$disconnect\" or a custom action)."
  type = map(object({
    function_name = string
    invoke_arn    = string
  }))

  validation {
    condition     = contains(keys(var.lambda_routes), "$connect") && contains(keys(var.lambda_routes), "$disconnect")
    error_message = "lambda_routes must include \"$connect\" and \"$disconnect\"."
  }

  validation {
    # API Gateway reserves route keys that start with "$"; $default is a MOCK route here.
    condition     = alltrue([for k in keys(var.lambda_routes) : contains(["$connect", "$disconnect"], k) || can(regex("^[A-Za-z0-9_.-]{1,128}$", k))])
    error_message = "Custom route keys must be plain action names such as \"subscribe\"; only $connect and $disconnect may start with \"$\" (answer $default through mock_routes)."
  }
}

variable "mock_routes" {
  description = "Routes API Gateway answers itself, without a Lambda: route key (\"$default\" for messages no other route matches, or an action such as \"ping\") => the reply sent back verbatim, a static JSON text."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.mock_routes) : k == "$default" || (can(regex("^[A-Za-z0-9_.-]{1,128}$", k)) && !contains(keys(var.lambda_routes), k))])
    error_message = "mock_routes keys must be \"$default\" or plain action names such as \"ping\" that lambda_routes does not also route."
  }

  validation {
    # The reply is a Velocity template on AWS: "$" and "#" would be evaluated.
    condition     = alltrue([for r in values(var.mock_routes) : can(jsondecode(r)) && !strcontains(r, "$") && !strcontains(r, "#")])
    error_message = "mock_routes replies must be static JSON without \"$\" or \"#\", e.g. jsonencode({ type = \"pong\" })."
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
    # The ARN is built into the authorizer URI; a name would pass the provider.
    condition     = var.authorizer == null || can(regex("^arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:function:[A-Za-z0-9_-]+(:[A-Za-z0-9_$-]+)?$", var.authorizer.function_arn))
    error_message = "authorizer.function_arn must be a Lambda function ARN like \"arn:aws:lambda:us-east-1:123456789012:function:ws-authorizer\"."
  }

  validation {
    # WebSocket identity sources differ from HTTP APIs' "$request.header.X".
    condition     = var.authorizer == null || try(length(var.authorizer.identity_sources) > 0 && alltrue([for s in var.authorizer.identity_sources : can(regex("^(route\\.request\\.(header|querystring)\\.[A-Za-z0-9_-]+|stageVariables\\.[A-Za-z0-9_]+|context\\.[A-Za-z0-9_.]+)$", s))]), false)
    error_message = "authorizer.identity_sources must be a non-empty list like [\"route.request.querystring.token\"] (route.request.header.*, route.request.querystring.*, stageVariables.* or context.*)."
  }
}

variable "throttling_burst_limit" {
  description = "Stage-wide burst limit (requests) for every route."
  type        = number
  default     = 500
}

variable "throttling_rate_limit" {
  description = "Stage-wide steady-state rate limit (requests per second) for every route."
  type        = number
  default     = 1000
}

variable "route_throttling" {
  description = "Throttles of particular routes, keyed by route key (one of lambda_routes or mock_routes): burst_limit (requests) and rate_limit (requests per second). Routes not listed get the stage-wide throttling_* limits."
  type = map(object({
    burst_limit = number
    rate_limit  = number
  }))
  default = {}

  validation {
    condition     = alltrue([for k in keys(var.route_throttling) : contains(concat(keys(var.lambda_routes), keys(var.mock_routes)), k)])
    error_message = "route_throttling keys must be route keys of lambda_routes or mock_routes, e.g. { sync = { burst_limit = 1000, rate_limit = 500 } }."
  }
}

variable "execution_logging_level" {
  description = "Stage execution logging: \"OFF\", \"ERROR\" or \"INFO\". Anything but OFF needs the account-level API Gateway CloudWatch Logs role."
  type        = string
  default     = "OFF"
}

variable "access_logs_enabled" {
  description = "Write access logs to a log group of this module. Needs the account-level API Gateway CloudWatch Logs role."
  type        = bool
  default     = false
}

variable "manage_account_cloudwatch_role" {
  description = "Create the account-level API Gateway CloudWatch Logs role and set it in the account (aws_api_gateway_account), which execution and access logging need. A per-account, per-region singleton shared by every API there: turn it on only where nothing else (another stack, the account baseline) manages it."
  type        = bool
  default     = false
}

variable "access_log_retention_days" {
  description = "Retention of the access log group, in days."
  type        = number
  default     = 30
}

variable "tags" {
  description = "Tags for the API, the stage and the log group."
  type        = map(string)
  default     = {}
}
