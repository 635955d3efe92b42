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
# rules: the rounds below.

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

# ---------------------------------------------------------------------------
# Variables with several rules or several bad values: round N holds the Nth
# bad value of each such variable and nothing else of it, so each listed
# variable fails for that value alone (a run fails with "Missing expected
# failure" if any listed variable accepts its value). A variable whose rule
# reads another (environment's names' length reads project, functions'
# rules read fanout, account_quotas and region, role_views reads
# allowed_roles) meets only valid values of that other one in its round:
# Terraform does not check a variable at all while one it reads is invalid. The feature files test what a good
# value builds: fanout_workers, monitoring, state_table, sync and
# subscriptions.tftest.hcl.
# ---------------------------------------------------------------------------
# role_views' rounds break one role's view: the other allowed roles' views
# are whole.
variables {
  whole_views = {
    dispatcher = { whole = true }
    supervisor = { whole = true }
    responder  = { whole = true }
    viewer     = { whole = true }
  }
}

run "round_1" {
  command = plan
  variables {
    fanout         = { max_workers = 1 }            # one worker is no fan-out
    sync           = { cursor_overlap_seconds = 0 } # overlap too short
    subscriptions  = { fields = ["area", "area"] }  # duplicate fields
    incident_state = { retention_seconds = 600 }    # retention too short
    monitoring     = { namespace = "AWS/Lambda" }   # a reserved namespace
    fanout_workers = {}                             # removed, even when empty
    role_views = merge(var.whole_views, {           # a view both whole and listed
      dispatcher = { whole = true, attributes = ["title"] }
    })
    # An empty list reaches the notifier as "", which it reads as unset (the
    # default list): rejected, not silently turned into the default.
    escalation_statuses = []
  }
  expect_failures = [
    var.fanout, var.sync, var.subscriptions, var.incident_state, var.monitoring,
    var.fanout_workers, var.role_views, var.escalation_statuses,
  ]
}

run "round_2" {
  command = plan
  variables {
    environment     = "Production Env"                        # its form (its names' length: below)
    fanout          = { worker_threshold = 0 }                # a zero threshold
    sync            = { post_rate = 10.5 }                    # post rate not whole
    subscriptions   = { fields = [] }                         # no fields
    incident_state  = { retention_seconds = 86400.5 }         # retention not whole
    monitoring      = { fanout_duration_fraction = 1 }        # a fraction of one
    alert_urgencies = []                                      # empty, as escalation_statuses
    role_views      = merge(var.whole_views, { viewer = {} }) # an empty view
  }
  expect_failures = [
    var.environment, var.fanout, var.sync, var.subscriptions, var.incident_state,
    var.monitoring, var.alert_urgencies, var.role_views,
  ]
}

run "round_3" {
  command = plan
  variables {
    fanout         = { rate = 100001 }                                 # rate over the maximum
    sync           = { full_sync_interval_seconds = 7200 }             # interval too long
    subscriptions  = { fields = ["location.area"] }                    # a field name with a dot
    incident_state = { closed_statuses = ["Closed", "resolved,done"] } # not lowercase names
    role_views = merge(var.whole_views, {                              # a bad attribute name
      viewer = { attributes = ["title", "location address"] }
    })
  }
  expect_failures = [var.fanout, var.sync, var.subscriptions, var.incident_state, var.role_views]
}

run "round_4" {
  command = plan
  variables {
    fanout        = { concurrency = 257 }        # concurrency over the pool
    sync          = { expected_concurrency = 0 } # expected concurrency zero
    subscriptions = { areas_claim = "my areas" } # a claim name with spaces
    role_views = {                               # an allowed role without a view
      dispatcher = { whole = true }
      viewer     = { attributes = ["title"] }
    }
  }
  expect_failures = [var.fanout, var.sync, var.subscriptions, var.role_views]
}

run "round_5" {
  command = plan
  variables {
    fanout        = { post_max_attempts = 11 }     # attempts over ten
    sync          = { route_rate_limit = 0 }       # route throttle zero
    subscriptions = { default_areas = ["no*rth"] } # a pattern in the middle
    allowed_roles = ["dispatcher"]                 # valid: what role_views is checked against
    role_views = {                                 # a view for a role that cannot connect
      dispatcher = { whole = true }
      auditor    = { whole = true }
    }
  }
  expect_failures = [var.fanout, var.sync, var.subscriptions, var.role_views]
}

run "round_6" {
  command = plan
  variables {
    subscriptions = { default_areas = ["/*"] } # a bare prefix
    # A worker reservation below fanout.max_workers (valid here).
    fanout    = { max_workers = 10 }
    functions = { fanout-worker = { reserved_concurrency = 5 } }
  }
  expect_failures = [var.subscriptions, var.functions]
}

run "round_7" {
  command = plan
  variables {
    subscriptions = { limits = { values_per_field = 0 } } # no values per field
    functions     = { connect = { timeout = 30 } }        # over API Gateway's 29 s
  }
  expect_failures = [var.subscriptions, var.functions]
}

run "round_8" {
  command = plan
  variables {
    subscriptions = { limits = { max_bytes = 40000 } } # over one frame
    functions     = { sync = { timeout = 30 } }        # over the integration limit
  }
  expect_failures = [var.subscriptions, var.functions]
}

run "round_9" {
  command = plan
  variables {
    subscriptions = { limits = { areas_max_bytes = 8192 } } # over what the authorizer's result carries
    functions     = { subscribe = { timeout = 30 } }        # over the integration limit
  }
  expect_failures = [var.subscriptions, var.functions]
}

# ---------------------------------------------------------------------------
# What a fresh account refuses (issue 18; fresh_account.tftest.hcl tests what it needs)
# ---------------------------------------------------------------------------
run "a_reservation_without_the_quota_access_logs_without_the_role_and_a_key_alias" {
  command = plan
  variables {
    incidents_stream_arn         = "arn:aws:dynamodb:us-east-1:123456789012:table/Incidents/stream/2024-01-01T00:00:00.000"
    functions                    = { connect = { reserved_concurrency = 50 } } # without account_quotas
    api_logging                  = { access_logs = true }                      # without saying who provides the account role
    incidents_stream_kms_key_arn = "alias/incidents"                           # not a key ARN
  }
  expect_failures = [var.functions, var.api_logging, var.incidents_stream_kms_key_arn]
}

run "reservations_leaving_fewer_than_100_unreserved_and_execution_logs_without_the_role" {
  command = plan
  variables {
    incidents_stream_arn = "arn:aws:dynamodb:us-east-1:123456789012:table/Incidents/stream/2024-01-01T00:00:00.000"
    # 50 + 50 + 1 = 101 > 200 - 100
    functions      = { connect = { reserved_concurrency = 50 }, disconnect = { reserved_concurrency = 50 }, notifier = { reserved_concurrency = 1 } }
    account_quotas = { lambda_concurrent_executions = 200 }
    api_logging    = { execution_level = "ERROR" } # without saying who provides the account role
  }
  expect_failures = [var.functions, var.api_logging]
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
