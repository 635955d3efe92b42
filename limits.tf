# AWS limits the stack is checked against at plan, in one place: what a fresh
# account refuses only at apply, halfway through (docs/deploying.md, "First
# deploy on a fresh account").

locals {
  # Lambda keeps at least this many of the account's concurrent executions
  # unreserved; a reservation that would leave fewer is refused.
  # https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html
  lambda_unreserved_minimum = 100
}

# ---------------------------------------------------------------------------
# API Gateway's account throttle: the stack's request budget
# ---------------------------------------------------------------------------
# Every @connections post counts toward API Gateway's account-level throttle,
# shared "across HTTP APIs, REST APIs, WebSocket APIs, and WebSocket callback
# APIs" of the account in the Region: 10,000 requests/s by default, 2,500/s
# in the Regions below. fanout.rate is the stack's total; each Broadcaster
# invocation that can run at once gets an equal share (FANOUT_RATE), which it
# splits over its workers.
# https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html
locals {
  # "For the following Regions, the default throttle quota is 2500 RPS": Cape
  # Town, Milan, Jakarta, UAE, Hyderabad, Melbourne, Spain, Zurich, Tel Aviv,
  # Calgary, Malaysia, Thailand, Mexico (Central).
  api_throttle_2500_regions = [
    "af-south-1", "eu-south-1", "ap-southeast-3", "me-central-1", "ap-south-2", "ap-southeast-4",
    "eu-south-2", "eu-central-2", "il-central-1", "ca-west-1", "ap-southeast-5", "ap-southeast-7",
    "mx-central-1",
  ]
  api_requests_per_second = coalesce(
    var.account_quotas.api_requests_per_second,
    contains(local.api_throttle_2500_regions, var.region) ? 2500 : 10000,
  )

  # The most Broadcaster invocations that run at once: one per shard and
  # parallelization factor, fewer if a reservation caps them.
  # https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html#services-ddb-params
  stream_invocations      = var.incidents_stream_shards * var.stream_consumer.parallelization_factor
  broadcaster_reservation = coalesce(var.functions.broadcaster.reserved_concurrency, -1)
  broadcaster_invocations = local.broadcaster_reservation > 0 ? min(local.stream_invocations, local.broadcaster_reservation) : local.stream_invocations
  # Left out, the fan-out takes half of what the stack's other sources leave
  # of the throttle: safe in the 2,500/s Regions too, with room for the
  # account's other APIs.
  fanout_rate_total          = coalesce(var.fanout.rate, max(1, floor((local.api_requests_per_second - var.sync.post_rate - var.throttling.rate_limit) / 2)))
  fanout_rate_per_invocation = floor(local.fanout_rate_total / local.broadcaster_invocations)

  # Requests per second the stack may send through API Gateway at most, by
  # source: the fan-out's posts, the sync route's answers (var.sync.post_rate)
  # and the clients' own messages. Another source of @connections posts adds
  # its entry here; the sum must stay within the account's throttle.
  # Clients' own messages ($connect, ping, ...) are capped by the stage's
  # throttling.rate_limit. Other APIs of the account share what is left:
  # lower account_quotas.api_requests_per_second to this stack's share.
  api_request_budget = {
    fanout  = local.fanout_rate_total
    sync    = var.sync.post_rate # the sync route's answers (sync.tf)
    clients = var.throttling.rate_limit
  }
}

