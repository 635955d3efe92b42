# Every validation rule of the child modules rejects a bad value at plan time
# (websocket_api's: websocket_api_plan.tftest.hcl).
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
