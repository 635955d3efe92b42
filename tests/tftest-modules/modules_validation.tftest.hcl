# Every validation rule of the child modules rejects a bad value at plan time.
# Variables with one rule are grouped per module (a run fails with "Missing
# expected failure" if any listed variable accepts its bad value); variables
# with several rules get one run per rule.

mock_provider "aws" {}

# Each module's required inputs, valid: a run sets only the inputs it breaks
# (a module takes the variables it declares and ignores the others).
variables {
  name               = "test"
  function_name      = "fn"
  function_role_name = "fn"
  handler            = "broadcaster.handler"
  filename           = "build/broadcaster.zip"
  source_code_hash   = "x"
  valid_routes = {
    "$connect"    = { function_name = "c", invoke_arn = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:c/invocations" }
    "$disconnect" = { function_name = "d", invoke_arn = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:d/invocations" }
  }
}

# ---------------------------------------------------------------------------
# lambda_function
# ---------------------------------------------------------------------------
run "lambda_function_inputs" {
  command = plan
  module {
    source = "./modules/lambda_function"
  }

  variables {
    runtime                        = "python3.11"
    reserved_concurrent_executions = 0
    layers                         = ["arn:aws:lambda:us-east-1:123456789012:function:not-a-layer"]
    policy_statements = [{
      sid       = "Everything"
      actions   = ["dynamodb:*"]
      resources = ["*"]
    }]
  }

  expect_failures = [
    var.runtime,
    var.reserved_concurrent_executions,
    var.layers,
    var.policy_statements,
  ]
}

# ---------------------------------------------------------------------------
# websocket_api
# ---------------------------------------------------------------------------
# lambda_routes, mock_routes and authorizer have two rules each: one run per
# rule, each variable alone for its value. mock_routes' first rule reads
# lambda_routes, and Terraform does not check a variable while one it reads
# is invalid: the runs that break mock_routes keep lambda_routes valid.
run "websocket_api_stage_static_replies_and_authorizer_arn" {
  command = plan
  module {
    source = "./modules/websocket_api"
  }

  variables {
    lambda_routes = var.valid_routes
    stage_name    = "prod/v1"                                       # not a stage name
    mock_routes   = { "$default" = "{\"error\": \"$input.body\"}" } # a reply that is not static
    authorizer    = { function_arn = "ws-authorizer" }              # not a function ARN
  }

  expect_failures = [
    var.stage_name,
    var.mock_routes,
    var.authorizer,
  ]
}

run "websocket_api_routes_need_disconnect_and_authorizer_identity_sources" {
  command = plan
  module {
    source = "./modules/websocket_api"
  }

  variables {
    lambda_routes = { "$connect" = var.valid_routes["$connect"] }
    authorizer = {
      function_arn     = "arn:aws:lambda:us-east-1:123456789012:function:auth"
      identity_sources = ["$request.header.Authorization"]
    }
  }

  expect_failures = [var.lambda_routes, var.authorizer]
}

run "websocket_api_custom_routes_are_plain_actions" {
  command = plan
  module {
    source = "./modules/websocket_api"
  }

  variables {
    lambda_routes = merge(var.valid_routes, { "$default" = var.valid_routes["$connect"] })
  }

  expect_failures = [var.lambda_routes]
}

run "websocket_api_mock_route_is_not_also_a_lambda_route" {
  command = plan
  module {
    source = "./modules/websocket_api"
  }

  variables {
    lambda_routes = merge(var.valid_routes, { ping = var.valid_routes["$connect"] })
    mock_routes   = { ping = "{\"type\":\"pong\"}" }
  }

  expect_failures = [var.mock_routes]
}

# ---------------------------------------------------------------------------
# alerts_topic
# ---------------------------------------------------------------------------
run "alerts_topic_protocol" {
  command = plan
  module {
    source = "./modules/alerts_topic"
  }

  variables {
    subscriptions = [{ protocol = "http", endpoint = "http://example.com" }]
  }

  expect_failures = [var.subscriptions]
}

run "alerts_topic_unique_subscriptions" {
  command = plan
  module {
    source = "./modules/alerts_topic"
  }

  variables {
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
    stream_arn                    = "arn:aws:dynamodb:us-east-1:123456789012:table/Incidents"
    maximum_retry_attempts        = -1
    maximum_record_age_in_seconds = -1
  }

  expect_failures = [
    var.stream_arn,
    var.maximum_retry_attempts,
    var.maximum_record_age_in_seconds,
  ]
}

# A lambda endpoint also names the function the SNS permission goes on; SMS
# goes only to E.164 numbers.
run "alerts_topic_lambda_and_sms_endpoints" {
  command = plan
  module {
    source = "./modules/alerts_topic"
  }
  variables {
    subscriptions = [
      { protocol = "lambda", endpoint = "page-on-call" },
      { protocol = "sms", endpoint = "555-0100" },
    ]
  }
  expect_failures = [var.subscriptions]
}
