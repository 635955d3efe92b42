# What a fresh AWS account refuses or breaks that the emulator accepts
# (issue 18), caught at plan with a mocked provider: opt-in reserved
# concurrency checked against the account's quota, the account's CloudWatch
# role for API logging, customer managed keys granted through DynamoDB only,
# SNS lambda subscriptions, name lengths, readers of a global table's stream.
# The refusals among them (expect_failures runs) are in root_validation.tftest.hcl.

mock_provider "aws" {
  # The shared mocks and per-resource overrides keep ARNs known at plan time.
  source          = "./tests/tftest/mocks"
  override_during = plan
}

variables {
  incidents_stream_arn = "arn:aws:dynamodb:us-east-1:123456789012:table/Incidents/stream/2024-01-01T00:00:00.000"
}

# ---------------------------------------------------------------------------
# 18.1 Reserved concurrency: opt-in, checked against the account's quota
# ---------------------------------------------------------------------------
run "reservations_within_the_quota_reach_the_functions" {
  command = plan
  variables {
    # Exactly 100 left unreserved: the most Lambda accepts.
    functions      = { connect = { reserved_concurrency = 50 }, disconnect = { reserved_concurrency = 50 } }
    account_quotas = { lambda_concurrent_executions = 200 }
  }
  assert {
    condition     = module.function["connect"].reserved_concurrent_executions == 50 && module.function["disconnect"].reserved_concurrent_executions == 50
    error_message = "A reservation within the quota must reach its function."
  }
  assert {
    condition     = module.function["broadcaster"].reserved_concurrent_executions == -1 && module.function["notifier"].reserved_concurrent_executions == -1
    error_message = "Functions without a reservation stay unreserved."
  }
}

# ---------------------------------------------------------------------------
# 18.2 API logging needs the account's CloudWatch role: the plan asks
# ---------------------------------------------------------------------------
# envs/prod.tfvars turns access logs on: it must say who provides the role.
run "access_logs_on_a_fresh_account_create_the_account_role" {
  command = plan
  variables {
    api_logging = { access_logs = true, manage_account_role = true }
  }
  assert {
    condition     = module.websocket_api.account_cloudwatch_role_arn != null && module.websocket_api.access_log_settings != null
    error_message = "manage_account_role = true must create the account role for the access logs."
  }
  assert {
    condition     = jsondecode(module.websocket_api.access_log_settings.format).userId == "$context.authorizer.userId"
    error_message = "api_logging.access_logs must turn the stage's access logs on, with the authorizer's userId."
  }
  assert {
    condition     = length(regexall("(?m)^\\s*manage_account_role\\s*=\\s*(true|false)", file("${path.module}/envs/prod.tfvars"))) == 1
    error_message = "envs/prod.tfvars turns on access logs, so it must set api_logging.manage_account_role."
  }
}

run "access_logs_with_the_accounts_own_role" {
  command = plan
  variables {
    api_logging = { access_logs = true, manage_account_role = false }
  }
  assert {
    condition     = module.websocket_api.account_cloudwatch_role_arn == null && module.websocket_api.access_log_settings != null
    error_message = "manage_account_role = false must log through the account's existing role, creating none."
  }
}

