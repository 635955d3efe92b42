# The sync route (issue 16): its function (sizing, environment), its
# least-privilege role, its route and stage throttle, and the post rate split
# over its concurrency. Its handler and zip: root_plan.tftest.hcl; its alarms:
# monitoring.tftest.hcl; the sync variable's validations: root_validation.tftest.hcl.
# Run: terraform test -test-directory=tests/tftest -filter=tests/tftest/sync.tftest.hcl

mock_provider "aws" {
  # Mocked values and per-resource overrides (tables, the API, the functions): tests/tftest/mocks.
  source          = "./tests/tftest/mocks"
  override_during = plan
}

run "defaults" {
  command = plan

  assert {
    condition = { for k, v in module.function["sync"].environment_variables : k => v if !contains(["LOG_LEVEL", "POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "ENVIRONMENT", "ROLE_VIEWS", "WS_CALLBACK_URL"], k) } == {
      CONNECTIONS_TABLE       = "realtime-test-connections"
      STATE_TABLE             = "realtime-test-state"
      STATE_RETENTION_SECONDS = "86400"
      CLOSED_STATUSES         = jsonencode(["closed", "resolved"])
      POST_MAX_ATTEMPTS       = "4"
      SYNC_FULL_INTERVAL_MS   = "5000"
      SYNC_CURSOR_OVERLAP_MS  = "15000"
      # 1,000 posts/s over 10 expected concurrent executions.
      SYNC_POST_RATE = "100"
      # var.subscriptions: a connection row without areas gets the default (everything).
      DEFAULT_AREAS = jsonencode(["*"])
    }
    error_message = "The sync function's settings must come from var.sync, var.incident_state, var.subscriptions and the tables, with the post rate split over its concurrency."
  }
  assert {
    condition     = module.function["sync"].environment_variables["ROLE_VIEWS"] == module.function["broadcaster"].environment_variables["ROLE_VIEWS"] && module.function["sync"].environment_variables["WS_CALLBACK_URL"] == module.function["broadcaster"].environment_variables["WS_CALLBACK_URL"] && module.function["sync"].environment_variables["DEFAULT_AREAS"] == module.function["broadcaster"].environment_variables["DEFAULT_AREAS"]
    error_message = "Sync answers and live messages must use the same role views, default areas and management endpoint."
  }
  assert {
    condition = [for s in jsondecode(module.function["sync"].policy).Statement : { a = s.Action, r = s.Resource } if s.Sid != "WriteOwnLogGroup"] == [
      { a = ["dynamodb:GetItem", "dynamodb:UpdateItem"], r = ["arn:aws:dynamodb:us-east-1:123456789012:table/realtime-test-connections"] },
      { a = ["dynamodb:Query"], r = ["arn:aws:dynamodb:us-east-1:123456789012:table/realtime-test-state/index/byChange"] },
      { a = ["execute-api:ManageConnections"], r = ["arn:aws:execute-api:us-east-1:123456789012:abc123def4/prod/POST/@connections/*"] },
    ]
    error_message = "The sync role may only read and conditionally update connection rows, Query the byChange index and post to this stage's connections."
  }
  assert {
    condition     = var.functions.sync.reserved_concurrency == null && module.function["sync"].reserved_concurrent_executions == -1
    error_message = "The sync function is unreserved by default (a fresh account must be able to apply)."
  }
  assert {
    condition     = module.websocket_api.integrations["sync"] == { type = "AWS_PROXY", uri = module.function["sync"].invoke_arn, reply = null }
    error_message = "The sync route must invoke the sync function."
  }
  assert {
    condition     = module.websocket_api.route_throttling == { sync = { burst_limit = 1000, rate_limit = 500 } }
    error_message = "The sync route needs its own stage throttle (burst 1000, 500/s by default), and only it."
  }
}

run "reserved_concurrency_makes_the_rate_split_hard" {
  command = plan

  variables {
    functions      = { sync = { reserved_concurrency = 40 } }
    account_quotas = { lambda_concurrent_executions = 1000 }
    sync           = { post_rate = 2000, full_sync_interval_seconds = 2.5, cursor_overlap_seconds = 30, route_rate_limit = 50, route_burst_limit = 100 }
  }

  assert {
    condition = (
      var.functions.sync.reserved_concurrency == 40 &&
      module.function["sync"].environment_variables["SYNC_POST_RATE"] == "50" &&
      module.function["sync"].environment_variables["SYNC_FULL_INTERVAL_MS"] == "2500" &&
      module.function["sync"].environment_variables["SYNC_CURSOR_OVERLAP_MS"] == "30000"
    )
    error_message = "With a reservation, each execution environment gets post_rate / reserved_concurrency posts per second."
  }
  assert {
    condition     = module.websocket_api.route_throttling == { sync = { burst_limit = 100, rate_limit = 50 } }
    error_message = "sync.route_* must reach the sync route's stage throttle."
  }
}
