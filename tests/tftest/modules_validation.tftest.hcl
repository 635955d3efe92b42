# Every validation rule of the child modules rejects a bad value at plan time.
# Variables with one rule are grouped per module (a run fails with "Missing
# expected failure" if any listed variable accepts its bad value); variables
# with several rules get one run per rule.

mock_provider "aws" {}

# ---------------------------------------------------------------------------
# lambda_function
# ---------------------------------------------------------------------------
run "lambda_function_inputs" {
  command = plan
  module {
    source = "./modules/lambda_function"
  }

  variables {
    function_name                  = "a function with spaces"
    handler                        = "broadcaster"
    runtime                        = "python3.9"
    architecture                   = "x86"
    filename                       = "build/broadcaster.zip"
    source_code_hash               = "x"
    memory_size                    = 10241
    timeout                        = 0
    reserved_concurrent_executions = 0
    layers                         = ["not-an-arn"]
    log_retention_days             = 2
    tracing_mode                   = "On"
    policy_statements = [{
      sid       = "Everything"
      actions   = ["dynamodb:*"]
      resources = ["*"]
    }]
  }

  expect_failures = [
    var.function_name,
    var.handler,
    var.runtime,
    var.architecture,
    var.memory_size,
    var.timeout,
    var.reserved_concurrent_executions,
    var.layers,
    var.log_retention_days,
    var.tracing_mode,
    var.policy_statements,
  ]
}

# ---------------------------------------------------------------------------
# websocket_api
# ---------------------------------------------------------------------------
variables {
  valid_routes = {
    "$connect"    = { function_name = "c", invoke_arn = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:c/invocations" }
    "$disconnect" = { function_name = "d", invoke_arn = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:d/invocations" }
  }
}

run "websocket_api_inputs" {
  command = plan
  module {
    source = "./modules/websocket_api"
  }

  variables {
    name                      = "ws"
    lambda_routes             = var.valid_routes
    stage_name                = "$default"
    default_route_response    = "{\"error\": \"$input.body\"}"
    throttling_burst_limit    = 1.5
    throttling_rate_limit     = -1
    execution_logging_level   = "TRACE"
    access_log_retention_days = 0
  }

  expect_failures = [
    var.stage_name,
    var.default_route_response,
    var.throttling_burst_limit,
    var.throttling_rate_limit,
    var.execution_logging_level,
    var.access_log_retention_days,
  ]
}

run "websocket_api_routes_need_connect_and_disconnect" {
  command = plan
  module {
    source = "./modules/websocket_api"
  }

  variables {
    name                   = "ws"
    default_route_response = "{}"
    lambda_routes          = { "$connect" = var.valid_routes["$connect"] }
  }

  expect_failures = [var.lambda_routes]
}

run "websocket_api_custom_routes_are_plain_actions" {
  command = plan
  module {
    source = "./modules/websocket_api"
  }

  variables {
    name                   = "ws"
    default_route_response = "{}"
    lambda_routes          = merge(var.valid_routes, { "$subscribe" = var.valid_routes["$connect"] })
  }

  expect_failures = [var.lambda_routes]
}

run "websocket_api_authorizer_arn" {
  command = plan
  module {
    source = "./modules/websocket_api"
  }

  variables {
    name                   = "ws"
    default_route_response = "{}"
    lambda_routes          = var.valid_routes
    authorizer             = { function_arn = "arn:aws:lambda:us-east-1:123456789012:layer:x:1" }
  }

  expect_failures = [var.authorizer]
}

run "websocket_api_authorizer_identity_sources" {
  command = plan
  module {
    source = "./modules/websocket_api"
  }

  variables {
    name                   = "ws"
    default_route_response = "{}"
    lambda_routes          = var.valid_routes
    authorizer = {
      function_arn     = "arn:aws:lambda:us-east-1:123456789012:function:auth"
      identity_sources = ["$request.header.Authorization"]
    }
  }

  expect_failures = [var.authorizer]
}

# ---------------------------------------------------------------------------
# alerts_topic
# ---------------------------------------------------------------------------
run "alerts_topic_name" {
  command = plan
  module {
    source = "./modules/alerts_topic"
  }

  variables {
    name = "alerts.fifo"
  }

  expect_failures = [var.name]
}

run "alerts_topic_protocol" {
  command = plan
  module {
    source = "./modules/alerts_topic"
  }

  variables {
    name          = "alerts"
    subscriptions = [{ protocol = "http", endpoint = "http://example.com" }]
  }

  expect_failures = [var.subscriptions]
}

run "alerts_topic_endpoint_matches_protocol" {
  command = plan
  module {
    source = "./modules/alerts_topic"
  }

  variables {
    name          = "alerts"
    subscriptions = [{ protocol = "sms", endpoint = "555-0100" }]
  }

  expect_failures = [var.subscriptions]
}

run "alerts_topic_filter_policy_is_json_object" {
  command = plan
  module {
    source = "./modules/alerts_topic"
  }

  variables {
    name          = "alerts"
    subscriptions = [{ protocol = "email", endpoint = "a@example.com", filter_policy = "urgency=critical" }]
  }

  expect_failures = [var.subscriptions]
}

run "alerts_topic_filter_policy_scope" {
  command = plan
  module {
    source = "./modules/alerts_topic"
  }

  variables {
    name          = "alerts"
    subscriptions = [{ protocol = "email", endpoint = "a@example.com", filter_policy_scope = "Body" }]
  }

  expect_failures = [var.subscriptions]
}

run "alerts_topic_unique_subscriptions" {
  command = plan
  module {
    source = "./modules/alerts_topic"
  }

  variables {
    name = "alerts"
    subscriptions = [
      { protocol = "email", endpoint = "a@example.com" },
      { protocol = "email", endpoint = "a@example.com", filter_policy = "{}" },
    ]
  }

  expect_failures = [var.subscriptions]
}

# ---------------------------------------------------------------------------
# stream_consumer
# ---------------------------------------------------------------------------
run "stream_consumer_inputs" {
  command = plan
  module {
    source = "./modules/stream_consumer"
  }

  variables {
    name                               = "broadcaster.fifo"
    function_name                      = "fn"
    function_role_name                 = "fn"
    stream_arn                         = "arn:aws:kinesis:us-east-1:123456789012:stream/Incidents"
    event_names                        = ["UPDATE"]
    starting_position                  = "AT_TIMESTAMP"
    batch_size                         = 0
    maximum_batching_window_in_seconds = 301
    parallelization_factor             = 0
    maximum_retry_attempts             = -1
    maximum_record_age_in_seconds      = -1
    dead_letter_retention_seconds      = 1209601
  }

  expect_failures = [
    var.name,
    var.stream_arn,
    var.event_names,
    var.starting_position,
    var.batch_size,
    var.maximum_batching_window_in_seconds,
    var.parallelization_factor,
    var.maximum_retry_attempts,
    var.maximum_record_age_in_seconds,
    var.dead_letter_retention_seconds,
  ]
}

# ---------------------------------------------------------------------------
# dynamodb_table
# ---------------------------------------------------------------------------
run "dynamodb_table_name" {
  command = plan
  module {
    source = "./modules/dynamodb_table"
  }

  variables {
    name          = "no spaces allowed"
    hash_key      = "pk"
    ttl_attribute = "expiresAt"
  }

  expect_failures = [var.name]
}
