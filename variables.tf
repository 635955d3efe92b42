# Validation rules live once, at the layer that uses the value: a value the
# root passes on to a module is checked there (modules/*/variables.tf). A rule
# exists only where neither the type nor the provider catches the mistake at
# plan time: a business limit, or an AWS constraint that would otherwise fail
# late or silently (an alias instead of a key ARN, a table ARN for a stream).
#
# The forms several variables share are said once here; each variable's own
# error message still names it and says what to write.
locals {
  # A KMS key ARN, never an alias (kms_key_arn says why;
  # incidents_stream_kms_key_arn, authorizer.secret_kms_key_arn).
  kms_key_arn_pattern = "^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$"
  # An environment name (environment, non_production_environments).
  environment_name_pattern = "^[a-z][a-z0-9-]{0,11}$"
  # A role or incident status name, as the functions read them from
  # comma-separated lists (allowed_roles, incident_state.closed_statuses,
  # escalation_statuses; the Broadcaster's role names:
  # functions/realtime_common/fanout/views.py).
  lowercase_name_pattern = "^[a-z][a-z0-9_-]{0,31}$"
}

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
    condition     = can(regex(local.environment_name_pattern, var.environment))
    error_message = "environment must be 1-12 lowercase letters, digits or hyphens starting with a letter, e.g. \"dev\"."
  }
  validation {
    # Every name derived from "<project>-<environment>" within its service's
    # limit (limits.tf: local.longest_names), before anything is planned.
    condition = alltrue(flatten([for service, l in local.longest_names : [
      for when, pattern in l.patterns : length(format(pattern, join("-", [var.project, var.environment]))) <= l.limit
      if lookup({ always = true, account_role = var.api_logging.manage_account_role == true, stream = var.incidents_stream_arn != null && var.incidents_stream_arn != "" }, when)
    ]]))
    error_message = "Names derived from project and environment (\"${join("-", [var.project, var.environment])}\", ${length(join("-", [var.project, var.environment]))} characters) exceed AWS limits: ${join("; ", flatten([for service, l in local.longest_names : [
      for when, pattern in l.patterns : "${service} \"${format(pattern, join("-", [var.project, var.environment]))}\" is ${length(format(pattern, join("-", [var.project, var.environment])))} characters, the limit is ${l.limit}"
      if lookup({ always = true, account_role = var.api_logging.manage_account_role == true, stream = var.incidents_stream_arn != null && var.incidents_stream_arn != "" }, when) && length(format(pattern, join("-", [var.project, var.environment]))) > l.limit
      ]]))}. Shorten project and/or environment by ${max(0, flatten([for service, l in local.longest_names : [
      for when, pattern in l.patterns : length(format(pattern, join("-", [var.project, var.environment]))) - l.limit
      if lookup({ always = true, account_role = var.api_logging.manage_account_role == true, stream = var.incidents_stream_arn != null && var.incidents_stream_arn != "" }, when)
    ]])...)} characters in total."
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
    condition     = var.kms_key_arn == null || can(regex(local.kms_key_arn_pattern, var.kms_key_arn))
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
  description = "Per-function sizing: memory_size (MB), timeout (s) and reserved_concurrency, keyed authorizer, connect, disconnect, subscribe, sync, broadcaster, notifier and fanout-worker (the Broadcaster's fan-out worker). Reservations are opt-in (null: unreserved, the default): Lambda keeps 100 of the account's concurrency unreserved and refuses a reservation that would leave less, and a new account's quota may be far below 1,000 (sometimes 10). Reserving also caps: a connect flood is throttled at functions.connect's reservation and cannot take the stream consumers' concurrency. How to size them: docs/deploying.md, \"Concurrency\". A reservation needs account_quotas.lambda_concurrent_executions, so the plan can check it."
  type = object({
    authorizer = optional(object({
      memory_size          = optional(number, 256)
      timeout              = optional(number, 5)
      reserved_concurrency = optional(number)
    }), {})
    connect = optional(object({
      memory_size          = optional(number, 256)
      timeout              = optional(number, 10)
      reserved_concurrency = optional(number)
    }), {})
    disconnect = optional(object({
      memory_size          = optional(number, 256)
      timeout              = optional(number, 10)
      reserved_concurrency = optional(number)
    }), {})
    broadcaster = optional(object({
      memory_size          = optional(number, 512)
      timeout              = optional(number, 60)
      reserved_concurrency = optional(number)
    }), {})
    notifier = optional(object({
      memory_size          = optional(number, 256)
      timeout              = optional(number, 30)
      reserved_concurrency = optional(number)
    }), {})
    # The Broadcaster's fan-out worker (fanout_workers.tf); what it does is in var.fanout.
    fanout-worker = optional(object({
      memory_size          = optional(number, 512)
      timeout              = optional(number, 60)
      reserved_concurrency = optional(number)
    }), {})
    # The sync route's function (sync.handler). Unreserved by default; a reservation also
    # makes the sync's post rate a hard bound (var.sync.post_rate is split over it).
    sync = optional(object({
      memory_size          = optional(number, 512)
      timeout              = optional(number, 10)
      reserved_concurrency = optional(number)
    }), {})
    # The subscribe route's function (subscribe.handler).
    subscribe = optional(object({
      memory_size          = optional(number, 256)
      timeout              = optional(number, 10)
      reserved_concurrency = optional(number)
    }), {})
  })
  default = {}

  validation {
    # API Gateway gives up on an integration after 29 s.
    # https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html
    condition     = var.functions.connect.timeout <= 29 && var.functions.disconnect.timeout <= 29 && var.functions.authorizer.timeout <= 29 && var.functions.sync.timeout <= 29 && var.functions.subscribe.timeout <= 29
    error_message = "functions.authorizer.timeout, functions.connect.timeout, functions.disconnect.timeout, functions.sync.timeout and functions.subscribe.timeout must be at most 29 seconds, API Gateway's integration timeout."
  }

  validation {
    # -1 is what Lambda calls "unreserved"; null says the same and is the default.
    condition     = alltrue([for f in values(var.functions) : f.reserved_concurrency == null || try(f.reserved_concurrency == -1 || (f.reserved_concurrency >= 1 && floor(f.reserved_concurrency) == f.reserved_concurrency), false)])
    error_message = "functions.<name>.reserved_concurrency must be a whole number of at least 1, or left out (null: unreserved), e.g. functions = { connect = { reserved_concurrency = 50 } }; 0 would throttle every invocation."
  }

  validation {
    # Lambda refuses a reservation that leaves fewer than 100 unreserved
    # executions ("decreases account's UnreservedConcurrentExecution below its
    # minimum value of [100]"), but only at apply, halfway through. (The sum
    # is written out each time: a validation cannot read a local built from
    # its own variable.)
    # https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html
    condition = sum(concat([0], [for f in values(var.functions) : f.reserved_concurrency if f.reserved_concurrency != null && f.reserved_concurrency != -1])) == 0 || try(
      sum(concat([0], [for f in values(var.functions) : f.reserved_concurrency if f.reserved_concurrency != null && f.reserved_concurrency != -1])) <= var.account_quotas.lambda_concurrent_executions - local.lambda_unreserved_minimum,
      false,
    )
    error_message = (
      var.account_quotas.lambda_concurrent_executions == null
      ? "functions reserve ${sum(concat([0], [for f in values(var.functions) : f.reserved_concurrency if f.reserved_concurrency != null && f.reserved_concurrency != -1]))} concurrent executions in total, and Lambda refuses any reservation that leaves fewer than ${local.lambda_unreserved_minimum} of the account's quota unreserved: state the quota (Service Quotas > AWS Lambda > Concurrent executions in ${var.region}) as account_quotas = { lambda_concurrent_executions = <value> } so the plan can check it, or leave reserved_concurrency out (unreserved)."
      : "functions reserve ${sum(concat([0], [for f in values(var.functions) : f.reserved_concurrency if f.reserved_concurrency != null && f.reserved_concurrency != -1]))} concurrent executions in total, but the account's quota of ${var.account_quotas.lambda_concurrent_executions} must keep ${local.lambda_unreserved_minimum} unreserved: reserve at most ${max(0, var.account_quotas.lambda_concurrent_executions - local.lambda_unreserved_minimum)} in total (lower or leave out functions.<name>.reserved_concurrency), or request a higher quota (Service Quotas > AWS Lambda > Concurrent executions) first and update account_quotas."
    )
  }

  validation {
    # Fewer reserved executions than workers would throttle some segments on
    # every large fan-out, and their records would fail every retry.
    condition     = var.functions.fanout-worker.reserved_concurrency == null || try(var.functions.fanout-worker.reserved_concurrency == -1 || var.functions.fanout-worker.reserved_concurrency >= var.fanout.max_workers, false)
    error_message = "functions.fanout-worker.reserved_concurrency must be left out (unreserved) or at least fanout.max_workers (${var.fanout.max_workers}): each concurrent Broadcaster invocation runs up to max_workers workers, e.g. functions = { fanout-worker = { reserved_concurrency = ${var.fanout.max_workers * 2} } }."
  }
}