output "api_request_budget" {
  description = "Requests per second the stack may send through API Gateway's account throttle, by source (fanout: every Broadcaster invocation together; sync: the sync route's answers; clients: the stage's rate limit), the throttle they share, and each Broadcaster invocation's FANOUT_RATE."
  value = {
    sources                    = local.api_request_budget
    total                      = sum(values(local.api_request_budget))
    account_throttle           = local.api_requests_per_second
    broadcaster_invocations    = local.broadcaster_invocations
    fanout_rate_per_invocation = local.fanout_rate_per_invocation
  }

  precondition {
    condition     = sum(values(local.api_request_budget)) <= local.api_requests_per_second
    error_message = "The stack may send ${sum(values(local.api_request_budget))} requests/s through API Gateway (${join(", ", [for k, v in local.api_request_budget : "${k} ${v}"])}), more than the account's throttle of ${local.api_requests_per_second}/s in ${var.region}${var.account_quotas.api_requests_per_second == null ? " (the Region's default)" : ""}, which every API of the account shares: every client would get 429s. Lower fanout.rate (to at most ${max(1, local.api_requests_per_second - sum(values(local.api_request_budget)) + local.fanout_rate_total)}) or throttling.rate_limit, or raise the quota (Service Quotas > Amazon API Gateway > Throttle rate) first and set account_quotas.api_requests_per_second."
  }

  precondition {
    condition     = local.fanout_rate_per_invocation >= 1
    error_message = "fanout.rate (${local.fanout_rate_total}/s for the whole stack) is less than one post per second for each of the ${local.broadcaster_invocations} Broadcaster invocations that can run at once (incidents_stream_shards x stream_consumer.parallelization_factor): raise fanout.rate to at least ${local.broadcaster_invocations}, or cap the invocations with functions.broadcaster.reserved_concurrency."
  }
}

# ---------------------------------------------------------------------------
# Name lengths
# ---------------------------------------------------------------------------
# Every name the stack derives from "<project>-<environment>", by the service
# whose limit applies: output.resource_names lists them all, taken from where
# each is made (local.names, local.function_name, the modules' `names`
# outputs). var.environment's validation checks the longest of each service
# against its limit: a variable's validation runs before any resource is
# planned, where the provider's own length checks would otherwise stop the
# plan first with a message that does not say what to shorten. The longest
# names are written here as patterns ("%s" is "<project>-<environment>"), and
# tests/tftest/fresh_account.tftest.hcl checks them against resource_names.
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html
# https://docs.aws.amazon.com/lambda/latest/api/API_CreateFunction.html
# https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_CreateLogGroup.html
# https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_CreateQueue.html
# https://docs.aws.amazon.com/sns/latest/api/API_CreateTopic.html
# https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_CreateTable.html
# https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html
locals {
  # when: "always", or the setting that creates the name (see var.environment).
  longest_names = {
    "IAM role"             = { limit = 64, patterns = { always = "%s-fanout-worker", account_role = "%s-websocket-apigateway-cloudwatch" } }
    "Lambda function"      = { limit = 64, patterns = { always = "%s-fanout-worker" } }
    "CloudWatch log group" = { limit = 512, patterns = { always = "/aws/lambda/%s-fanout-worker" } }
    "SQS queue"            = { limit = 80, patterns = { stream = "%s-broadcaster-dlq" } }
    "SNS topic"            = { limit = 256, patterns = { always = "%s-operators" } }
    "DynamoDB table"       = { limit = 255, patterns = { always = "%s-idempotency" } }
    "CloudWatch alarm"     = { limit = 255, patterns = { always = "%s-websocket-integration-errors" } }
  }

  alarm_names = local.alarm_resources[*].alarm_name

  function_module_names = [for f in module.function : f.names]

  resource_names = {
    "IAM role"             = concat([for f in local.function_module_names : f.role], compact([module.websocket_api.names.account_role]))
    "Lambda function"      = [for f in local.function_module_names : f.function]
    "CloudWatch log group" = concat([for f in local.function_module_names : f.log_group], compact([module.websocket_api.names.access_log_group]))
    "SQS queue"            = [for c in module.stream_consumer : c.names.dead_letter_queue]
    "SNS topic"            = [local.names.alerts_topic, local.names.operators_topic]
    "DynamoDB table"       = [for t in values(local.tables) : t.name]
    "CloudWatch alarm"     = local.alarm_names
  }
}

output "resource_names" {
  description = "Every name the stack derives from project and environment, by service (var.environment's validation checks the longest of each against its limit)."
  value       = { for service, names in local.resource_names : service => sort(names) }
}

# ---------------------------------------------------------------------------
# Readers of the Incidents stream
# ---------------------------------------------------------------------------
# "For single-Region tables that are not global tables, you can design for up
# to two simultaneous processes to read from the same DynamoDB Streams shard
# at the same time ... For global tables, we recommend you limit the number of
# simultaneous readers to one." The Broadcaster and the Notifier are two; a
# redrive (tools/redrive) is one more while it runs.
# https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html
locals {
  stream_readers           = length(module.stream_consumer)
  stream_readers_per_shard = var.incidents_global_table ? 1 : 2
}

check "incidents_stream_readers" {
  assert {
    condition     = local.stream_readers <= local.stream_readers_per_shard
    error_message = "The Incidents table is a global table (incidents_global_table = true): AWS recommends one reader per stream shard, and this stack attaches ${local.stream_readers} (Broadcaster and Notifier), so their GetRecords calls may be throttled and both fall behind (IteratorAge alarms). What to do: docs/operations.md, \"Readers of the Incidents stream\"."
  }
}
