# Validation rules live once, at the layer that uses the value: a value the
# root passes on to a module is checked there (modules/*/variables.tf). A rule
# exists only where neither the type nor the provider catches the mistake at
# plan time: a business limit, or an AWS constraint that would otherwise fail
# late or silently (an alias instead of a key ARN, a table ARN for a stream).

# ---------------------------------------------------------------------------
# Naming and placement
# ---------------------------------------------------------------------------
variable "project" {
  description = "Project name; prefixes every resource name (<project>-<environment>-...)."
  type        = string
  default     = "realtime"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,19}$", var.project))
    error_message = "project must be 2-20 lowercase letters, digits or hyphens starting with a letter, e.g. \"realtime\"."
  }
}

variable "environment" {
  description = "Environment name (dev, prod, local, ...); part of every resource name."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,11}$", var.environment))
    error_message = "environment must be 1-12 lowercase letters, digits or hyphens starting with a letter, e.g. \"dev\"."
  }
}

variable "region" {
  description = "AWS region of the stack."
  type        = string
  default     = "us-east-1"
}

variable "tags" {
  description = "Extra tags on every resource (Project, Environment and ManagedBy are always set)."
  type        = map(string)
  default     = {}
}

variable "kms_key_arn" {
  description = "Customer managed KMS key for the tables, the alerts topic and the dead-letter queues; null uses AWS managed keys (aws/dynamodb, alias/aws/sns, SSE-SQS). Its key policy must let those services and the function roles use it."
  type        = string
  default     = null

  validation {
    # The roles are granted the key by ARN: a grant on an alias ARN does not
    # cover the key, and DynamoDB takes only a key ARN.
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN like \"arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab\" (not an alias), or null."
  }
}

# ---------------------------------------------------------------------------
# Lambda functions
# ---------------------------------------------------------------------------
variable "artifacts_dir" {
  description = "Directory holding connection_manager.zip, broadcaster.zip and notifier.zip (make build). null means build/ next to this root module."
  type        = string
  default     = null
}

variable "lambda_runtime" {
  description = "Python runtime of every function; must match LAMBDA_PYTHON of make build."
  type        = string
  default     = "python3.12"
}

variable "lambda_architecture" {
  description = "Instruction set of every function; must match LAMBDA_ARCH of make build (wheels are built per architecture)."
  type        = string
  default     = "x86_64"
}

variable "lambda_layer_arns" {
  description = "Layer version ARNs added to every function. Empty on AWS; the local stack passes a boto3 layer because the emulator's Python has none."
  type        = list(string)
  default     = []
}

variable "functions" {
  description = "Per-function sizing: memory_size (MB), timeout (s) and reserved_concurrency (-1 = unreserved)."
  type = object({
    connect = optional(object({
      memory_size          = optional(number, 256)
      timeout              = optional(number, 10)
      reserved_concurrency = optional(number, -1)
    }), {})
    disconnect = optional(object({
      memory_size          = optional(number, 256)
      timeout              = optional(number, 10)
      reserved_concurrency = optional(number, -1)
    }), {})
    broadcaster = optional(object({
      memory_size          = optional(number, 512)
      timeout              = optional(number, 60)
      reserved_concurrency = optional(number, -1)
    }), {})
    notifier = optional(object({
      memory_size          = optional(number, 256)
      timeout              = optional(number, 30)
      reserved_concurrency = optional(number, -1)
    }), {})
  })
  default = {}

  validation {
    # API Gateway gives up on an integration after 29 s.
    # https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html
    condition     = var.functions.connect.timeout <= 29 && var.functions.disconnect.timeout <= 29
    error_message = "functions.connect.timeout and functions.disconnect.timeout must be at most 29 seconds, API Gateway's integration timeout."
  }
}

variable "log_level" {
  description = "LOG_LEVEL of every function."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"], var.log_level)
    error_message = "log_level must be DEBUG, INFO, WARNING, ERROR or CRITICAL."
  }
}

