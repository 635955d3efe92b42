# Every validation rule of the root module rejects a bad value at plan time.
# (Rules of the modules themselves: modules_validation.tftest.hcl.)

mock_provider "aws" {}

variables {
  environment = "test"
  # The $connect authorizer is tested in authorizer.tftest.hcl; here "test"
  # counts as non-production so the stack can go without it.
  non_production_environments = ["test"]
  authorizer                  = { enabled = false }
}

# Variables with one rule are grouped: a run fails with "Missing expected
# failure" if any listed variable accepts its bad value. Variables with several
# rules get one run per rule.

run "naming_and_placement" {
  command = plan
  variables {
    project     = "Realtime_App"
    environment = "Production Env"
    region      = "europe"
    kms_key_arn = "alias/my-key"
  }
  expect_failures = [
    var.project,
    var.environment,
    var.region,
    var.kms_key_arn,
  ]
}

run "lambda_settings" {
  command = plan
  variables {
    lambda_runtime      = "python3.11"
    lambda_architecture = "amd64"
    lambda_layer_arns   = ["arn:aws:lambda:us-east-1:123456789012:function:not-a-layer"]
    log_level           = "VERBOSE"
    log_retention_days  = 10
  }
  expect_failures = [
    var.lambda_runtime,
    var.lambda_architecture,
    var.lambda_layer_arns,
    var.log_level,
    var.log_retention_days,
  ]
}

run "websocket_api_settings" {
  command = plan
  variables {
    stage_name                   = "prod/v1"
    throttling                   = { burst_limit = -1 }
    connect_authorizer           = { function_arn = "my-authorizer" }
    api_logging                  = { execution_level = "DEBUG" }
    management_endpoint_override = "127.0.0.1:4566/_aws/execute-api/{api_id}/{stage}"
  }
  expect_failures = [
    var.stage_name,
    var.throttling,
    var.connect_authorizer,
    var.api_logging,
    var.management_endpoint_override,
  ]
}

run "connection_settings" {
  command = plan
  variables {
    allowed_roles          = ["dispatcher,viewer"]
    connection_ttl_seconds = 7201
  }
  expect_failures = [
    var.allowed_roles,
    var.connection_ttl_seconds,
  ]
}

run "broadcaster_and_notifier_settings" {
  command = plan
  variables {
    fanout_concurrency      = 0
    post_max_attempts       = 11
    alert_urgencies         = ["urgent"]
    escalation_statuses     = ["Escalated,Open"]
    idempotency_ttl_seconds = 3600
    alert_subscriptions     = [{ protocol = "http", endpoint = "http://hooks.example.com" }]
    incidents_stream_arn    = "arn:aws:dynamodb:us-east-1:123456789012:table/Incidents"
  }
  expect_failures = [
    var.fanout_concurrency,
    var.post_max_attempts,
    var.alert_urgencies,
    var.escalation_statuses,
    var.idempotency_ttl_seconds,
    var.alert_subscriptions,
    var.incidents_stream_arn,
  ]
}

# An empty list reaches the notifier as "", which it reads as unset (the
# default list): rejected, not silently turned into the default.
run "empty_escalation_statuses" {
  command = plan
  variables { escalation_statuses = [] }
  expect_failures = [var.escalation_statuses]
}

run "empty_alert_urgencies" {
  command = plan
  variables { alert_urgencies = [] }
  expect_failures = [var.alert_urgencies]
}

run "memory_size" {
  command = plan
  variables { functions = { notifier = { memory_size = 64 } } }
  expect_failures = [var.functions]
}

run "timeout" {
  command = plan
  variables { functions = { broadcaster = { timeout = 901 } } }
  expect_failures = [var.functions]
}

run "connect_timeout_within_api_gateway_limit" {
  command = plan
  variables { functions = { connect = { timeout = 30 } } }
  expect_failures = [var.functions]
}

run "reserved_concurrency_zero_is_rejected" {
  command = plan
  variables { functions = { broadcaster = { reserved_concurrency = 0 } } }
  expect_failures = [var.functions]
}

run "batch_size" {
  command = plan
  variables { stream_consumer = { batch_size = 10001 } }
  expect_failures = [var.stream_consumer]
}

run "batching_window" {
  command = plan
  variables { stream_consumer = { maximum_batching_window_in_seconds = 301 } }
  expect_failures = [var.stream_consumer]
}

run "parallelization_factor" {
  command = plan
  variables { stream_consumer = { parallelization_factor = 11 } }
  expect_failures = [var.stream_consumer]
}

run "infinite_retries_are_rejected" {
  command = plan
  variables { stream_consumer = { maximum_retry_attempts = -1 } }
  expect_failures = [var.stream_consumer]
}

run "unbounded_record_age_is_rejected" {
  command = plan
  variables { stream_consumer = { maximum_record_age_in_seconds = -1 } }
  expect_failures = [var.stream_consumer]
}

run "starting_position" {
  command = plan
  variables { stream_consumer = { starting_position = "AT_TIMESTAMP" } }
  expect_failures = [var.stream_consumer]
}
