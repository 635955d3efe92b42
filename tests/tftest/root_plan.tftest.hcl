# Plan-mode wiring of the root module with a mocked AWS provider: routes ->
# integrations -> functions, each role's exact permissions, environment
# variables, stream mappings only with a stream ARN, and the outputs' shapes.
# Run: make tftest (terraform test -test-directory=tests/tftest)

mock_provider "aws" {
  # Mocked computed values and per-resource overrides (tests/tftest/mocks) are
  # known at plan time, so policies and outputs built from ARNs can be
  # asserted in plan-mode runs.
  source          = "./tests/tftest/mocks"
  override_during = plan
}

# The environments the handlers read, in parts several functions share (each
# function's own settings are in its assert below).
variables {
  # Every function (main.tf's common_environment).
  common_environment = {
    LOG_LEVEL                    = "INFO"
    POWERTOOLS_SERVICE_NAME      = "realtime"
    POWERTOOLS_METRICS_NAMESPACE = "realtime-test"
    ENVIRONMENT                  = "test"
  }
  # The functions that filter by var.subscriptions (subscriptions.tftest.hcl):
  # connect/disconnect, and the Broadcaster, which groups its audiences by
  # effective filter.
  filter_environment = {
    FILTER_FIELDS = jsonencode(["area", "urgency", "type", "status"])
    FILTER_LIMITS = jsonencode({ areas_max_bytes = 4096, max_bytes = 2048, values_per_field = 20 })
    DEFAULT_AREAS = jsonencode(["*"])
  }
  # The functions that post to connections: the Broadcaster and its fan-out worker.
  fanout_environment = {
    CONNECTIONS_TABLE  = "realtime-test-connections"
    WS_CALLBACK_URL    = "https://abc123def4.execute-api.us-east-1.amazonaws.com/prod"
    FANOUT_CONCURRENCY = "256"
  }
}