# ---------------------------------------------------------------------------
# 18.6 Customer managed keys: granted through the service only
# ---------------------------------------------------------------------------
run "a_table_key_is_granted_to_every_role_that_uses_a_table_through_dynamodb" {
  command = plan
  variables {
    kms_key_arn                  = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
    incidents_stream_kms_key_arn = "arn:aws:kms:us-east-1:123456789012:key/99999999-8888-7777-6666-555555555555"
  }

  assert {
    # connect, disconnect, broadcaster (Connections, state), notifier (idempotency).
    condition = alltrue([for k in ["connect", "disconnect", "broadcaster", "notifier"] :
      length([for s in jsondecode(module.function[k].policy).Statement : s
        if s.Sid == "UseTableKey" && jsonencode(s.Resource) == jsonencode([var.kms_key_arn]) &&
        jsonencode(try(s.Condition, null)) == jsonencode({ StringEquals = { "kms:ViaService" = ["dynamodb.us-east-1.amazonaws.com"] } }) &&
        toset(s.Action) == toset(["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"])
      ]) == 1
    ])
    error_message = "Every role that uses a table needs the table key, through DynamoDB only (kms:ViaService)."
  }
  assert {
    condition     = length([for s in jsondecode(module.function["fanout-worker"].policy).Statement : s if s.Sid == "UseTableKey"]) == 1
    error_message = "The fan-out worker reads Connections: it needs the table key too."
  }
  assert {
    condition = alltrue(flatten([for k, f in module.function : [
      for s in jsondecode(f.policy).Statement : try(length(s.Condition.StringEquals["kms:ViaService"]) == 1, false)
      if anytrue([for a in s.Action : startswith(a, "kms:")])
    ]]))
    error_message = "Every KMS grant must be scoped with kms:ViaService."
  }
  assert {
    condition = alltrue([for k in ["broadcaster", "notifier"] :
      length([for s in jsondecode(module.stream_consumer[k].policy).Statement : s
        if s.Sid == "DecryptIncidentsStream" && jsonencode(s.Action) == jsonencode(["kms:Decrypt"]) && jsonencode(s.Resource) == jsonencode([var.incidents_stream_kms_key_arn]) &&
        jsonencode(try(s.Condition, null)) == jsonencode({ StringEquals = { "kms:ViaService" = ["dynamodb.us-east-1.amazonaws.com"] } })
      ]) == 1
    ])
    error_message = "Both stream readers need kms:Decrypt on the Incidents table's key, through DynamoDB only."
  }
}

run "without_customer_keys_no_role_gets_a_key" {
  command = plan
  assert {
    condition = alltrue(flatten([for k, f in module.function : [
      for s in jsondecode(f.policy).Statement : !anytrue([for a in s.Action : startswith(a, "kms:")])
    ]]))
    error_message = "AWS managed keys need no grant: no role may get KMS permissions without kms_key_arn."
  }
  assert {
    condition     = alltrue([for k, c in module.stream_consumer : !strcontains(c.policy, "kms:")])
    error_message = "Without a stream key the readers get no KMS permission."
  }
}

# ---------------------------------------------------------------------------
# 18.7 SNS lambda subscriptions get their invoke permission
# ---------------------------------------------------------------------------
run "a_lambda_subscription_gets_the_permission_sns_needs" {
  command = plan
  variables {
    alert_subscriptions = [{ protocol = "lambda", endpoint = "arn:aws:lambda:us-east-1:123456789012:function:page-on-call" }]
  }
  assert {
    condition     = keys(module.alerts_topic.lambda_permission_statement_ids) == ["lambda:arn:aws:lambda:us-east-1:123456789012:function:page-on-call"]
    error_message = "A lambda subscription needs an aws_lambda_permission for sns.amazonaws.com."
  }
}

# ---------------------------------------------------------------------------
# 18.10 Names: every derived name within its service's limit, at plan
# ---------------------------------------------------------------------------
run "the_longest_project_and_environment_fit_without_the_account_role" {
  command = plan
  variables {
    project     = "abcdefghijklmnopqrst" # 20, the most project allows
    environment = "abcdefghijkl"         # 12, the most environment allows
    # The authorizer's function is one more name.
    non_production_environments = ["abcdefghijkl"]
    authorizer = {
      issuer                = "https://issuer.example"
      audience              = ["clients"]
      secret_parameter_name = "/p/e/hs256"
    }
  }
  assert {
    condition     = alltrue([for n in output.resource_names["IAM role"] : length(n) <= 64])
    error_message = "Every IAM role name must fit."
  }
  assert {
    condition     = length(output.resource_names["SQS queue"]) == 2 && length(output.resource_names["Lambda function"]) >= 5 && length(output.resource_names["CloudWatch alarm"]) > 0
    error_message = "resource_names must list the queues, the functions and the alarms."
  }
  assert {
    # The validation's table of longest names (limits.tf) is what the stack
    # really names: for every service, the longest pattern the configuration
    # uses is exactly as long as the longest real name.
    condition = alltrue([for service, l in local.longest_names :
      max([for when, p in l.patterns : length(format(p, local.name)) if when != "account_role"]...) == max([for n in output.resource_names[service] : length(n)]...)
    ])
    error_message = "local.longest_names (limits.tf) no longer matches the longest names the stack derives (output.resource_names): update its patterns."
  }
}