variable "log_retention_days" {
  description = "Retention of the functions' (and the API's access) log groups, in days."
  type        = number
  default     = 30
}

# ---------------------------------------------------------------------------
# WebSocket API
# ---------------------------------------------------------------------------
variable "stage_name" {
  description = "WebSocket stage name (last path segment of the wss:// URL)."
  type        = string
  default     = "prod"
}

variable "throttling" {
  description = "Stage-wide throttling of every route: burst_limit (requests) and rate_limit (requests per second)."
  type = object({
    burst_limit = optional(number, 500)
    rate_limit  = optional(number, 1000)
  })
  default = {}
}

variable "connect_authorizer" {
  description = "REQUEST Lambda authorizer on $connect (its context must carry userId and role); null leaves $connect open and the connect handler refuses connections without an identity."
  type = object({
    function_arn     = string
    identity_sources = optional(list(string), ["route.request.querystring.token"])
  })
  default = null
}

variable "api_logging" {
  description = "Stage logging. execution_level OFF|ERROR|INFO and access_logs (JSON lines without the query string) both need the account-level API Gateway CloudWatch Logs role. manage_account_role = true creates that role and sets it in the account (aws_api_gateway_account): a per-account, per-region singleton, so only where no other stack or account baseline manages it."
  type = object({
    execution_level     = optional(string, "OFF")
    access_logs         = optional(bool, false)
    manage_account_role = optional(bool, false)
  })
  default = {}
}

variable "management_endpoint_override" {
  description = "Local emulators only: template of WS_CALLBACK_URL with {api_id} and {stage} placeholders, e.g. \"http://127.0.0.1:4566/_aws/execute-api/{api_id}/{stage}\". null (the default) uses the real https://{api_id}.execute-api.{region}.amazonaws.com/{stage}."
  type        = string
  default     = null

  validation {
    condition     = var.management_endpoint_override == null || can(regex("^https?://[^\\s]+$", var.management_endpoint_override))
    error_message = "management_endpoint_override must be null or an http(s) URL template such as \"http://127.0.0.1:4566/_aws/execute-api/{api_id}/{stage}\"."
  }
}

# ---------------------------------------------------------------------------
# Connections
# ---------------------------------------------------------------------------
variable "allowed_roles" {
  description = "Roles a client may connect with (ALLOWED_ROLES)."
  type        = list(string)
  default     = ["dispatcher", "responder", "supervisor", "viewer"]

  validation {
    condition     = length(var.allowed_roles) > 0 && alltrue([for r in var.allowed_roles : can(regex("^[a-z][a-z0-9_-]{0,31}$", r))])
    error_message = "allowed_roles must be a non-empty list of lowercase role names (letters, digits, - or _; no commas), e.g. [\"dispatcher\", \"viewer\"]."
  }
}

variable "allow_query_identity" {
  description = "Let query-string userId/role stand in for an authorizer (ALLOW_QUERY_IDENTITY). Local and dev only: anyone can claim any identity."
  type        = bool
  default     = false
}

variable "connection_ttl_seconds" {
  description = "Lifetime of a Connections row (CONNECTION_TTL_SECONDS); API Gateway closes connections after 2 h at most."
  type        = number
  default     = 7200

  validation {
    condition     = var.connection_ttl_seconds >= 60 && var.connection_ttl_seconds <= 7200 && floor(var.connection_ttl_seconds) == var.connection_ttl_seconds
    error_message = "connection_ttl_seconds must be a whole number between 60 and 7200 (a WebSocket connection lives at most 2 hours)."
  }
}

variable "point_in_time_recovery" {
  description = "Point-in-time recovery of the Connections and idempotency tables."
  type        = bool
  default     = true
}

variable "deletion_protection" {
  description = "Deletion protection of the tables (turn off before destroying)."
  type        = bool
  default     = false
}