run "without_stream" {
  command = plan

  # API logging is off by default: it needs the account's CloudWatch role.
  assert {
    condition     = module.websocket_api.access_log_settings == null && module.websocket_api.account_cloudwatch_role_arn == null
    error_message = "Access logs and the account-level API Gateway CloudWatch role must be off by default."
  }

  # Reservations are opt-in (issue 18.1): Lambda refuses one that leaves fewer
  # than 100 of the account's concurrency unreserved, and new accounts often
  # have far less than 1,000. fresh_account.tftest.hcl covers opting in.
  assert {
    condition     = alltrue([for k, f in var.functions : f.reserved_concurrency == null])
    error_message = "No function may reserve concurrency by default."
  }
  assert {
    condition     = alltrue([for k, f in module.function : f.reserved_concurrent_executions == -1])
    error_message = "Every function must reach Lambda unreserved (-1) by default."
  }

  # Routes -> integrations -> functions.
  assert {
    condition     = toset(keys(module.websocket_api.integrations)) == toset(["$connect", "$disconnect", "$default", "ping", "sync", "subscribe"])
    error_message = "The API must have exactly the $connect, $disconnect, $default, ping, sync and subscribe routes."
  }
  assert {
    condition     = module.websocket_api.integrations["$connect"].uri == module.function["connect"].invoke_arn && module.websocket_api.integrations["$connect"].type == "AWS_PROXY"
    error_message = "$connect must proxy to the connect function."
  }
  assert {
    condition     = module.websocket_api.integrations["$disconnect"].uri == module.function["disconnect"].invoke_arn && module.websocket_api.integrations["$disconnect"].type == "AWS_PROXY"
    error_message = "$disconnect must proxy to the disconnect function."
  }
  assert {
    condition     = module.websocket_api.integrations["$default"].type == "MOCK" && jsondecode(module.websocket_api.integrations["$default"].reply).error == "unknown_action"
    error_message = "$default must answer unknown actions with the unknown_action error frame from a MOCK integration, not a function."
  }
  assert {
    condition     = module.websocket_api.integrations["ping"].type == "MOCK" && jsondecode(module.websocket_api.integrations["ping"].reply) == { type = "pong" }
    error_message = "ping must answer {\"type\":\"pong\"} from a MOCK integration (a keep-alive without a Lambda)."
  }
  assert {
    condition     = output.stage_name == "prod" && output.websocket_wss_endpoint == "wss://abc123def4.execute-api.us-east-1.amazonaws.com/prod"
    error_message = "The stage must default to prod and the wss endpoint end with /prod."
  }
  assert {
    condition     = output.websocket_management_url == "https://abc123def4.execute-api.us-east-1.amazonaws.com/prod"
    error_message = "The management URL must be https://{api_id}.execute-api.{region}.amazonaws.com/{stage}."
  }

  # Each role's exact permissions (the log statement is checked separately).
  assert {
    condition = [for s in jsondecode(module.function["connect"].policy).Statement : { a = toset(s.Action), r = toset(s.Resource) } if s.Sid != "WriteOwnLogGroup"] == [
      { a = toset(["dynamodb:PutItem"]), r = toset(["arn:aws:dynamodb:us-east-1:123456789012:table/realtime-test-connections"]) },
    ]
    error_message = "connect may only PutItem on the Connections table."
  }
  assert {
    condition = [for s in jsondecode(module.function["disconnect"].policy).Statement : { a = toset(s.Action), r = toset(s.Resource) } if s.Sid != "WriteOwnLogGroup"] == [
      { a = toset(["dynamodb:DeleteItem"]), r = toset(["arn:aws:dynamodb:us-east-1:123456789012:table/realtime-test-connections"]) },
    ]
    error_message = "disconnect may only DeleteItem on the Connections table."
  }
  assert {
    condition = [for s in jsondecode(module.function["broadcaster"].policy).Statement : { a = toset(s.Action), r = toset(s.Resource) } if s.Sid != "WriteOwnLogGroup"] == [
      { a = toset(["dynamodb:Scan", "dynamodb:DeleteItem"]), r = toset(["arn:aws:dynamodb:us-east-1:123456789012:table/realtime-test-connections"]) },
      { a = toset(["execute-api:ManageConnections"]), r = toset(["arn:aws:execute-api:us-east-1:123456789012:abc123def4/prod/POST/@connections/*"]) },
      { a = toset(["dynamodb:PutItem"]), r = toset(["arn:aws:dynamodb:us-east-1:123456789012:table/realtime-test-state"]) },
    ]
    error_message = "broadcaster may only Scan/DeleteItem on Connections, ManageConnections on <execution_arn>/prod/POST/@connections/* and PutItem on the state table."
  }
  assert {
    condition = [for s in jsondecode(module.function["notifier"].policy).Statement : { a = toset(s.Action), r = toset(s.Resource) } if s.Sid != "WriteOwnLogGroup"] == [
      { a = toset(["sns:Publish"]), r = toset(["arn:aws:sns:us-east-1:123456789012:realtime-test-alerts"]) },
      { a = toset(["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]), r = toset(["arn:aws:dynamodb:us-east-1:123456789012:table/realtime-test-idempotency"]) },
    ]
    error_message = "notifier may only Publish to the topic and Get/Put/Update/DeleteItem on the idempotency table."
  }
  assert {
    condition = length(module.function) == 7 && alltrue([for m in values(module.function) :
      one([for s in jsondecode(m.policy).Statement : s if s.Sid == "WriteOwnLogGroup"]) == {
        Sid      = "WriteOwnLogGroup"
        Effect   = "Allow"
        Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
        Resource = ["${m.log_group_arn}:*"]
    }])
    error_message = "Every function may write only to its own log group."
  }
  assert {
    condition = alltrue(flatten([for m in values(module.function) :
      [for s in jsondecode(m.policy).Statement : s.Effect == "Allow" && alltrue([for a in s.Action : !strcontains(a, "*")])]
    ]))
    error_message = "No policy may grant a wildcard action."
  }

  # Environment variables (the handlers' contract): what every function is
  # told (var.common_environment), then each one's own settings.
  assert {
    condition = alltrue([for m in values(module.function) :
      { for k, v in m.environment_variables : k => v if contains(keys(var.common_environment), k) } == var.common_environment
    ])
    error_message = "Every function must be told LOG_LEVEL, POWERTOOLS_SERVICE_NAME, POWERTOOLS_METRICS_NAMESPACE and ENVIRONMENT."
  }
  assert {
    condition = module.function["connect"].environment_variables == tomap(merge(var.common_environment, var.filter_environment, {
      CONNECTIONS_TABLE      = "realtime-test-connections"
      ALLOWED_ROLES          = "dispatcher,responder,supervisor,viewer"
      ALLOW_QUERY_IDENTITY   = "false"
      CONNECTION_TTL_SECONDS = "7200"
    })) && module.function["disconnect"].environment_variables == module.function["connect"].environment_variables
    error_message = "connect/disconnect environment does not match the handlers' contract."
  }
  assert {
    # ROLE_VIEWS (JSON) is checked in fanout_workers.tftest.hcl.
    condition = tomap({ for k, v in module.function["broadcaster"].environment_variables : k => v if k != "ROLE_VIEWS" }) == tomap(merge(var.common_environment, var.filter_environment, var.fanout_environment, {
      POST_MAX_ATTEMPTS = "4"
      # Its share of the default fanout.rate: half of what sync and the clients
      # leave of us-east-1's 10,000/s, over 4 shards (fresh_account.tftest.hcl).
      FANOUT_RATE             = "1000"
      FANOUT_WORKER_FUNCTION  = "realtime-test-fanout-worker"
      FANOUT_WORKER_THRESHOLD = "10000"
      FANOUT_MAX_WORKERS      = "10"
      STATE_TABLE             = "realtime-test-state"
      STATE_RETENTION_SECONDS = "86400"
      CLOSED_STATUSES         = "[\"closed\",\"resolved\"]"
    }))
    error_message = "broadcaster environment does not match the handlers' contract."
  }
  assert {
    condition     = module.function["fanout-worker"].environment_variables == tomap(merge(var.common_environment, var.fanout_environment))
    error_message = "The worker's environment does not match fanout_worker.py's contract."
  }
  assert {
    # Its own settings (the common four are checked above).
    condition = { for k, v in module.function["notifier"].environment_variables : k => v if !contains(keys(var.common_environment), k) } == {
      SNS_TOPIC_ARN           = "arn:aws:sns:us-east-1:123456789012:realtime-test-alerts"
      IDEMPOTENCY_TABLE       = "realtime-test-idempotency"
      ALERT_URGENCIES         = "high,critical"
      ESCALATION_STATUSES     = "escalated"
      IDEMPOTENCY_TTL_SECONDS = "172800"
    }
    error_message = "notifier environment does not match the handlers' contract."
  }

  # No stream: no mappings, no queues, no stream permissions.
  assert {
    condition     = length(module.stream_consumer) == 0
    error_message = "Without incidents_stream_arn there must be no stream consumers."
  }
  assert {
    condition     = output.dead_letter_queue_urls == null && length(output.event_source_mapping_ids) == 0
    error_message = "Without a stream, dead_letter_queue_urls is null and event_source_mapping_ids is empty."
  }

  # Outputs' shapes.
  assert {
    condition     = output.function_names == { connect = "realtime-test-connect", disconnect = "realtime-test-disconnect", broadcaster = "realtime-test-broadcaster", notifier = "realtime-test-notifier", fanout-worker = "realtime-test-fanout-worker", sync = "realtime-test-sync", subscribe = "realtime-test-subscribe" }
    error_message = "function_names must map connect, disconnect, broadcaster, notifier, fanout-worker, sync and subscribe to their names."
  }
  assert {
    # Which handler of which zip each function runs (tests/packaging checks that the zips hold them).
    condition = { for k, f in local.functions : k => "${f.handler} in ${local.packages[f.package]}" } == {
      connect       = "connection_manager.on_connect in ${local.artifacts_dir}/connection_manager.zip"
      disconnect    = "connection_manager.on_disconnect in ${local.artifacts_dir}/connection_manager.zip"
      broadcaster   = "broadcaster.handler in ${local.artifacts_dir}/broadcaster.zip"
      notifier      = "notifier.handler in ${local.artifacts_dir}/notifier.zip"
      fanout-worker = "fanout_worker.handler in ${local.artifacts_dir}/broadcaster.zip"
      sync          = "sync.handler in ${local.artifacts_dir}/broadcaster.zip"
      subscribe     = "subscribe.handler in ${local.artifacts_dir}/broadcaster.zip"
    }
    error_message = "Each function must run its handler from its zip (sync, subscribe and the fan-out worker from the broadcaster's: the same wire client and role views)."
  }
  assert {
    condition     = output.connections_table_name == "realtime-test-connections" && output.idempotency_table_name == "realtime-test-idempotency" && output.alerts_topic_arn == "arn:aws:sns:us-east-1:123456789012:realtime-test-alerts" && output.api_id == "abc123def4"
    error_message = "Table, topic and API outputs are wrong."
  }
}

# An empty stream ARN (-var incidents_stream_arn=) deploys without bindings,
# exactly like null (its default: the without_stream run).
run "empty_stream_arn_is_like_null" {
  command = plan

  variables {
    incidents_stream_arn = ""
  }

  assert {
    condition = (
      length(module.stream_consumer) == 0
      && output.dead_letter_queue_urls == run.without_stream.dead_letter_queue_urls
      && output.event_source_mapping_ids == run.without_stream.event_source_mapping_ids
    )
    error_message = "incidents_stream_arn = \"\" must deploy no stream consumers and give the outputs of a stack without a stream, like null."
  }
}

run "with_stream" {
  command = plan

  variables {
    incidents_stream_arn = "arn:aws:dynamodb:us-east-1:123456789012:table/Incidents/stream/2024-05-01T10:00:00.000"
  }

  assert {
    condition = output.dead_letter_queue_urls == {
      broadcaster = "https://sqs.us-east-1.amazonaws.com/123456789012/realtime-test-broadcaster-dlq"
      notifier    = "https://sqs.us-east-1.amazonaws.com/123456789012/realtime-test-notifier-dlq"
    }
    error_message = "dead_letter_queue_urls must map each consumer to its own queue URL."
  }
  assert {
    condition     = toset(keys(module.stream_consumer)) == toset(["broadcaster", "notifier"])
    error_message = "With incidents_stream_arn both consumers must exist."
  }
  assert {
    condition = alltrue([for c in [module.stream_consumer["broadcaster"], module.stream_consumer["notifier"]] :
      [for s in jsondecode(c.policy).Statement : { a = toset(s.Action), r = s.Resource }] == [
        { a = toset(["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"]), r = ["arn:aws:dynamodb:us-east-1:123456789012:table/Incidents/stream/2024-05-01T10:00:00.000"] },
        { a = toset(["sqs:SendMessage"]), r = [c.dead_letter_queue_arn] },
      ]
    ])
    error_message = "Each consumer may only read the one stream and send to its own dead-letter queue."
  }
  assert {
    condition     = module.stream_consumer["broadcaster"].dead_letter_queue_arn != module.stream_consumer["notifier"].dead_letter_queue_arn
    error_message = "Each consumer must have its own dead-letter queue."
  }
  assert {
    condition     = toset(keys(output.dead_letter_queue_urls)) == toset(["broadcaster", "notifier"]) && toset(keys(output.event_source_mapping_ids)) == toset(["broadcaster", "notifier"])
    error_message = "With a stream, dead_letter_queue_urls and event_source_mapping_ids are keyed by broadcaster and notifier."
  }
  # The function roles themselves are unchanged by the stream.
  assert {
    condition     = length(jsondecode(module.function["broadcaster"].policy).Statement) == 4 && length(jsondecode(module.function["notifier"].policy).Statement) == 3
    error_message = "Stream permissions belong to the consumer's own policy, not the function's base policy."
  }
}

run "kms_key_and_overrides" {
  command = plan

  variables {
    kms_key_arn                  = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    incidents_stream_arn         = "arn:aws:dynamodb:us-east-1:123456789012:table/Incidents/stream/2024-05-01T10:00:00.000"
    management_endpoint_override = "http://127.0.0.1:4566/_aws/execute-api/{api_id}/{stage}"
    stage_name                   = "v1"
    allow_query_identity         = true
    lambda_layer_arns            = ["arn:aws:lambda:us-east-1:000000000000:layer:local-boto3:3"]
  }

  assert {
    condition     = output.websocket_management_url == "http://127.0.0.1:4566/_aws/execute-api/abc123def4/v1" && module.function["broadcaster"].environment_variables.WS_CALLBACK_URL == output.websocket_management_url
    error_message = "management_endpoint_override must replace {api_id} and {stage} and feed WS_CALLBACK_URL."
  }
  assert {
    condition     = one([for s in jsondecode(module.function["broadcaster"].policy).Statement : s.Resource if s.Sid == "PostToConnections"]) == ["arn:aws:execute-api:us-east-1:123456789012:abc123def4/v1/POST/@connections/*"]
    error_message = "The endpoint override must not change the IAM resource of ManageConnections."
  }
  assert {
    condition     = module.function["connect"].environment_variables.ALLOW_QUERY_IDENTITY == "true"
    error_message = "allow_query_identity must reach ALLOW_QUERY_IDENTITY."
  }
  assert {
    condition = one([for s in jsondecode(module.function["notifier"].policy).Statement : { a = toset(s.Action), r = s.Resource } if s.Sid == "EncryptAlerts"]) == {
      a = toset(["kms:Decrypt", "kms:GenerateDataKey"]), r = ["arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"]
    }
    error_message = "With a customer managed key the notifier needs kms:GenerateDataKey and kms:Decrypt on that key to publish."
  }
  assert {
    condition = alltrue([for c in [module.stream_consumer["broadcaster"], module.stream_consumer["notifier"]] :
      contains([for s in jsondecode(c.policy).Statement : s.Resource[0]], "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab")
    ])
    error_message = "With a customer managed key each consumer needs the key to send to its encrypted queue."
  }
}
