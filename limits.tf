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

  alarm_names = concat(
    [for a in aws_cloudwatch_metric_alarm.iterator_age : a.alarm_name],
    [for a in aws_cloudwatch_metric_alarm.dead_letter : a.alarm_name],
    [for a in aws_cloudwatch_metric_alarm.records_failed : a.alarm_name],
    aws_cloudwatch_metric_alarm.fanout_duration[*].alarm_name,
    aws_cloudwatch_metric_alarm.duplicate_alerts[*].alarm_name,
    aws_cloudwatch_metric_alarm.no_alerts[*].alarm_name,
    [for a in aws_cloudwatch_metric_alarm.function_errors : a.alarm_name],
    [for a in aws_cloudwatch_metric_alarm.function_throttles : a.alarm_name],
    [for a in aws_cloudwatch_metric_alarm.api_errors : a.alarm_name],
  )

  function_module_names = concat(
    [for f in module.function : f.names],
    [module.fanout_worker.names],
  )

  resource_names = {
    "IAM role"             = concat([for f in local.function_module_names : f.role], compact([module.websocket_api.names.account_role]))
    "Lambda function"      = [for f in local.function_module_names : f.function]
    "CloudWatch log group" = concat([for f in local.function_module_names : f.log_group], compact([module.websocket_api.names.access_log_group]))
    "SQS queue"            = [for c in module.stream_consumer : c.names.dead_letter_queue]
    "SNS topic"            = [local.names.alerts_topic, local.names.operators_topic]
    "DynamoDB table"       = [local.names.connections_table, local.names.idempotency_table]
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