# ---------------------------------------------------------------------------
# Broadcaster
# ---------------------------------------------------------------------------
variable "fanout_concurrency" {
  description = "Concurrent post_to_connection calls per Broadcaster invocation (FANOUT_CONCURRENCY)."
  type        = number
  default     = 32

  validation {
    condition     = var.fanout_concurrency >= 1 && var.fanout_concurrency <= 256 && floor(var.fanout_concurrency) == var.fanout_concurrency
    error_message = "fanout_concurrency must be a whole number between 1 and 256."
  }
}

variable "post_max_attempts" {
  description = "Attempts per post_to_connection on throttling or server errors (POST_MAX_ATTEMPTS)."
  type        = number
  default     = 4

  validation {
    condition     = var.post_max_attempts >= 1 && var.post_max_attempts <= 10 && floor(var.post_max_attempts) == var.post_max_attempts
    error_message = "post_max_attempts must be a whole number between 1 and 10."
  }
}

# ---------------------------------------------------------------------------
# Notifier and alerts
# ---------------------------------------------------------------------------
variable "alert_urgencies" {
  description = "Urgencies that raise an alert (ALERT_URGENCIES)."
  type        = list(string)
  default     = ["high", "critical"]

  validation {
    condition     = length(var.alert_urgencies) > 0 && alltrue([for u in var.alert_urgencies : contains(["low", "medium", "high", "critical"], u)])
    error_message = "alert_urgencies must be a non-empty subset of low, medium, high and critical."
  }
}

variable "escalation_statuses" {
  description = "Statuses whose arrival raises an alert (ESCALATION_STATUSES)."
  type        = list(string)
  default     = ["escalated"]

  validation {
    condition     = alltrue([for s in var.escalation_statuses : can(regex("^[a-z][a-z0-9_-]{0,31}$", s))])
    error_message = "escalation_statuses must be lowercase status names (letters, digits, - or _; no commas), e.g. [\"escalated\"]."
  }

  validation {
    # An empty list would reach the notifier as ESCALATION_STATUSES="", which
    # it reads as unset: the default "escalated" would still raise alerts.
    condition     = length(var.escalation_statuses) > 0
    error_message = "escalation_statuses must name at least one status, e.g. [\"escalated\"]; an empty list would not turn escalation alerts off (the notifier reads it as the default \"escalated\")."
  }
}

variable "idempotency_ttl_seconds" {
  description = "How long the Notifier remembers a processed record (IDEMPOTENCY_TTL_SECONDS); at least the stream's 24 h retention."
  type        = number
  default     = 172800

  validation {
    condition     = var.idempotency_ttl_seconds >= 86400 && var.idempotency_ttl_seconds <= 2592000 && floor(var.idempotency_ttl_seconds) == var.idempotency_ttl_seconds
    error_message = "idempotency_ttl_seconds must be a whole number between 86400 (a stream record can be redelivered for up to 24 hours) and 2592000 (30 days)."
  }
}

variable "alert_subscriptions" {
  description = "Who receives alerts: a list of { protocol (email, email-json, sms, https, sqs, lambda), endpoint, filter_policy (JSON or null) }."
  type = list(object({
    protocol      = string
    endpoint      = string
    filter_policy = optional(string)
  }))
  default = []
}

# ---------------------------------------------------------------------------
# Incidents stream
# ---------------------------------------------------------------------------
variable "incidents_stream_arn" {
  description = "Stream ARN of the Incidents table (NEW_AND_OLD_IMAGES), not the table ARN. null or \"\" deploys without the stream mappings; setting it later adds only the mappings, their dead-letter queues and permissions."
  type        = string
  default     = null
}

variable "stream_consumer" {
  description = "Settings of both stream mappings. Retries and record age are finite on purpose (-1 is rejected)."
  type = object({
    batch_size                         = optional(number, 100)
    maximum_batching_window_in_seconds = optional(number, 0)
    parallelization_factor             = optional(number, 1)
    maximum_retry_attempts             = optional(number, 5)
    maximum_record_age_in_seconds      = optional(number, 3600)
    starting_position                  = optional(string, "LATEST")
  })
  default = {}
}
