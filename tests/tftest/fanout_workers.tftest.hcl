# The fan-out worker path (fanout_workers.tf), plan mode with a mocked AWS
# provider: the worker function and its exact permissions, the Broadcaster's
# invoke permission on exactly that function, the fan-out settings reaching
# both, and the concurrency limits (modules_plan checks that lambda_function
# applies memory, timeout and reserved concurrency). Both functions' default
# environments are checked with every function's in root_plan.tftest.hcl, the
# fan-out variables' validations in root_validation.tftest.hcl.
# Run: make tftest (terraform test -test-directory=tests/tftest)

mock_provider "aws" {
  # Mocked computed values and per-resource overrides (tests/tftest/mocks) are
  # known at plan time, so policies and outputs built from ARNs can be
  # asserted in plan-mode runs.
  source          = "./tests/tftest/mocks"
  override_during = plan
}

run "worker_wiring" {
  command = plan

  assert {
    condition     = module.function["fanout-worker"].function_name == "realtime-test-fanout-worker" && output.fanout_worker_function_name == "realtime-test-fanout-worker" && output.function_names["fanout-worker"] == "realtime-test-fanout-worker"
    error_message = "The worker must be named <project>-<environment>-fanout-worker and exported."
  }
  assert {
    condition = [for s in jsondecode(module.function["fanout-worker"].policy).Statement : { a = toset(s.Action), r = toset(s.Resource) } if s.Sid != "WriteOwnLogGroup"] == [
      { a = toset(["dynamodb:Scan", "dynamodb:DeleteItem"]), r = toset(["arn:aws:dynamodb:us-east-1:123456789012:table/realtime-test-connections"]) },
      { a = toset(["execute-api:ManageConnections"]), r = toset(["arn:aws:execute-api:us-east-1:123456789012:abc123def4/prod/POST/@connections/*"]) },
    ]
    error_message = "The worker may only Scan/DeleteItem on Connections and ManageConnections on the stage."
  }
  assert {
    condition = [for s in jsondecode(aws_iam_role_policy.broadcaster_fanout_workers.policy).Statement : { a = toset(s.Action), r = toset(s.Resource) }] == [
      { a = toset(["lambda:InvokeFunction"]), r = toset(["arn:aws:lambda:us-east-1:123456789012:function:realtime-test-fanout-worker"]) },
      { a = toset(["dynamodb:DescribeTable"]), r = toset(["arn:aws:dynamodb:us-east-1:123456789012:table/realtime-test-connections"]) },
    ]
    error_message = "The Broadcaster may invoke exactly the worker function and describe the Connections table, nothing more."
  }
  assert {
    condition     = aws_iam_role_policy.broadcaster_fanout_workers.role == module.function["broadcaster"].role_name
    error_message = "The worker-path policy belongs to the Broadcaster's role."
  }
}

run "limits_are_variables" {
  command = plan

  variables {
    fanout = {
      concurrency       = 128
      rate              = 2500
      post_max_attempts = 6
      worker_threshold  = 20000
      max_workers       = 40
    }
    functions = {
      fanout-worker = { memory_size = 1769, timeout = 120, reserved_concurrency = 80 }
    }
    account_quotas = { lambda_concurrent_executions = 1000 }
  }

  assert {
    condition = (
      module.function["broadcaster"].environment_variables["FANOUT_CONCURRENCY"] == "128" &&
      module.function["broadcaster"].environment_variables["POST_MAX_ATTEMPTS"] == "6" &&
      module.function["broadcaster"].environment_variables["FANOUT_WORKER_THRESHOLD"] == "20000" &&
      module.function["broadcaster"].environment_variables["FANOUT_MAX_WORKERS"] == "40" &&
      module.function["broadcaster"].environment_variables["FANOUT_RATE"] == "625" &&
      module.function["fanout-worker"].environment_variables["FANOUT_CONCURRENCY"] == "128"
    )
    error_message = "fanout must reach the Broadcaster's environment (the rate as each of the 4 shards' share), and its concurrency the worker's."
  }
}

# ---------------------------------------------------------------------------
# Role-based views (ROLE_VIEWS, the Broadcaster's; the workers get the views
# as frames in their job, so their environment has none)
# ---------------------------------------------------------------------------
run "role_views_reach_the_broadcaster_as_json" {
  command = plan

  assert {
    # variables.tf owns the default; tests/unit/test_settings_from_terraform.py feeds it to
    # the Broadcaster's reader.
    condition     = module.function["broadcaster"].environment_variables["ROLE_VIEWS"] == jsonencode(var.role_views)
    error_message = "The Broadcaster's ROLE_VIEWS must be var.role_views as JSON."
  }
  assert {
    condition     = !contains(keys(module.function["fanout-worker"].environment_variables), "ROLE_VIEWS")
    error_message = "Workers get the views as frames in their job, not from the environment."
  }
}

run "custom_role_views_are_passed_through" {
  command = plan

  variables {
    allowed_roles = ["dispatcher", "public"]
    role_views = {
      dispatcher = { whole = true }
      public     = { attributes = ["incidentId", "status"] }
    }
  }

  assert {
    condition     = jsondecode(module.function["broadcaster"].environment_variables["ROLE_VIEWS"]).public.attributes == ["incidentId", "status"]
    error_message = "A custom view must reach the Broadcaster unchanged."
  }
}
