# Every validation rule of the root module rejects a bad value at plan time,
# all in this file (the feature files test what a good value builds) but the
# authorizer's, which need its production settings (authorizer.tftest.hcl).
# Values the root passes on to a module are validated there
# (tests/tftest-modules/modules_validation.tftest.hcl); the provider checks
# its own ranges.

mock_provider "aws" {
  # The shared mocked values and per-resource overrides: tests/tftest/mocks.
  source          = "./tests/tftest/mocks"
  override_during = plan
}

# Variables with one rule are grouped: a run fails with "Missing expected
# failure" if any listed variable accepts its bad value. Variables with several
# rules get one run per rule.

run "naming_and_keys" {
  command = plan
  variables {
    project     = "Realtime_App"
    kms_key_arn = "arn:aws:kms:us-east-1:123456789012:alias/my-key"
  }
  expect_failures = [
    var.project,
    var.kms_key_arn,
  ]
}

# environment has two rules (its form here; the length of the names derived
# from it below, with what a fresh account refuses), and the second reads
# var.project: one run each, so neither hides the other.
run "environment_form" {
  command = plan
  variables {
    environment = "Production Env"
  }
  expect_failures = [var.environment]
}

run "handler_settings" {
  command = plan
  variables {
    log_level                    = "VERBOSE"
    management_endpoint_override = "127.0.0.1:4566/_aws/execute-api/{api_id}/{stage}"
    allowed_roles                = ["dispatcher,viewer"]
    connection_ttl_seconds       = 7201
    fanout                       = { concurrency = 0, post_max_attempts = 11 }
    alert_urgencies              = ["urgent"]
    escalation_statuses          = ["Escalated,Open"]
    idempotency_ttl_seconds      = 3600
  }
  expect_failures = [
    var.log_level,
    var.management_endpoint_override,
    var.allowed_roles,
    var.connection_ttl_seconds,
    var.fanout,
    var.alert_urgencies,
    var.escalation_statuses,
    var.idempotency_ttl_seconds,
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

run "connect_timeout_within_api_gateway_limit" {
  command = plan
  variables { functions = { connect = { timeout = 30 } } }
  expect_failures = [var.functions]
}

# ---------------------------------------------------------------------------
# fan-out (fanout_workers.tftest.hcl tests the wiring)
# ---------------------------------------------------------------------------
run "reserved_concurrency_below_max_workers_is_refused" {
  command = plan

  variables {
    fanout    = { max_workers = 10 }
    functions = { fanout-worker = { reserved_concurrency = 5 } }
  }

  expect_failures = [var.functions]
}

run "one_worker_is_refused" {
  command = plan

  variables {
    fanout = { max_workers = 1 }
  }

  expect_failures = [var.fanout]
}

run "zero_threshold_is_refused" {
  command = plan

  variables {
    fanout = { worker_threshold = 0 }
  }

  expect_failures = [var.fanout]
}

run "rate_over_the_maximum_is_refused" {
  command = plan

  variables {
    fanout = { rate = 100001 }
  }

  expect_failures = [var.fanout]
}

run "concurrency_over_the_pool_is_refused" {
  command = plan

  variables {
    fanout = { concurrency = 257 }
  }

  expect_failures = [var.fanout]
}

run "attempts_over_ten_are_refused" {
  command = plan

  variables {
    fanout = { post_max_attempts = 11 }
  }

  expect_failures = [var.fanout]
}

# The variables fanout replaced: tfvars that still set them fail at plan with
# what to write instead (the messages: tests/terraform/test_removed_variables.py).
run "removed_fanout_variables_are_refused" {
  command = plan

  variables {
    fanout_concurrency = 128
    post_max_attempts  = 6
    fanout_rate        = 2500
    fanout_workers     = { threshold = 20000, memory_size = 1769 }
  }

  expect_failures = [var.fanout_concurrency, var.post_max_attempts, var.fanout_rate, var.fanout_workers]
}

run "an_empty_fanout_workers_is_refused_too" {
  command = plan

  variables {
    fanout_workers = {}
  }

  expect_failures = [var.fanout_workers]
}

run "a_view_both_whole_and_listed_is_refused" {
  command = plan

  variables {
    role_views = {
      dispatcher = { whole = true, attributes = ["title"] }
      supervisor = { whole = true }
      responder  = { whole = true }
      viewer     = { attributes = ["title"] }
    }
  }

  expect_failures = [var.role_views]
}

run "an_empty_view_is_refused" {
  command = plan

  variables {
    role_views = {
      dispatcher = { whole = true }
      supervisor = { whole = true }
      responder  = { whole = true }
      viewer     = {}
    }
  }

  expect_failures = [var.role_views]
}

run "a_bad_attribute_name_is_refused" {
  command = plan

  variables {
    role_views = {
      dispatcher = { whole = true }
      supervisor = { whole = true }
      responder  = { whole = true }
      viewer     = { attributes = ["title", "location address"] }
    }
  }

  expect_failures = [var.role_views]
}

run "an_allowed_role_without_a_view_is_refused" {
  command = plan

  variables {
    role_views = {
      dispatcher = { whole = true }
      viewer     = { attributes = ["title"] }
    }
  }

  expect_failures = [var.role_views]
}

run "a_view_for_a_role_that_cannot_connect_is_refused" {
  command = plan

  variables {
    allowed_roles = ["dispatcher"]
    role_views = {
      dispatcher = { whole = true }
      auditor    = { whole = true }
    }
  }

  expect_failures = [var.role_views]
}

# ---------------------------------------------------------------------------
# monitoring (monitoring.tftest.hcl tests the alarms)
# ---------------------------------------------------------------------------
run "rejects_a_reserved_namespace" {
  command = plan

  variables {
    monitoring = { namespace = "AWS/Lambda" }
  }

  expect_failures = [var.monitoring]
}

run "rejects_a_fraction_of_one" {
  command = plan

  variables {
    monitoring = { fanout_duration_fraction = 1 }
  }

  expect_failures = [var.monitoring]
}

# ---------------------------------------------------------------------------
# incident_state (state_table.tftest.hcl tests the table)
# ---------------------------------------------------------------------------
run "retention_too_short" {
  command = plan
  variables { incident_state = { retention_seconds = 600 } }
  expect_failures = [var.incident_state]
}

run "retention_not_whole" {
  command = plan
  variables { incident_state = { retention_seconds = 86400.5 } }
  expect_failures = [var.incident_state]
}

run "closed_statuses_not_lowercase_names" {
  command = plan
  variables { incident_state = { closed_statuses = ["Closed", "resolved,done"] } }
  expect_failures = [var.incident_state]
}

# ---------------------------------------------------------------------------
# sync (sync.tftest.hcl tests the route)
# ---------------------------------------------------------------------------
run "sync_timeout_over_the_integration_limit" {
  command = plan
  variables { functions = { sync = { timeout = 30 } } }
  expect_failures = [var.functions]
}

run "overlap_too_short" {
  command = plan
  variables { sync = { cursor_overlap_seconds = 0 } }
  expect_failures = [var.sync]
}

run "post_rate_not_whole" {
  command = plan
  variables { sync = { post_rate = 10.5 } }
  expect_failures = [var.sync]
}

run "interval_too_long" {
  command = plan
  variables { sync = { full_sync_interval_seconds = 7200 } }
  expect_failures = [var.sync]
}

run "expected_concurrency_zero" {
  command = plan
  variables { sync = { expected_concurrency = 0 } }
  expect_failures = [var.sync]
}

run "route_throttle_zero" {
  command = plan
  variables { sync = { route_rate_limit = 0 } }
  expect_failures = [var.sync]
}

# ---------------------------------------------------------------------------
# subscriptions (subscriptions.tftest.hcl tests the route)
# ---------------------------------------------------------------------------
run "duplicate_fields" {
  command = plan
  variables { subscriptions = { fields = ["area", "area"] } }
  expect_failures = [var.subscriptions]
}

run "no_fields" {
  command = plan
  variables { subscriptions = { fields = [] } }
  expect_failures = [var.subscriptions]
}

run "field_name_with_a_dot" {
  command = plan
  variables { subscriptions = { fields = ["location.area"] } }
  expect_failures = [var.subscriptions]
}

run "claim_name_with_spaces" {
  command = plan
  variables { subscriptions = { areas_claim = "my areas" } }
  expect_failures = [var.subscriptions]
}

run "default_area_pattern_in_the_middle" {
  command = plan
  variables { subscriptions = { default_areas = ["no*rth"] } }
  expect_failures = [var.subscriptions]
}

run "default_area_bare_prefix" {
  command = plan
  variables { subscriptions = { default_areas = ["/*"] } }
  expect_failures = [var.subscriptions]
}

run "values_per_field_zero" {
  command = plan
  variables { subscriptions = { limits = { values_per_field = 0 } } }
  expect_failures = [var.subscriptions]
}

run "max_bytes_over_a_frame" {
  command = plan
  variables { subscriptions = { limits = { max_bytes = 40000 } } }
  expect_failures = [var.subscriptions]
}

run "areas_over_the_authorizer_result" {
  command = plan
  variables { subscriptions = { limits = { areas_max_bytes = 8192 } } }
  expect_failures = [var.subscriptions]
}

run "subscribe_timeout_over_the_integration_limit" {
  command = plan
  variables { functions = { subscribe = { timeout = 30 } } }
  expect_failures = [var.functions]
}

# ---------------------------------------------------------------------------
# What a fresh account refuses (issue 18; fresh_account.tftest.hcl tests what it needs)
# ---------------------------------------------------------------------------
run "a_reservation_without_the_accounts_quota_is_refused" {
  command = plan
  variables {
    incidents_stream_arn = "arn:aws:dynamodb:us-east-1:123456789012:table/Incidents/stream/2024-01-01T00:00:00.000"
    functions            = { connect = { reserved_concurrency = 50 } }
  }
  expect_failures = [var.functions]
}

run "reservations_that_leave_fewer_than_100_unreserved_are_refused" {
  command = plan
  variables {
    incidents_stream_arn = "arn:aws:dynamodb:us-east-1:123456789012:table/Incidents/stream/2024-01-01T00:00:00.000"
    # 50 + 50 + 1 = 101 > 200 - 100
    functions      = { connect = { reserved_concurrency = 50 }, disconnect = { reserved_concurrency = 50 }, notifier = { reserved_concurrency = 1 } }
    account_quotas = { lambda_concurrent_executions = 200 }
  }
  expect_failures = [var.functions]
}

run "reservation_zero_is_refused" {
  command = plan
  variables {
    incidents_stream_arn = "arn:aws:dynamodb:us-east-1:123456789012:table/Incidents/stream/2024-01-01T00:00:00.000"
    functions            = { connect = { reserved_concurrency = 0 } }
    account_quotas       = { lambda_concurrent_executions = 1000 }
  }
  expect_failures = [var.functions]
}

run "access_logs_without_saying_who_provides_the_account_role_are_refused" {
  command = plan
  variables {
    incidents_stream_arn = "arn:aws:dynamodb:us-east-1:123456789012:table/Incidents/stream/2024-01-01T00:00:00.000"
    api_logging          = { access_logs = true }
  }
  expect_failures = [var.api_logging]
}

run "execution_logging_without_saying_who_provides_the_account_role_is_refused" {
  command = plan
  variables {
    incidents_stream_arn = "arn:aws:dynamodb:us-east-1:123456789012:table/Incidents/stream/2024-01-01T00:00:00.000"
    api_logging          = { execution_level = "ERROR" }
  }
  expect_failures = [var.api_logging]
}

run "stream_key_must_be_a_key_arn" {
  command = plan
  variables {
    incidents_stream_arn         = "arn:aws:dynamodb:us-east-1:123456789012:table/Incidents/stream/2024-01-01T00:00:00.000"
    incidents_stream_kms_key_arn = "alias/incidents"
  }
  expect_failures = [var.incidents_stream_kms_key_arn]
}

run "a_name_over_its_limit_is_refused_at_plan" {
  command = plan
  variables {
    incidents_stream_arn = "arn:aws:dynamodb:us-east-1:123456789012:table/Incidents/stream/2024-01-01T00:00:00.000"
    # <project>-<environment>-websocket-apigateway-cloudwatch: 65 characters,
    # IAM allows 64.
    project                     = "abcdefghijklmnopqrst"
    environment                 = "abcdefghijkl"
    non_production_environments = ["abcdefghijkl"]
    api_logging                 = { access_logs = true, manage_account_role = true }
  }
  expect_failures = [var.environment]
}

run "a_global_incidents_table_warns_about_its_readers" {
  command = plan
  variables {
    incidents_stream_arn   = "arn:aws:dynamodb:us-east-1:123456789012:table/Incidents/stream/2024-01-01T00:00:00.000"
    incidents_global_table = true
  }
  expect_failures = [check.incidents_stream_readers]
}

run "a_budget_over_the_accounts_throttle_is_refused" {
  command = plan
  variables {
    incidents_stream_arn = "arn:aws:dynamodb:us-east-1:123456789012:table/Incidents/stream/2024-01-01T00:00:00.000"
    # 8000 + sync 1000 + the stage's 1000 > 2500 in Milan.
    region = "eu-south-1"
    fanout = { rate = 8000 }
  }
  expect_failures = [output.api_request_budget]
}

run "a_rate_below_one_post_per_invocation_is_refused" {
  command = plan
  variables {
    incidents_stream_arn    = "arn:aws:dynamodb:us-east-1:123456789012:table/Incidents/stream/2024-01-01T00:00:00.000"
    fanout                  = { rate = 3 }
    incidents_stream_shards = 4
  }
  expect_failures = [output.api_request_budget]
}