# ---------------------------------------------------------------------------
# 18.5 A global table's stream takes one reader per shard
# ---------------------------------------------------------------------------
run "a_single_region_table_has_room_for_both_readers" {
  command = plan
  assert {
    condition     = local.stream_readers == 2 && local.stream_readers_per_shard == 2
    error_message = "Broadcaster and Notifier are the two readers a single-Region table's shard allows."
  }
}

# ---------------------------------------------------------------------------
# 18.4 fanout.rate is the stack's total, split over the invocations that run
# ---------------------------------------------------------------------------
run "the_default_rate_is_half_what_the_other_sources_leave_split_over_the_shards" {
  command = plan
  assert {
    # (10,000 - sync 1,000 - clients 1,000) / 2
    condition     = output.api_request_budget.account_throttle == 10000 && output.api_request_budget.sources.fanout == 4000 && output.api_request_budget.total == 6000
    error_message = "In us-east-1 the default fan-out total is half of what sync and the clients leave of the 10,000/s account throttle."
  }
  assert {
    # 4 shards x parallelization_factor 1 invocations share it.
    condition     = output.api_request_budget.broadcaster_invocations == 4 && module.function["broadcaster"].environment_variables["FANOUT_RATE"] == "1000"
    error_message = "Each Broadcaster invocation must get its share of the total as FANOUT_RATE."
  }
}

run "a_2500_region_gets_a_default_within_its_throttle" {
  command = plan
  variables {
    region = "eu-south-2"
  }
  assert {
    # (2,500 - 1,000 - 1,000) / 2 = 250, 62 for each of 4 invocations.
    condition     = output.api_request_budget.account_throttle == 2500 && output.api_request_budget.sources.fanout == 250 && module.function["broadcaster"].environment_variables["FANOUT_RATE"] == "62"
    error_message = "In a 2,500/s Region the default total must be 250/s, 62/s for each of 4 invocations."
  }
  assert {
    condition     = output.api_request_budget.total <= output.api_request_budget.account_throttle
    error_message = "The default budget must fit a 2,500/s Region's throttle."
  }
}

run "parallelization_multiplies_the_invocations_and_a_reservation_caps_them" {
  command = plan
  variables {
    fanout                  = { rate = 6000 }
    incidents_stream_shards = 3
    stream_consumer         = { parallelization_factor = 4 }
    functions               = { broadcaster = { reserved_concurrency = 5 } }
    account_quotas          = { lambda_concurrent_executions = 1000 }
  }
  assert {
    # min(3 x 4, 5) = 5 invocations: 6000 / 5.
    condition     = output.api_request_budget.broadcaster_invocations == 5 && module.function["broadcaster"].environment_variables["FANOUT_RATE"] == "1200"
    error_message = "A reservation below shards x parallelization_factor must cap the invocations the rate is split over."
  }
}

run "a_raised_quota_admits_a_higher_rate" {
  command = plan
  variables {
    region         = "eu-south-1"
    fanout         = { rate = 8000 }
    account_quotas = { api_requests_per_second = 10000 }
  }
  assert {
    condition     = output.api_request_budget.total == 10000
    error_message = "A quota raised through Service Quotas (account_quotas) must be what the budget is checked against."
  }
}
