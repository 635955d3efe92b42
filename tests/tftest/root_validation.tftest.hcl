# Every validation rule of the root module rejects a bad value at plan time.
# Values the root passes on to a module are validated there
# (modules_validation.tftest.hcl); the provider checks its own ranges.

mock_provider "aws" {}

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
# from it in fresh_account.tftest.hcl), and the second reads var.project: one
# run each, so neither hides the other.
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