variable "account_quotas" {
  description = "What this AWS account allows in var.region (the Service Quotas console shows both), for the plan's checks: lambda_concurrent_executions (AWS Lambda \"Concurrent executions\"; needed once any function reserves concurrency: Lambda keeps 100 of it unreserved) and api_requests_per_second (Amazon API Gateway's account-level \"Throttle rate\", shared by every REST, HTTP and WebSocket API and every @connections post of the account in the Region; null: the Region's default, 10,000 or 2,500 in the newer Regions)."
  type = object({
    lambda_concurrent_executions = optional(number)
    api_requests_per_second      = optional(number)
  })
  default = {}

  validation {
    condition     = alltrue([for q in values(var.account_quotas) : q == null || try(q >= 1 && floor(q) == q, false)])
    error_message = "account_quotas values must be whole numbers as the Service Quotas console shows them, e.g. account_quotas = { lambda_concurrent_executions = 1000, api_requests_per_second = 10000 }, or left out."
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
  description = "Stage logging. execution_level OFF|ERROR|INFO and access_logs (JSON lines without the query string) both need the account-level API Gateway CloudWatch Logs role, which no data source can read, so with either on the plan asks which case holds: manage_account_role = true creates that role and sets it in the account (aws_api_gateway_account; a fresh account has none), a per-account, per-region singleton, so only where no other stack or account baseline manages it; false says the account already has one (aws apigateway get-account shows its cloudwatchRoleArn)."
  type = object({
    execution_level     = optional(string, "OFF")
    access_logs         = optional(bool, false)
    manage_account_role = optional(bool)
  })
  default = {}

  validation {
    # Without the role, the stage update fails at apply with "CloudWatch Logs
    # role ARN must be set in account settings to enable logging". The AWS
    # provider has no data source for the account setting, so the operator
    # states it. https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-logging.html
    condition     = (var.api_logging.execution_level == "OFF" && !var.api_logging.access_logs) || var.api_logging.manage_account_role != null
    error_message = "api_logging turns on ${var.api_logging.access_logs ? "access logs" : "execution logging"}, which needs the account's API Gateway CloudWatch Logs role in ${var.region} (without it the apply fails with \"CloudWatch Logs role ARN must be set in account settings to enable logging\"). Run `aws apigateway get-account --region ${var.region}`: without a cloudwatchRoleArn (a fresh account) write api_logging = { ..., manage_account_role = true } (this stack creates and sets the role); with one, write manage_account_role = false."
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
    condition     = length(var.allowed_roles) > 0 && alltrue([for r in var.allowed_roles : can(regex(local.lowercase_name_pattern, r))])
    error_message = "allowed_roles must be a non-empty list of lowercase role names (letters, digits, - or _; no commas), e.g. [\"dispatcher\", \"viewer\"]."
  }
}

variable "role_views" {
  description = "What each role's connections receive (ROLE_VIEWS, the Broadcaster's): the whole incident (whole = true) or only the listed top-level attributes. A connection whose role has no view receives nothing; every role in allowed_roles needs one."
  type = map(object({
    whole      = optional(bool, false)
    attributes = optional(list(string), [])
  }))
  default = {
    dispatcher = { whole = true }
    supervisor = { whole = true }
    responder  = { whole = true }
    # A wall board or the public: what, how urgent, where roughly and when; not who reported it,
    # the exact location, casualties or the units sent.
    viewer = { attributes = ["incidentId", "title", "status", "urgency", "type", "area", "createdAt", "updatedAt", "version"] }
  }

  validation {
    condition     = alltrue([for role, view in var.role_views : view.whole != (length(view.attributes) > 0)])
    error_message = "Each role_views entry needs either whole = true (the whole incident) or a non-empty attributes list, not both, e.g. viewer = { attributes = [\"incidentId\", \"title\", \"status\"] }."
  }
  validation {
    condition     = alltrue([for role, view in var.role_views : alltrue([for a in view.attributes : can(regex("^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$", a))])])
    error_message = "role_views attributes must be incident attribute names (letters, digits, _ . : -; starting with a letter or _), e.g. \"updatedAt\"."
  }
  validation {
    condition     = length(setsubtract(var.allowed_roles, keys(var.role_views))) == 0
    error_message = "Every role in allowed_roles needs a view in role_views (its connections would receive nothing): add one for ${join(", ", setsubtract(var.allowed_roles, keys(var.role_views)))}."
  }
  validation {
    condition     = length(setsubtract(keys(var.role_views), var.allowed_roles)) == 0
    error_message = "role_views names roles that cannot connect (not in allowed_roles): ${join(", ", setsubtract(keys(var.role_views), var.allowed_roles))}. Remove them or add them to allowed_roles."
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
# Broadcaster fan-out (the worker's sizing: functions.fanout-worker)
# ---------------------------------------------------------------------------
variable "fanout" {
  description = <<-EOT
    How the Broadcaster delivers a record to every connection (functions/README.md, "Broadcaster delivery semantics"):
    concurrency (posts in flight per Broadcaster or worker invocation, its HTTP connection pool: FANOUT_CONCURRENCY; at 20 ms per post 256 allow about 12,800 posts/s),
    rate (posts per second, retries included, the whole stack's fan-out may make: every Broadcaster invocation that can run at once with its workers together; callbacks count toward API Gateway's account-level throttle, shared with every API of the account in the Region. null: half of what the stack's other sources (sync.post_rate, throttling.rate_limit) leave of that throttle (account_quotas.api_requests_per_second, or the Region's default: 10,000/s, 2,500/s in the newer Regions): 4,000/s with the other defaults, 250/s in a 2,500/s Region. Terraform splits it evenly over the Broadcaster invocations that can run at once, incidents_stream_shards x stream_consumer.parallelization_factor, or functions.broadcaster.reserved_concurrency when that is lower, and gives each its share as FANOUT_RATE; limits.tf checks the stack's total against the throttle),
    post_max_attempts (attempts per post_to_connection on throttling or server errors: POST_MAX_ATTEMPTS),
    worker_threshold (above this many connections the Broadcaster splits the audience into parallel-Scan segments of about that many connections each, one synchronous fan-out worker invocation per segment: FANOUT_WORKER_THRESHOLD) and
    max_workers (at most this many segments: FANOUT_MAX_WORKERS).
  EOT
  type = object({
    concurrency       = optional(number, 256)
    rate              = optional(number)
    post_max_attempts = optional(number, 4)
    worker_threshold  = optional(number, 10000)
    max_workers       = optional(number, 10)
  })
  default = {}

  validation {
    condition     = var.fanout.concurrency >= 1 && var.fanout.concurrency <= 256 && floor(var.fanout.concurrency) == var.fanout.concurrency
    error_message = "fanout.concurrency must be a whole number between 1 and 256 (posts in flight per invocation), e.g. fanout = { concurrency = 128 }."
  }

  validation {
    condition     = var.fanout.rate == null || try(var.fanout.rate >= 1 && var.fanout.rate <= 100000 && floor(var.fanout.rate) == var.fanout.rate, false)
    error_message = "fanout.rate must be a whole number of posts per second between 1 and 100000 for the whole stack, e.g. fanout = { rate = 5000 } (raise the account's API Gateway quota first for more than it allows), or left out (half the Region's account throttle)."
  }

  validation {
    condition     = var.fanout.post_max_attempts >= 1 && var.fanout.post_max_attempts <= 10 && floor(var.fanout.post_max_attempts) == var.fanout.post_max_attempts
    error_message = "fanout.post_max_attempts must be a whole number between 1 and 10, e.g. fanout = { post_max_attempts = 4 }."
  }

  validation {
    condition     = var.fanout.worker_threshold >= 1 && floor(var.fanout.worker_threshold) == var.fanout.worker_threshold
    error_message = "fanout.worker_threshold must be a whole number of connections, at least 1, e.g. fanout = { worker_threshold = 10000 } (10000 keeps small stacks in one invocation)."
  }

  validation {
    condition     = var.fanout.max_workers >= 2 && var.fanout.max_workers <= 1000 && floor(var.fanout.max_workers) == var.fanout.max_workers
    error_message = "fanout.max_workers must be a whole number between 2 and 1000, e.g. fanout = { max_workers = 10 }."
  }
}

# ---------------------------------------------------------------------------
# Incident state (the state table the sync route reads)
# ---------------------------------------------------------------------------
variable "sync" {
  description = <<-EOT
    The sync route (functions/README.md, "Sync"): full_sync_interval_seconds, at most one full sync per connection per this many seconds (SYNC_FULL_INTERVAL_MS; more get sync_throttled with retryAfterMs); cursor_overlap_seconds, how far before a client's cursor a since sync reads again, covering clock skew, writes in flight and the byChange index's propagation (SYNC_CURSOR_OVERLAP_MS); post_rate, the posts per second the sync function may make in total (split evenly over functions.sync.reserved_concurrency, or over expected_concurrency when unreserved: SYNC_POST_RATE per execution environment), which count against the account's API Gateway throttle together with fanout.rate (limits.tf adds them up); route_rate_limit and route_burst_limit, the stage's throttle of the sync route (requests per second, burst).
  EOT
  type = object({
    full_sync_interval_seconds = optional(number, 5)
    cursor_overlap_seconds     = optional(number, 15)
    post_rate                  = optional(number, 1000)
    expected_concurrency       = optional(number, 10)
    route_rate_limit           = optional(number, 500)
    route_burst_limit          = optional(number, 1000)
  })
  default = {}

  validation {
    condition     = var.sync.full_sync_interval_seconds >= 0 && var.sync.full_sync_interval_seconds <= 3600
    error_message = "sync.full_sync_interval_seconds must be between 0 (no throttle) and 3600 seconds, e.g. 5."
  }
  validation {
    # Below a second, a write whose changedAt was taken just before a slow conditional put, or
    # an index update that lags, could land behind a client's cursor and be missed.
    condition     = var.sync.cursor_overlap_seconds >= 1 && var.sync.cursor_overlap_seconds <= 300
    error_message = "sync.cursor_overlap_seconds must be between 1 and 300 seconds, e.g. 15: it must cover clock skew, writes in flight and the byChange index's propagation."
  }
  validation {
    condition     = var.sync.post_rate >= 1 && var.sync.post_rate <= 100000 && floor(var.sync.post_rate) == var.sync.post_rate
    error_message = "sync.post_rate must be a whole number of posts per second between 1 and 100000; with fanout_rate it must stay under the account's API Gateway throttle (10,000/s in most Regions, 2,500/s in some), e.g. 1000."
  }
  validation {
    condition     = var.sync.expected_concurrency >= 1 && floor(var.sync.expected_concurrency) == var.sync.expected_concurrency
    error_message = "sync.expected_concurrency must be a whole number of concurrent sync invocations, at least 1, e.g. 10."
  }
  validation {
    condition     = var.sync.route_rate_limit > 0 && var.sync.route_burst_limit >= 1 && floor(var.sync.route_burst_limit) == var.sync.route_burst_limit
    error_message = "sync.route_rate_limit must be above 0 requests per second and sync.route_burst_limit a whole number of at least 1, e.g. route_rate_limit = 500, route_burst_limit = 1000."
  }
}

variable "subscriptions" {
  description = <<-EOT
    Subscriptions and area-scoped access (functions/README.md, "Subscriptions"): fields, the incident attributes a client may filter on with exact values (FILTER_FIELDS); areas_claim, the token claim listing the areas a user may see, a JSON list or a comma-separated string of patterns ("*", "north", "north/*"), e.g. "custom:areas" for Cognito (AREAS_CLAIM); default_areas, what a token without that claim may see (["*"] = everything, [] = nothing; DEFAULT_AREAS); limits, a requested filter's values per field and total size, and the areas' size, which travels in the authorizer's context (at most 8 KB with the rest of its answer) (FILTER_LIMITS).
  EOT
  type = object({
    fields        = optional(list(string), ["area", "urgency", "type", "status"])
    areas_claim   = optional(string, "areas")
    default_areas = optional(list(string), ["*"])
    limits = optional(object({
      values_per_field = optional(number, 20)
      max_bytes        = optional(number, 2048)
      areas_max_bytes  = optional(number, 4096)
    }), {})
  })
  default = {}

  validation {
    condition     = length(var.subscriptions.fields) > 0 && length(distinct(var.subscriptions.fields)) == length(var.subscriptions.fields) && alltrue([for f in var.subscriptions.fields : can(regex("^[A-Za-z_][A-Za-z0-9_]{0,63}$", f))])
    error_message = "subscriptions.fields must be distinct incident attribute names (letters, digits, _), at least one, e.g. [\"area\", \"urgency\", \"type\", \"status\"]."
  }
  validation {
    condition     = can(regex("^[A-Za-z0-9_:./-]{1,128}$", var.subscriptions.areas_claim))
    error_message = "subscriptions.areas_claim must be a claim name such as \"areas\" or \"custom:areas\" (letters, digits, _ : . / -)."
  }
  validation {
    # The same patterns the authorizer accepts in a token (realtime_common/filters.py).
    condition     = alltrue([for a in var.subscriptions.default_areas : a == "*" || can(regex("^[^*\\s]([^*]*[^*\\s])?(/\\*)?$", a))])
    error_message = "subscriptions.default_areas must list area patterns: \"*\" (every area), an area such as \"north\", or a prefix such as \"north/*\"; [] lets a token without the claim see nothing."
  }
  validation {
    condition     = var.subscriptions.limits.values_per_field >= 1 && var.subscriptions.limits.values_per_field <= 100 && floor(var.subscriptions.limits.values_per_field) == var.subscriptions.limits.values_per_field
    error_message = "subscriptions.limits.values_per_field must be a whole number between 1 and 100, e.g. 20."
  }
  validation {
    # A subscribe message is one WebSocket frame (32 KB).
    condition     = var.subscriptions.limits.max_bytes >= 64 && var.subscriptions.limits.max_bytes <= 16384 && floor(var.subscriptions.limits.max_bytes) == var.subscriptions.limits.max_bytes
    error_message = "subscriptions.limits.max_bytes must be a whole number of bytes between 64 and 16384, e.g. 2048."
  }
  validation {
    # API Gateway refuses an authorizer result over 8 KB; the policy, user id and role need the rest.
    # https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html
    condition     = var.subscriptions.limits.areas_max_bytes >= 2 && var.subscriptions.limits.areas_max_bytes <= 6144 && floor(var.subscriptions.limits.areas_max_bytes) == var.subscriptions.limits.areas_max_bytes
    error_message = "subscriptions.limits.areas_max_bytes must be a whole number of bytes between 2 and 6144 (the authorizer's whole answer must stay under 8 KB), e.g. 4096; grant prefixes such as \"north/*\" rather than many areas."
  }
}

variable "incident_state" {
  description = "The state table: how long removed and closed incidents stay (retention_seconds; STATE_RETENTION_SECONDS) and which statuses close an incident (closed_statuses, compared case-insensitively; CLOSED_STATUSES). A client away for longer than the retention gets a full sync (reset)."
  type = object({
    retention_seconds = optional(number, 86400)
    closed_statuses   = optional(list(string), ["closed", "resolved"])
  })
  default = {}

  validation {
    condition     = var.incident_state.retention_seconds >= 3600 && var.incident_state.retention_seconds <= 2592000 && floor(var.incident_state.retention_seconds) == var.incident_state.retention_seconds
    error_message = "incident_state.retention_seconds must be a whole number between 3600 (one hour) and 2592000 (30 days), e.g. 86400 to keep removed and closed incidents for a day."
  }

  validation {
    condition     = alltrue([for s in var.incident_state.closed_statuses : can(regex(local.lowercase_name_pattern, s))])
    error_message = "incident_state.closed_statuses must be lowercase status names (letters, digits, - or _), e.g. [\"closed\", \"resolved\"]; [] keeps closed incidents until they are removed."
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
    condition     = alltrue([for s in var.escalation_statuses : can(regex(local.lowercase_name_pattern, s))])
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
variable "incidents_stream_kms_key_arn" {
  description = "The customer managed KMS key the Incidents table (and so its stream) is encrypted with, if the Incidents team uses one: the stream readers (Broadcaster, Notifier) get kms:Decrypt on it through DynamoDB only. null: the table uses an AWS owned or AWS managed key, which needs no grant. Its key policy must let this account's roles use it."
  type        = string
  default     = null

  validation {
    condition     = var.incidents_stream_kms_key_arn == null || can(regex(local.kms_key_arn_pattern, var.incidents_stream_kms_key_arn))
    error_message = "incidents_stream_kms_key_arn must be a KMS key ARN like \"arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab\" (not an alias; the Incidents table's SSEDescription.KMSMasterKeyArn), or null."
  }
}

variable "incidents_global_table" {
  description = "Whether the Incidents table is a DynamoDB global table. AWS recommends at most two simultaneous readers per stream shard for a single-Region table and one for a global table; the Broadcaster and the Notifier are two. true: every plan warns, and docs/operations.md (\"Readers of the Incidents stream\") says what to do."
  type        = bool
  default     = false
}

variable "incidents_stream_arn" {
  description = "Stream ARN of the Incidents table (NEW_AND_OLD_IMAGES), not the table ARN. null or \"\" deploys without the stream mappings; setting it later adds only the mappings, their dead-letter queues and permissions."
  type        = string
  default     = null
}

variable "incidents_stream_shards" {
  description = "The most shards the Incidents stream has open at once (one per table partition; `aws dynamodbstreams describe-stream --stream-arn <arn>` lists them, open ones without an EndingSequenceNumber). Lambda runs one Broadcaster invocation per shard and parallelization_factor, so this bounds how many share fanout.rate; count high rather than low (too low lets the stack post faster than fanout.rate). A reserved concurrency on the Broadcaster bounds it too."
  type        = number
  default     = 4

  validation {
    condition     = var.incidents_stream_shards >= 1 && floor(var.incidents_stream_shards) == var.incidents_stream_shards
    error_message = "incidents_stream_shards must be a whole number of shards, at least 1, e.g. incidents_stream_shards = 4."
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
}

# ---------------------------------------------------------------------------
# Monitoring: metrics namespace, operators' topic, alarms, dashboard
# (monitoring.tf; what each alarm means: docs/operations.md)
# ---------------------------------------------------------------------------
variable "operator_subscriptions" {
  description = "Who receives the alarms (the people who run this stack, never the authorities in alert_subscriptions): a list of { protocol (email, email-json, sms, https, sqs, lambda), endpoint }."
  type = list(object({
    protocol = string
    endpoint = string
  }))
  default = []
}

variable "monitoring" {
  description = <<-EOT
    Metrics namespace, alarm thresholds and the runbook the alarms link to:
    alarms (false leaves every alarm out: for an emulator that cannot read alarms back),
    namespace (null: "<project>-<environment>"), runbook_url (docs/operations.md wherever operators read it),
    period_seconds of every alarm, iterator_age_ms (stream lag), errors and throttles (per function and period),
    fanout_duration_fraction (of the broadcaster's timeout), records_failed (per consumer and period), api_errors
    (IntegrationError or ExecutionError per period), duplicate_alerts (suppressed per period) and
    no_alerts_hours (null: no "no alerts published" alarm).
  EOT
  type = object({
    alarms                   = optional(bool, true)
    namespace                = optional(string)
    runbook_url              = optional(string, "docs/operations.md")
    period_seconds           = optional(number, 300)
    iterator_age_ms          = optional(number, 300000)
    errors                   = optional(number, 1)
    throttles                = optional(number, 1)
    fanout_duration_fraction = optional(number, 0.8)
    records_failed           = optional(number, 1)
    api_errors               = optional(number, 5)
    duplicate_alerts         = optional(number, 20)
    no_alerts_hours          = optional(number)
  })
  default = {}

  validation {
    # https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_MetricDatum.html
    condition     = var.monitoring.namespace == null || can(regex("^[A-Za-z0-9._/#:-][A-Za-z0-9._/#: -]{0,254}$", var.monitoring.namespace)) && !startswith(coalesce(var.monitoring.namespace, "-"), "AWS/")
    error_message = "monitoring.namespace must be 1-255 letters, digits, spaces or . _ / # : - and must not start with \"AWS/\" (reserved for AWS services), e.g. \"realtime-prod\"; or null for \"<project>-<environment>\"."
  }

  validation {
    # A function close to its timeout is cut off before it reaches every connection.
    condition     = var.monitoring.fanout_duration_fraction > 0 && var.monitoring.fanout_duration_fraction < 1
    error_message = "monitoring.fanout_duration_fraction must be between 0 and 1 (exclusive), e.g. 0.8 to alarm at 80% of the broadcaster's timeout."
  }

  validation {
    # CloudWatch alarm periods: 10, 30 or a multiple of 60 seconds; these metrics are standard
    # resolution, so a multiple of 60.
    condition     = var.monitoring.period_seconds >= 60 && var.monitoring.period_seconds % 60 == 0
    error_message = "monitoring.period_seconds must be a multiple of 60 (seconds), e.g. 300."
  }

  validation {
    # The alarm evaluates one-hour periods; CloudWatch evaluates at most one day of them.
    condition     = var.monitoring.no_alerts_hours == null || try(var.monitoring.no_alerts_hours >= 1 && var.monitoring.no_alerts_hours <= 24 && floor(var.monitoring.no_alerts_hours) == var.monitoring.no_alerts_hours, false)
    error_message = "monitoring.no_alerts_hours must be a whole number of hours between 1 and 24, or null to leave the alarm out."
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
    condition     = var.authorizer.secret_kms_key_arn == null || can(regex(local.kms_key_arn_pattern, var.authorizer.secret_kms_key_arn))
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
    condition     = alltrue([for e in var.non_production_environments : can(regex(local.environment_name_pattern, e)) && !can(regex("prod", e))])
    error_message = "non_production_environments must hold environment names (lowercase, like \"dev\"), none of them containing \"prod\"."
  }
}

# ---------------------------------------------------------------------------
# Removed variables: declared only so that tfvars still setting them fail at
# plan with what to write instead (an undeclared variable in a tfvars file is
# only a warning, and its value would be silently ignored).
# ---------------------------------------------------------------------------
variable "fanout_concurrency" {
  description = "Removed: use fanout.concurrency. Setting it fails at plan."
  type        = number
  default     = null

  validation {
    condition     = var.fanout_concurrency == null
    error_message = "fanout_concurrency was replaced by fanout.concurrency: write fanout = { concurrency = ${coalesce(var.fanout_concurrency, 256)} } (add it to your fanout object if you have one) and remove fanout_concurrency."
  }
}

variable "post_max_attempts" {
  description = "Removed: use fanout.post_max_attempts. Setting it fails at plan."
  type        = number
  default     = null

  validation {
    condition     = var.post_max_attempts == null
    error_message = "post_max_attempts was replaced by fanout.post_max_attempts: write fanout = { post_max_attempts = ${coalesce(var.post_max_attempts, 4)} } (add it to your fanout object if you have one) and remove post_max_attempts."
  }
}

variable "fanout_rate" {
  description = "Removed: use fanout.rate. Setting it fails at plan."
  type        = number
  default     = null

  validation {
    condition     = var.fanout_rate == null
    error_message = "fanout_rate was replaced by fanout.rate: write fanout = { rate = ${coalesce(var.fanout_rate, 8000)} } (add it to your fanout object if you have one) and remove fanout_rate. fanout.rate is the whole stack's rate, split over the Broadcaster invocations that can run at once (incidents_stream_shards x stream_consumer.parallelization_factor): to keep each invocation's old rate, multiply by their number, within the account's API Gateway throttle (output api_request_budget)."
  }
}

variable "fanout_workers" {
  description = "Removed: threshold and max_workers moved to fanout (worker_threshold, max_workers), the worker's memory_size, timeout and reserved_concurrency to functions.fanout-worker. Setting it fails at plan."
  type = object({
    threshold            = optional(number)
    max_workers          = optional(number)
    memory_size          = optional(number)
    timeout              = optional(number)
    reserved_concurrency = optional(number)
  })
  default = null

  validation {
    condition = var.fanout_workers == null
    # The new objects with only the attributes that were set (a validation
    # cannot read a local built from its own variable: a cycle).
    error_message = format(
      "fanout_workers was split between fanout (when and how wide to fan out) and functions.fanout-worker (the worker's sizing, like every other function's): %s.",
      join("", [
        for lines in [[
          for line in [
            { object = "fanout = { %s }", attributes = { worker_threshold = try(var.fanout_workers.threshold, null), max_workers = try(var.fanout_workers.max_workers, null) } },
            { object = "functions = { fanout-worker = { %s } }", attributes = { memory_size = try(var.fanout_workers.memory_size, null), timeout = try(var.fanout_workers.timeout, null), reserved_concurrency = try(var.fanout_workers.reserved_concurrency, null) } },
          ] : format(line.object, join(", ", [for k, v in line.attributes : format("%s = %s", k, v) if v != null]))
          if length([for v in values(line.attributes) : v if v != null]) > 0
        ]] : length(lines) > 0 ? format("write %s (merged into your fanout and functions objects if you have them) and remove fanout_workers", join(" and ", lines)) : "remove fanout_workers (an empty one sets nothing)"
      ]),
    )
  }
}
