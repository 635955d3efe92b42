# Realtime incident notifications: WebSocket API, Connections table, four
# Lambda functions with their own roles, an SNS alerts topic and, once the
# Incidents stream ARN is known, the stream mappings. The Incidents table
# itself belongs to another team and is not created here.

# The account and partition, for ARNs built from names (known at plan time).
data "aws_partition" "current" {}

data "aws_caller_identity" "current" {}

locals {
  name          = "${var.project}-${var.environment}"
  artifacts_dir = coalesce(var.artifacts_dir, "${path.module}/build")

  # Names the root gives, derived from project and environment (the modules
  # derive theirs from these): limits.tf checks every one against its
  # service's limit at plan.
  names = {
    connections_table = "${local.name}-connections"
    idempotency_table = "${local.name}-idempotency"
    state_table       = "${local.name}-state"
    alerts_topic      = "${local.name}-alerts"
    operators_topic   = "${local.name}-operators"
    api               = "${local.name}-websocket"
  }

  # connect and disconnect share one package (connection_manager.py).
  packages = {
    authorizer         = "${local.artifacts_dir}/authorizer.zip"
    connection_manager = "${local.artifacts_dir}/connection_manager.zip"
    broadcaster        = "${local.artifacts_dir}/broadcaster.zip"
    notifier           = "${local.artifacts_dir}/notifier.zip"
  }

  common_environment = {
    LOG_LEVEL               = var.log_level
    POWERTOOLS_SERVICE_NAME = var.project
    # The metrics contract (functions/realtime_common/metrics.py, monitoring.tf).
    POWERTOOLS_METRICS_NAMESPACE = local.metrics_namespace
    ENVIRONMENT                  = var.environment
  }

  # Take the management endpoint from Terraform, not from an event's
  # domainName (that breaks behind custom domains).
  # {stage} is the input, not the stage resource, which comes after the
  # routes and so after the functions they invoke.
  management_url = (
    var.management_endpoint_override == null
    ? module.websocket_api.management_endpoint
    : replace(replace(var.management_endpoint_override, "{api_id}", module.websocket_api.api_id), "{stage}", var.stage_name)
  )

  # Replies API Gateway sends itself (MOCK), keyed by route. Clients mostly
  # listen: besides sync and subscribe (Lambda routes) the only action is ping, a
  # keep-alive, because API Gateway closes a connection after 10 minutes
  # without traffic (and after 2 hours in any case). Any other message gets
  # the $default error frame.
  # https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html#apigateway-execution-service-websocket-limits-table
  mock_routes = {
    "$default" = jsonencode({
      type    = "error"
      error   = "unknown_action"
      message = "This API accepts the ping action (answered with pong), the subscribe action (answered with subscribed) and the sync action (answered with the incidents); it pushes incident updates. Connect, subscribe, sync and listen."
    })
    ping = jsonencode({ type = "pong" })
  }

  # "" (as in -var incidents_stream_arn=) means "no stream yet", like null.
  incidents_stream_arn = var.incidents_stream_arn == "" ? null : var.incidents_stream_arn
  stream_enabled       = local.incidents_stream_arn != null
}

# ---------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------
# Every table of the stack, by key: its keys, TTL attribute and indexes. What
# every table has alike (point-in-time recovery, deletion protection, the
# stack's key) is said once, in module "table"; what depends on "the stack's
# tables" is derived from this map, never from a list of its own: the grant of
# kms_key_arn to each role that uses a table (below) and the name-length check
# (limits.tf). A new table joins here.
locals {
  table_definitions = {
    connections = { hash_key = "pk", range_key = "sk", ttl_attribute = "expiresAt", global_secondary_indexes = {} }
    # Powertools idempotency persistence layer defaults: key "id", TTL "expiration".
    # https://docs.powertools.aws.dev/lambda/python/latest/utilities/idempotency/
    idempotency = { hash_key = "id", range_key = null, ttl_attribute = "expiration", global_secondary_indexes = {} }
    # Each incident's latest state, written by the Broadcaster before it fans
    # the change out and read by the sync route (schema: functions/
    # realtime_common/state.py). Readers filter expiresAt themselves: TTL
    # deletes within days. byChange keeps every item under one feed key: a
    # single partition takes about 1,000 writes/s, far above the rate
    # incidents change.
    # https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html
    state = {
      hash_key      = "pk"
      range_key     = "sk"
      ttl_attribute = "expiresAt"
      global_secondary_indexes = {
        byChange = { hash_key = "feed", range_key = "changedAt", range_key_type = "N" }
      }
    }
  }

  tables = module.table
}

