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

  validation {
    condition     = can(regex("^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must be an AWS region code such as \"us-east-1\" or \"eu-west-1\"."
  }
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

  validation {
    condition     = contains(["python3.12", "python3.13"], var.lambda_runtime)
    error_message = "lambda_runtime must be \"python3.12\" or \"python3.13\" (the handlers need 3.12+; build the zips with the same LAMBDA_PYTHON)."
  }
}

variable "lambda_architecture" {
  description = "Instruction set of every function; must match LAMBDA_ARCH of make build (wheels are built per architecture)."
  type        = string
  default     = "x86_64"

  validation {
    condition     = contains(["x86_64", "arm64"], var.lambda_architecture)
    error_message = "lambda_architecture must be \"x86_64\" or \"arm64\", the LAMBDA_ARCH the zips were built with."
  }
}

variable "lambda_layer_arns" {
  description = "Layer version ARNs added to every function. Empty on AWS; the local stack passes a boto3 layer because the emulator's Python has none."
  type        = list(string)
  default     = []

  validation {
    condition     = length(var.lambda_layer_arns) <= 5 && alltrue([for l in var.lambda_layer_arns : can(regex("^arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:layer:[A-Za-z0-9_-]+:[0-9]+$", l))])
    error_message = "lambda_layer_arns must hold at most 5 layer version ARNs like \"arn:aws:lambda:us-east-1:123456789012:layer:boto3:1\"."
  }
}

variable "functions" {
  description = "Per-function sizing: memory_size (MB), timeout (s) and reserved_concurrency (-1 = unreserved). The connect path (authorizer, connect, disconnect) reserves 50 each by default: a connect flood is capped there and cannot take the account's concurrency from the stream consumers (set -1 in an account whose concurrency limit is below 250)."
  type = object({
    authorizer = optional(object({
      memory_size          = optional(number, 256)
      timeout              = optional(number, 5)
      reserved_concurrency = optional(number, 50)
    }), {})
    connect = optional(object({
      memory_size          = optional(number, 256)
      timeout              = optional(number, 10)
      reserved_concurrency = optional(number, 50)
    }), {})
    disconnect = optional(object({
      memory_size          = optional(number, 256)
      timeout              = optional(number, 10)
      reserved_concurrency = optional(number, 50)
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
    condition     = alltrue([for f in values(var.functions) : f.memory_size >= 128 && f.memory_size <= 10240 && floor(f.memory_size) == f.memory_size])
    error_message = "functions.*.memory_size must be a whole number of MB between 128 and 10240."
  }

  validation {
    condition     = alltrue([for f in values(var.functions) : f.timeout >= 1 && f.timeout <= 900 && floor(f.timeout) == f.timeout])
    error_message = "functions.*.timeout must be a whole number of seconds between 1 and 900."
  }

  validation {
    # API Gateway gives up on an integration after 29 s.
    # https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html
    condition     = var.functions.connect.timeout <= 29 && var.functions.disconnect.timeout <= 29 && var.functions.authorizer.timeout <= 29
    error_message = "functions.authorizer.timeout, functions.connect.timeout and functions.disconnect.timeout must be at most 29 seconds, API Gateway's integration timeout."
  }

  validation {
    condition     = alltrue([for f in values(var.functions) : f.reserved_concurrency == -1 || (f.reserved_concurrency >= 1 && floor(f.reserved_concurrency) == f.reserved_concurrency)])
    error_message = "functions.*.reserved_concurrency must be -1 (unreserved) or a whole number >= 1; 0 would throttle every invocation."
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

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653."
  }
}

# ---------------------------------------------------------------------------
# WebSocket API
# ---------------------------------------------------------------------------
variable "stage_name" {
  description = "WebSocket stage name (last path segment of the wss:// URL)."
  type        = string
  default     = "prod"

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,128}$", var.stage_name))
    error_message = "stage_name may hold only letters, digits, hyphens and underscores (1-128 characters), e.g. \"prod\"."
  }
}

variable "throttling" {
  description = "Stage-wide throttling of every route: burst_limit (requests) and rate_limit (requests per second)."
  type = object({
    burst_limit = optional(number, 500)
    rate_limit  = optional(number, 1000)
  })
  default = {}

  validation {
    condition     = var.throttling.burst_limit >= 0 && floor(var.throttling.burst_limit) == var.throttling.burst_limit && var.throttling.rate_limit >= 0
    error_message = "throttling.burst_limit must be a whole number >= 0 and throttling.rate_limit a number >= 0."
  }
}

variable "connect_authorizer" {
  description = "REQUEST Lambda authorizer on $connect (its context must carry userId and role); null leaves $connect open and the connect handler refuses connections without an identity."
  type = object({
    function_arn     = string
    identity_sources = optional(list(string), ["route.request.querystring.token"])
  })
  default = null

  validation {
    condition     = var.connect_authorizer == null || can(regex("^arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:function:[A-Za-z0-9_-]+(:[A-Za-z0-9_$-]+)?$", var.connect_authorizer.function_arn))
    error_message = "connect_authorizer.function_arn must be a Lambda function ARN like \"arn:aws:lambda:us-east-1:123456789012:function:ws-authorizer\"."
  }
}

variable "api_logging" {
  description = "Stage logging. execution_level OFF|ERROR|INFO and access_logs both need the account-level API Gateway CloudWatch Logs role (aws_api_gateway_account), which this stack does not manage."
  type = object({
    execution_level = optional(string, "OFF")
    access_logs     = optional(bool, false)
  })
  default = {}

  validation {
    condition     = contains(["OFF", "ERROR", "INFO"], var.api_logging.execution_level)
    error_message = "api_logging.execution_level must be \"OFF\", \"ERROR\" or \"INFO\"."
  }
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
  description = "Let query-string userId/role stand in for an authorizer (ALLOW_QUERY_IDENTITY). Only for the environments in non_production_environments: anyone can claim any identity."
  type        = bool
  default     = false

  validation {
    condition     = !var.allow_query_identity || contains(var.non_production_environments, var.environment)
    error_message = "allow_query_identity = true lets anyone who knows the URL connect as any user and role without a token, so it is refused for environment \"${var.environment}\": it is allowed only in non_production_environments (${join(", ", var.non_production_environments)}). Remove it, and give clients tokens the authorizer accepts."
  }
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

  validation {
    condition     = alltrue([for s in var.alert_subscriptions : contains(["email", "email-json", "sms", "https", "sqs", "lambda"], s.protocol)])
    error_message = "alert_subscriptions[*].protocol must be one of email, email-json, sms, https, sqs or lambda (plain http would send alerts unencrypted: use https)."
  }
}

# ---------------------------------------------------------------------------
# Incidents stream
# ---------------------------------------------------------------------------
variable "incidents_stream_arn" {
  description = "Stream ARN of the Incidents table (NEW_AND_OLD_IMAGES). null deploys without the stream mappings; setting it later adds only the mappings, their dead-letter queues and permissions."
  type        = string
  default     = null

  validation {
    condition     = var.incidents_stream_arn == null || can(regex("^arn:aws[a-z-]*:dynamodb:[a-z0-9-]+:[0-9]{12}:table/[A-Za-z0-9_.-]{3,255}/stream/[0-9T:.-]+$", var.incidents_stream_arn))
    error_message = "incidents_stream_arn must be the table's stream ARN (LatestStreamArn), like \"arn:aws:dynamodb:us-east-1:123456789012:table/Incidents/stream/2024-01-01T00:00:00.000\", not the table ARN; or null."
  }
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

  validation {
    condition     = var.stream_consumer.batch_size >= 1 && var.stream_consumer.batch_size <= 10000 && floor(var.stream_consumer.batch_size) == var.stream_consumer.batch_size
    error_message = "stream_consumer.batch_size must be a whole number between 1 and 10000."
  }

  validation {
    condition     = var.stream_consumer.maximum_batching_window_in_seconds >= 0 && var.stream_consumer.maximum_batching_window_in_seconds <= 300
    error_message = "stream_consumer.maximum_batching_window_in_seconds must be between 0 and 300."
  }

  validation {
    condition     = var.stream_consumer.parallelization_factor >= 1 && var.stream_consumer.parallelization_factor <= 10 && floor(var.stream_consumer.parallelization_factor) == var.stream_consumer.parallelization_factor
    error_message = "stream_consumer.parallelization_factor must be a whole number between 1 and 10."
  }

  validation {
    condition     = var.stream_consumer.maximum_retry_attempts >= 0 && var.stream_consumer.maximum_retry_attempts <= 10000 && floor(var.stream_consumer.maximum_retry_attempts) == var.stream_consumer.maximum_retry_attempts
    error_message = "stream_consumer.maximum_retry_attempts must be a whole number between 0 and 10000; -1 (retry forever) would let one bad record block its shard for the stream's 24 h retention."
  }

  validation {
    condition     = var.stream_consumer.maximum_record_age_in_seconds >= 60 && var.stream_consumer.maximum_record_age_in_seconds <= 604800
    error_message = "stream_consumer.maximum_record_age_in_seconds must be between 60 and 604800; -1 (no limit) would let one bad record block its shard for the stream's 24 h retention."
  }

  validation {
    condition     = contains(["LATEST", "TRIM_HORIZON"], var.stream_consumer.starting_position)
    error_message = "stream_consumer.starting_position must be \"LATEST\" or \"TRIM_HORIZON\"."
  }
}

# ---------------------------------------------------------------------------
# $connect authorizer (built and deployed by this stack)
# ---------------------------------------------------------------------------
variable "authorizer" {
  description = "The stack's own REQUEST authorizer on $connect (functions/authorizer.py): it verifies a JWT and passes userId and role to the connect handler. On unless connect_authorizer brings another; turning it off is refused outside non_production_environments. issuer, audience and exactly one key source are required: jwks_url (an OIDC issuer's key set, e.g. a Cognito user pool's) or secret_parameter_name (the NAME of an SSM SecureString holding an HS256 secret of at least 32 bytes, put there out of band; dev and the local stack). token_source: where API Gateway requires the token before invoking it, \"query\" (?token=) or \"subprotocol\" (Sec-WebSocket-Protocol: bearer, <token>); the function reads either. cache_seconds: how long one execution environment reuses an allow for the same token (0 = off; API Gateway caches authorizer results only for HTTP APIs)."
  type = object({
    enabled               = optional(bool, true)
    issuer                = optional(string)
    audience              = optional(list(string), [])
    jwks_url              = optional(string)
    secret_parameter_name = optional(string)
    secret_kms_key_arn    = optional(string)
    algorithms            = optional(list(string))
    user_id_claim         = optional(string, "sub")
    role_claim            = optional(string, "role")
    token_source          = optional(string, "query")
    leeway_seconds        = optional(number, 30)
    cache_seconds         = optional(number, 0)
  })
  default = {}

  validation {
    condition     = var.authorizer.enabled || var.connect_authorizer != null || contains(var.non_production_environments, var.environment)
    error_message = "authorizer.enabled = false leaves $connect without any authorizer, so it is refused for environment \"${var.environment}\": it is allowed only in non_production_environments (${join(", ", var.non_production_environments)}). Keep the authorizer on (set authorizer.issuer, audience and jwks_url) or bring your own with connect_authorizer = { function_arn = ... }."
  }

  validation {
    condition = !var.authorizer.enabled || var.connect_authorizer != null || (
      try(length(trimspace(var.authorizer.issuer)) > 0, false) &&
      length(var.authorizer.audience) > 0 &&
      (var.authorizer.jwks_url == null) != (var.authorizer.secret_parameter_name == null)
    )
    error_message = "The $connect authorizer needs authorizer.issuer (the tokens' iss), authorizer.audience (their aud, e.g. a Cognito app client id) and exactly one key source: jwks_url = \"https://cognito-idp.<region>.amazonaws.com/<pool id>/.well-known/jwks.json\" or secret_parameter_name = \"/<project>/<env>/connect-authorizer/hs256-secret\". Or bring your own with connect_authorizer, or (non-production environments only) authorizer = { enabled = false }."
  }

  validation {
    condition     = var.authorizer.jwks_url == null || can(regex("^https://[^\\s/]+(/\\S*)?$", var.authorizer.jwks_url))
    error_message = "authorizer.jwks_url must be an https:// URL, e.g. \"https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEf123/.well-known/jwks.json\"."
  }

  validation {
    # https://docs.aws.amazon.com/systems-manager/latest/userguide/sysman-paramstore-su-create.html
    condition     = var.authorizer.secret_parameter_name == null || can(regex("^/?[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$", var.authorizer.secret_parameter_name))
    error_message = "authorizer.secret_parameter_name must be an SSM parameter name such as \"/realtime/dev/connect-authorizer/hs256-secret\" (the name, never the secret: its value is put in SSM out of band as a SecureString)."
  }

  validation {
    condition     = var.authorizer.secret_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$", var.authorizer.secret_kms_key_arn))
    error_message = "authorizer.secret_kms_key_arn must be the KMS key ARN that encrypts the SecureString (not an alias), or null for the AWS managed key aws/ssm."
  }

  validation {
    # One family per key source: an HS256 token is never checked against an RSA public key
    # (HS/RS confusion), and "none" is in neither list.
    condition = var.authorizer.algorithms == null || try(length(var.authorizer.algorithms) > 0 && alltrue([
      for a in var.authorizer.algorithms : contains(
        var.authorizer.secret_parameter_name != null ? ["HS256", "HS384", "HS512"] : ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"],
        a,
      )
    ]), false)
    error_message = "authorizer.algorithms must be a non-empty list of HS256, HS384, HS512 with secret_parameter_name, or of RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA with jwks_url (\"none\" is never allowed); null takes HS256 or RS256."
  }

  validation {
    condition     = can(regex("^[A-Za-z0-9_:.-]{1,64}$", var.authorizer.user_id_claim)) && can(regex("^[A-Za-z0-9_:.-]{1,64}$", var.authorizer.role_claim))
    error_message = "authorizer.user_id_claim and authorizer.role_claim must be claim names such as \"sub\", \"email\", \"cognito:groups\" or \"custom:role\"."
  }

  validation {
    condition     = contains(["query", "subprotocol"], var.authorizer.token_source)
    error_message = "authorizer.token_source must be \"query\" (wss://...?token=<jwt>) or \"subprotocol\" (new WebSocket(url, [\"bearer\", jwt]))."
  }

  validation {
    condition     = var.authorizer.leeway_seconds >= 0 && var.authorizer.leeway_seconds <= 300 && floor(var.authorizer.leeway_seconds) == var.authorizer.leeway_seconds
    error_message = "authorizer.leeway_seconds must be a whole number of seconds between 0 and 300 (clock skew tolerated on exp, nbf and iat)."
  }

  validation {
    condition     = var.authorizer.cache_seconds >= 0 && var.authorizer.cache_seconds <= 3600 && floor(var.authorizer.cache_seconds) == var.authorizer.cache_seconds
    error_message = "authorizer.cache_seconds must be a whole number between 0 (off) and 3600."
  }
}

variable "non_production_environments" {
  description = "Environments where allow_query_identity = true and authorizer.enabled = false are allowed. Everywhere else both are refused at plan, so production cannot be opened by mistake."
  type        = list(string)
  default     = ["local", "dev"]

  validation {
    condition     = alltrue([for e in var.non_production_environments : can(regex("^[a-z][a-z0-9-]{0,11}$", e)) && !can(regex("prod", e))])
    error_message = "non_production_environments must hold environment names (lowercase, like \"dev\"), none of them containing \"prod\"."
  }
}