module "table" {
  source   = "./modules/dynamodb_table"
  for_each = local.table_definitions

  name                     = local.names["${each.key}_table"]
  hash_key                 = each.value.hash_key
  range_key                = each.value.range_key
  ttl_attribute            = each.value.ttl_attribute
  global_secondary_indexes = each.value.global_secondary_indexes
  point_in_time_recovery   = var.point_in_time_recovery
  deletion_protection      = var.deletion_protection
  kms_key_arn              = var.kms_key_arn
}

# Before the map, each table was a module call of its own.
moved {
  from = module.connections_table
  to   = module.table["connections"]
}

moved {
  from = module.idempotency_table
  to   = module.table["idempotency"]
}

moved {
  from = module.state_table
  to   = module.table["state"]
}

# ---------------------------------------------------------------------------
# Alerts topic
# ---------------------------------------------------------------------------
module "alerts_topic" {
  source = "./modules/alerts_topic"

  name          = local.names.alerts_topic
  display_name  = "Incident alerts"
  kms_key_id    = var.kms_key_arn
  subscriptions = var.alert_subscriptions
}

# ---------------------------------------------------------------------------
# Functions
# ---------------------------------------------------------------------------
locals {
  # What sets the functions apart, known before anything exists: the keys
  # (and only they) drive the for_each of module.function. The $connect
  # authorizer joins them when this stack builds it (authorizer.tf), the
  # Broadcaster's fan-out worker always (fanout_workers.tf).
  functions = merge(local.authorizer_functions, local.fanout_worker_functions, {
    connect = {
      description = "WebSocket $connect: records the connection"
      handler     = "connection_manager.on_connect"
      package     = "connection_manager"
    }
    disconnect = {
      description = "WebSocket $disconnect: removes the connection"
      handler     = "connection_manager.on_disconnect"
      package     = "connection_manager"
    }
    broadcaster = {
      description = "Incidents stream -> every open WebSocket connection"
      handler     = "broadcaster.handler"
      package     = "broadcaster"
    }
    notifier = {
      description = "Incidents stream -> SNS alert when urgent or escalated"
      handler     = "notifier.handler"
      package     = "notifier"
    }
    # The broadcaster's zip too: it posts its answer over the same wire client
    # as sync (the connect zip stays small, without aiohttp).
    subscribe = {
      description = "WebSocket subscribe route: stores the connection's effective filter"
      handler     = "subscribe.handler"
      package     = "broadcaster"
    }
    # The same zip as the broadcaster: the same wire client and role views.
    sync = {
      description = "WebSocket sync route: the incidents on open, exact catch-up after a gap"
      handler     = "sync.handler"
      package     = "broadcaster"
    }
  })

  # Known from the configuration alone (limits.tf checks the lengths).
  function_name = { for k in keys(local.functions) : k => "${local.name}-${k}" }

  # Environment and permissions name other resources (the broadcaster's name
  # the WebSocket API, whose routes invoke connect and disconnect), so they
  # are looked up by key inside module.function, never iterated over.
  connection_environment = merge({
    CONNECTIONS_TABLE      = local.tables.connections.name
    ALLOWED_ROLES          = join(",", var.allowed_roles)
    ALLOW_QUERY_IDENTITY   = tostring(var.allow_query_identity)
    CONNECTION_TTL_SECONDS = tostring(var.connection_ttl_seconds)
  }, local.filter_environment)

  # The subscription settings (realtime_common/filters.py reads them): the
  # authorizer, $connect (a filter in the query string) and subscribe.
  filter_environment = {
    FILTER_FIELDS = jsonencode(var.subscriptions.fields)
    FILTER_LIMITS = jsonencode(var.subscriptions.limits)
    DEFAULT_AREAS = jsonencode(var.subscriptions.default_areas)
  }

  # The state table's settings (realtime_common/state.py reads them), for
  # every function that writes or reads it.
  state_environment = {
    STATE_TABLE             = local.tables.state.name
    STATE_RETENTION_SECONDS = tostring(var.incident_state.retention_seconds)
    CLOSED_STATUSES         = jsonencode(var.incident_state.closed_statuses)
  }

  function_environment = {
    authorizer = local.authorizer_environment
    connect    = local.connection_environment
    disconnect = local.connection_environment
    # fanout_workers.tf; the workers get the role views' messages, the default
    # areas and the images cut to the filterable fields in their job.
    broadcaster = merge(local.fanout_delivery_environment, local.fanout_broadcaster_environment, {
      ROLE_VIEWS = jsonencode(var.role_views)
    }, local.state_environment, local.filter_environment)
    fanout-worker = local.fanout_delivery_environment
    # Its answer is one small post per request, paced like the sync's answers.
    subscribe = merge({
      CONNECTIONS_TABLE = local.tables.connections.name
      WS_CALLBACK_URL   = local.management_url
      POST_MAX_ATTEMPTS = tostring(var.fanout.post_max_attempts)
      POST_RATE         = tostring(local.sync_post_rate_per_environment)
    }, local.filter_environment)
    sync = merge({
      CONNECTIONS_TABLE      = local.tables.connections.name
      WS_CALLBACK_URL        = local.management_url
      POST_MAX_ATTEMPTS      = tostring(var.fanout.post_max_attempts)
      ROLE_VIEWS             = jsonencode(var.role_views)
      SYNC_FULL_INTERVAL_MS  = tostring(floor(var.sync.full_sync_interval_seconds * 1000))
      SYNC_CURSOR_OVERLAP_MS = tostring(floor(var.sync.cursor_overlap_seconds * 1000))
      SYNC_POST_RATE         = tostring(local.sync_post_rate_per_environment)
      # A row without areas (written before subscriptions) gets the default.
      DEFAULT_AREAS = jsonencode(var.subscriptions.default_areas)
    }, local.state_environment)
    notifier = {
      SNS_TOPIC_ARN           = module.alerts_topic.arn
      IDEMPOTENCY_TABLE       = local.tables.idempotency.name
      ALERT_URGENCIES         = join(",", var.alert_urgencies)
      ESCALATION_STATUSES     = join(",", var.escalation_statuses)
      IDEMPOTENCY_TTL_SECONDS = tostring(var.idempotency_ttl_seconds)
    }
  }

  # Posting to connections over the management API: the Broadcaster and its
  # workers (fanout_workers.tf), sync (sync.tf) and subscribe, said once.
  # https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-websocket-control-access-iam.html
  post_to_connections_statement = {
    sid       = "PostToConnections"
    actions   = ["execute-api:ManageConnections"]
    resources = [module.websocket_api.manage_connections_arn]
  }

  function_policy_statements = {
    authorizer = local.authorizer_policy_statements
    connect = [{
      sid       = "WriteConnections"
      actions   = ["dynamodb:PutItem"]
      resources = [local.tables.connections.arn]
    }]
    disconnect = [{
      sid       = "DeleteConnections"
      actions   = ["dynamodb:DeleteItem"]
      resources = [local.tables.connections.arn]
    }]
    broadcaster = concat(local.fanout_delivery_statements, [{
      # One conditional PutItem per incident (attribute_not_exists(pk) OR
      # seqSort < :new): the Broadcaster never reads the state table.
      sid       = "WriteIncidentState"
      actions   = ["dynamodb:PutItem"]
      resources = [local.tables.state.arn]
    }])
    fanout-worker = local.fanout_delivery_statements
    subscribe = [
      {
        # GetItem reads the connection's own row (its areas); UpdateItem
        # stores the effective filter, only while the row exists.
        sid       = "StoreOwnFilter"
        actions   = ["dynamodb:GetItem", "dynamodb:UpdateItem"]
        resources = [local.tables.connections.arn]
      },
      # The subscribed (or error) answer to the connection that asked.
      local.post_to_connections_statement,
    ]
    sync = local.sync_policy_statements # sync.tf
    notifier = concat(
      [
        {
          sid       = "PublishAlerts"
          actions   = ["sns:Publish"]
          resources = [module.alerts_topic.arn]
        },
        {
          # Powertools idempotency: get, put (conditional), update, delete.
          sid       = "IdempotencyRecords"
          actions   = ["dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]
          resources = [local.tables.idempotency.arn]
        },
      ],
      # Publishing to a topic encrypted with a customer managed key needs the
      # key, and only through SNS.
      # https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html
      var.kms_key_arn == null ? [] : [{
        sid       = "EncryptAlerts"
        actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
        resources = [var.kms_key_arn]
        condition = { StringEquals = { "kms:ViaService" = ["sns.${local.kms_via_suffix}"] } }
      }],
    )
  }

  # Tables encrypted with a customer managed key (kms_key_arn) are usable
  # only by roles that may use the key through DynamoDB: every role whose
  # statements name one of local.tables (or an index of one) gets exactly
  # what DynamoDB asks KMS for on its behalf (reads decrypt, writes encrypt
  # and generate data keys, DescribeKey checks the key), scoped with
  # kms:ViaService so the role cannot use the key directly.
  # https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/encryption.usagenotes.html
  # https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-via-service
  kms_via_suffix = "${var.region}.${data.aws_partition.current.dns_suffix}"
  table_arns     = [for t in values(local.tables) : t.arn]
  table_key_statement = {
    sid       = "UseTableKey"
    actions   = ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
    condition = { StringEquals = { "kms:ViaService" = ["dynamodb.${local.kms_via_suffix}"] } }
  }
  # Per function: its statements, plus the table key grant when it uses a table.
  function_statements = {
    for k, statements in local.function_policy_statements : k => concat(
      statements,
      var.kms_key_arn == null ? [] : anytrue(flatten([
        for s in statements : [for r in s.resources : anytrue([for t in local.table_arns : r == t || startswith(r, "${t}/")])]
      ])) ? [local.table_key_statement] : [],
    )
  }
}

module "function" {
  source   = "./modules/lambda_function"
  for_each = local.functions

  function_name                  = local.function_name[each.key]
  description                    = each.value.description
  handler                        = each.value.handler
  filename                       = local.packages[each.value.package]
  source_code_hash               = filebase64sha256(local.packages[each.value.package])
  runtime                        = var.lambda_runtime
  architecture                   = var.lambda_architecture
  layers                         = var.lambda_layer_arns
  memory_size                    = var.functions[each.key].memory_size
  timeout                        = var.functions[each.key].timeout
  reserved_concurrent_executions = coalesce(var.functions[each.key].reserved_concurrency, -1)
  log_retention_days             = var.log_retention_days
  environment_variables          = merge(local.common_environment, local.function_environment[each.key])
  policy_statements              = local.function_statements[each.key]
}

# ---------------------------------------------------------------------------
# WebSocket API
# ---------------------------------------------------------------------------
module "websocket_api" {
  source = "./modules/websocket_api"

  name                           = local.names.api
  description                    = "Realtime incident notifications"
  stage_name                     = var.stage_name
  throttling_burst_limit         = var.throttling.burst_limit
  throttling_rate_limit          = var.throttling.rate_limit
  execution_logging_level        = var.api_logging.execution_level
  access_logs_enabled            = var.api_logging.access_logs
  manage_account_cloudwatch_role = var.api_logging.manage_account_role == true
  access_log_retention_days      = var.log_retention_days
  authorizer                     = local.connect_authorizer
  mock_routes                    = local.mock_routes

  lambda_routes = {
    "$connect" = {
      function_name = module.function["connect"].function_name
      invoke_arn    = module.function["connect"].invoke_arn
    }
    "$disconnect" = {
      function_name = module.function["disconnect"].function_name
      invoke_arn    = module.function["disconnect"].invoke_arn
    }
    sync = {
      function_name = module.function["sync"].function_name
      invoke_arn    = module.function["sync"].invoke_arn
    }
    subscribe = {
      function_name = module.function["subscribe"].function_name
      invoke_arn    = module.function["subscribe"].invoke_arn
    }
  }
  route_throttling = local.route_throttling # sync.tf
}

# ---------------------------------------------------------------------------
# Incidents stream mappings (only once the stream ARN is known)
# ---------------------------------------------------------------------------
# Both consumers read the same shards: DynamoDB Streams throttles more than
# two readers per shard, so these two use both slots.
# https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Streams.html
module "stream_consumer" {
  source   = "./modules/stream_consumer"
  for_each = local.stream_enabled ? toset(["broadcaster", "notifier"]) : toset([])

  # A name known at plan time lets the queue be created alongside the function.
  name                               = "${local.name}-${each.key}"
  function_name                      = module.function[each.key].function_name
  function_role_name                 = module.function[each.key].role_name
  stream_arn                         = local.incidents_stream_arn
  batch_size                         = var.stream_consumer.batch_size
  maximum_batching_window_in_seconds = var.stream_consumer.maximum_batching_window_in_seconds
  parallelization_factor             = var.stream_consumer.parallelization_factor
  maximum_retry_attempts             = var.stream_consumer.maximum_retry_attempts
  maximum_record_age_in_seconds      = var.stream_consumer.maximum_record_age_in_seconds
  starting_position                  = var.stream_consumer.starting_position
  # The Broadcaster turns REMOVE records into tombstones and incident.removed
  # messages; the Notifier alerts on inserts and changes only.
  event_names        = local.stream_event_names[each.key]
  kms_key_arn        = var.kms_key_arn
  stream_kms_key_arn = var.incidents_stream_kms_key_arn
}

locals {
  stream_event_names = {
    broadcaster = ["INSERT", "MODIFY", "REMOVE"]
    notifier    = ["INSERT", "MODIFY"]
  }
}
