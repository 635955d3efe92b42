# Operations: the operators' SNS topic, the alarms that publish to it and one
# dashboard per environment. The custom metrics come from the functions in the
# CloudWatch embedded metric format (functions/realtime_common/metrics.py is
# the contract: namespace, names, dimensions). Every alarm description says
# what it means and links its section of the runbook (docs/operations.md).

locals {
  metrics_namespace = coalesce(var.monitoring.namespace, local.name)
  alarms            = var.monitoring.alarms
  runbook           = var.monitoring.runbook_url
  period            = var.monitoring.period_seconds

  # The two dimensions every custom metric carries (realtime_common.metrics).
  metric_dimensions = {
    for f in ["broadcaster", "notifier", "connect"] : f => { function = f, environment = var.environment }
  }

  # CloudWatch alarms can publish only to a topic whose key lets
  # cloudwatch.amazonaws.com use it: never the AWS managed alias/aws/sns.
  # https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html
  operators_kms_key_arn = var.kms_key_arn != null ? var.kms_key_arn : aws_kms_key.operators[0].arn
  alarm_actions         = [module.operators_topic.arn]

  # Queue names from the on-failure queues' ARNs (arn:aws:sqs:<region>:<account>:<name>).
  dead_letter_queue_names = { for k, c in module.stream_consumer : k => element(split(":", c.dead_letter_queue_arn), 5) }

  fanout_duration_threshold_ms = floor(var.monitoring.fanout_duration_fraction * var.functions.broadcaster.timeout * 1000)
}

# ---------------------------------------------------------------------------
# Operators' topic (never the authorities' alerts topic)
# ---------------------------------------------------------------------------

# With var.kms_key_arn, that key's policy must grant cloudwatch.amazonaws.com
# kms:Decrypt and kms:GenerateDataKey* (docs/operations.md#operators-topic).
resource "aws_kms_key" "operators" {
  count = var.kms_key_arn == null ? 1 : 0

  description             = "${local.name} operators' alarm topic (CloudWatch alarms publish through it)"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = local.operators_key_policy
}

resource "aws_kms_alias" "operators" {
  count = var.kms_key_arn == null ? 1 : 0

  name          = "alias/${local.name}-operators"
  target_key_id = aws_kms_key.operators[0].key_id
}

locals {
  # The default key policy (the account manages the key through IAM) plus CloudWatch alarms.
  # A key policy's Resource is always "*": the key it is attached to.
  operators_key_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountManagesKeyThroughIam"
        Effect    = "Allow"
        Principal = { AWS = "arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        Sid       = "CloudWatchAlarmsPublish"
        Effect    = "Allow"
        Principal = { Service = "cloudwatch.amazonaws.com" }
        Action    = ["kms:Decrypt", "kms:GenerateDataKey*"]
        Resource  = "*"
        Condition = { StringEquals = { "aws:SourceAccount" = data.aws_caller_identity.current.account_id } }
      },
    ]
  })
}

module "operators_topic" {
  source = "./modules/alerts_topic"

  name          = local.names.operators_topic
  display_name  = "Realtime stack alarms"
  kms_key_id    = local.operators_kms_key_arn
  subscriptions = var.operator_subscriptions
}

# ---------------------------------------------------------------------------
# Stream consumers (only with the stream mappings)
# ---------------------------------------------------------------------------
resource "aws_cloudwatch_metric_alarm" "iterator_age" {
  for_each = local.alarms ? module.stream_consumer : {}

  alarm_name          = "${local.name}-${each.key}-iterator-age"
  alarm_description   = "The ${each.key} reads the Incidents stream more than ${var.monitoring.iterator_age_ms / 1000} s behind: ${each.key == "broadcaster" ? "clients see updates late" : "alerts go out late"}, and records older than the stream's 24 h retention are lost. Runbook: ${local.runbook}#iterator-age"
  namespace           = "AWS/Lambda"
  metric_name         = "IteratorAge"
  dimensions          = { FunctionName = module.function[each.key].function_name }
  statistic           = "Maximum"
  period              = local.period
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.monitoring.iterator_age_ms
  # No stream traffic, no IteratorAge: a quiet stream is not an outage.
  treat_missing_data = "notBreaching"
  alarm_actions      = local.alarm_actions
  ok_actions         = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "dead_letter" {
  for_each = local.alarms ? module.stream_consumer : {}

  alarm_name          = "${local.name}-${each.key}-dead-letter"
  alarm_description   = "A batch of Incidents stream records the ${each.key} could not process was parked in ${local.dead_letter_queue_names[each.key]}. Its records are lost once the stream's 24 h retention ends unless they are redriven. Runbook: ${local.runbook}#dead-letter"
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = local.dead_letter_queue_names[each.key] }
  statistic           = "Maximum"
  period              = local.period
  evaluation_periods  = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = 1
  # A queue holding messages always reports; an empty, idle one may not.
  treat_missing_data = "notBreaching"
  alarm_actions      = local.alarm_actions
  ok_actions         = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "records_failed" {
  for_each = local.alarms ? module.stream_consumer : {}

  alarm_name          = "${local.name}-${each.key}-records-failed"
  alarm_description   = "The ${each.key} reported ${var.monitoring.records_failed} or more stream records failed in ${local.period} s; Lambda retries them and parks them in the dead-letter queue when retries run out. Runbook: ${local.runbook}#records-failed"
  namespace           = local.metrics_namespace
  metric_name         = "RecordsFailed"
  dimensions          = local.metric_dimensions[each.key]
  statistic           = "Sum"
  period              = local.period
  evaluation_periods  = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = var.monitoring.records_failed
  # Emitted on every invocation (zero included); no invocations, no failures.
  treat_missing_data = "notBreaching"
  alarm_actions      = local.alarm_actions
  ok_actions         = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "fanout_duration" {
  count = local.alarms && local.stream_enabled ? 1 : 0

  alarm_name          = "${local.name}-broadcaster-fanout-duration"
  alarm_description   = "A broadcaster fan-out took more than ${local.fanout_duration_threshold_ms} ms, ${var.monitoring.fanout_duration_fraction * 100}% of the function's ${var.functions.broadcaster.timeout} s timeout: a few more connections and batches will time out and be retried. Runbook: ${local.runbook}#fan-out-duration"
  namespace           = local.metrics_namespace
  metric_name         = "FanoutDuration"
  dimensions          = local.metric_dimensions.broadcaster
  statistic           = "Maximum"
  period              = local.period
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = local.fanout_duration_threshold_ms
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "duplicate_alerts" {
  count = local.alarms && local.stream_enabled ? 1 : 0

  alarm_name          = "${local.name}-notifier-duplicate-alerts"
  alarm_description   = "The notifier suppressed ${var.monitoring.duplicate_alerts} or more alerts as already published in ${local.period} s: the same records are being delivered again and again (a failing batch retried, or a redrive run twice). Runbook: ${local.runbook}#duplicate-alerts"
  namespace           = local.metrics_namespace
  metric_name         = "DuplicateAlertsSuppressed"
  dimensions          = local.metric_dimensions.notifier
  statistic           = "Sum"
  period              = local.period
  evaluation_periods  = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = var.monitoring.duplicate_alerts
  # Emitted only when a duplicate is suppressed.
  treat_missing_data = "notBreaching"
  alarm_actions      = local.alarm_actions
  ok_actions         = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "no_alerts" {
  count = local.alarms && local.stream_enabled && var.monitoring.no_alerts_hours != null ? 1 : 0

  alarm_name          = "${local.name}-notifier-no-alerts"
  alarm_description   = "For ${coalesce(var.monitoring.no_alerts_hours, 0)} h in a row the notifier was invoked every hour but published no alert. Either nothing urgent happened, or the alert rules or the topic are broken. Runbook: ${local.runbook}#no-alerts"
  evaluation_periods  = coalesce(var.monitoring.no_alerts_hours, 1)
  datapoints_to_alarm = coalesce(var.monitoring.no_alerts_hours, 1)
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = 1
  # Hours without invocations are 0 here, and without any data the alarm stays OK:
  # no incidents is not a broken notifier.
  treat_missing_data = "notBreaching"
  alarm_actions      = local.alarm_actions
  ok_actions         = local.alarm_actions

  metric_query {
    id          = "silent"
    expression  = "IF(FILL(invocations, 0) > 0 AND FILL(alerts, 0) == 0, 1, 0)"
    label       = "Hours with incidents but no alert"
    return_data = true
  }

  metric_query {
    id = "invocations"

    metric {
      namespace   = "AWS/Lambda"
      metric_name = "Invocations"
      dimensions  = { FunctionName = module.function["notifier"].function_name }
      stat        = "Sum"
      period      = 3600
    }
  }

  metric_query {
    id = "alerts"

    metric {
      namespace   = local.metrics_namespace
      metric_name = "AlertsPublished"
      dimensions  = local.metric_dimensions.notifier
      stat        = "Sum"
      period      = 3600
    }
  }
}

# ---------------------------------------------------------------------------
# Functions and the WebSocket API (always)
# ---------------------------------------------------------------------------
resource "aws_cloudwatch_metric_alarm" "function_errors" {
  for_each = local.alarms ? local.function_names : {}

  alarm_name          = "${local.name}-${each.key}-errors"
  alarm_description   = "The ${each.key} function failed ${var.monitoring.errors} or more invocations in ${local.period} s (it raised, timed out or ran out of memory). Runbook: ${local.runbook}#function-errors"
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = each.value }
  statistic           = "Sum"
  period              = local.period
  evaluation_periods  = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = var.monitoring.errors
  # No invocations, no errors.
  treat_missing_data = "notBreaching"
  alarm_actions      = local.alarm_actions
  ok_actions         = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "function_throttles" {
  for_each = local.alarms ? local.function_names : {}

  alarm_name          = "${local.name}-${each.key}-throttles"
  alarm_description   = "Lambda refused ${var.monitoring.throttles} or more ${each.key} invocations in ${local.period} s for lack of concurrency (reserved concurrency or the account limit). Runbook: ${local.runbook}#function-throttles"
  namespace           = "AWS/Lambda"
  metric_name         = "Throttles"
  dimensions          = { FunctionName = each.value }
  statistic           = "Sum"
  period              = local.period
  evaluation_periods  = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = var.monitoring.throttles
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "api_errors" {
  for_each = toset(local.alarms ? ["IntegrationError", "ExecutionError"] : [])

  alarm_name          = "${local.name}-websocket-${lower(replace(each.key, "Error", ""))}-errors"
  alarm_description   = "The WebSocket API counted ${var.monitoring.api_errors} or more ${each.key}s in ${local.period} s: ${each.key == "IntegrationError" ? "$connect or $disconnect answered with an error, or their function failed" : "API Gateway failed requests before or after the integration"}; clients cannot connect or are dropped. Runbook: ${local.runbook}#api-errors"
  namespace           = "AWS/ApiGateway"
  metric_name         = each.key
  dimensions          = { ApiId = module.websocket_api.api_id, Stage = module.websocket_api.stage_name }
  statistic           = "Sum"
  period              = local.period
  evaluation_periods  = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = var.monitoring.api_errors
  # No traffic, no errors.
  treat_missing_data = "notBreaching"
  alarm_actions      = local.alarm_actions
  ok_actions         = local.alarm_actions
}

# ---------------------------------------------------------------------------
# Dashboard (one per environment)
# ---------------------------------------------------------------------------
locals {
  # Every function of the stack (module.function's and the fan-out worker), each with its
  # errors and throttles alarms and its lines in the dashboard's function graphs.
  function_names = merge(
    { for k, f in module.function : k => f.function_name },
    { fanout-worker = module.fanout_worker.function_name },
  )
  consumers = local.stream_enabled ? ["broadcaster", "notifier"] : []

  # Each entry: a title, the statistic and the metric lines; laid out three a row below the
  # alarm status. A line is [namespace, name, dimension, value, ...] as the dashboard body expects.
  # https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/CloudWatch-Dashboard-Body-Structure.html
  dashboard_graphs = [
    { title = "Stream lag: IteratorAge (ms, max)", stat = "Maximum", metrics = [for k in local.consumers : ["AWS/Lambda", "IteratorAge", "FunctionName", local.function_names[k]]] },
    { title = "Records failed (sum)", stat = "Sum", metrics = [for k in ["broadcaster", "notifier"] : [local.metrics_namespace, "RecordsFailed", "function", k, "environment", var.environment]] },
    { title = "Dead-letter messages visible (max)", stat = "Maximum", metrics = [for k in local.consumers : ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", local.dead_letter_queue_names[k]]] },
    { title = "Posts delivered / throttled / retried (sum)", stat = "Sum", metrics = [for m in ["PostsDelivered", "PostsThrottled", "PostsRetried"] : [local.metrics_namespace, m, "function", "broadcaster", "environment", var.environment]] },
    { title = "Connections gone / removed (sum)", stat = "Sum", metrics = [for m in ["ConnectionsGone", "ConnectionsRemoved"] : [local.metrics_namespace, m, "function", "broadcaster", "environment", var.environment]] },
    { title = "Fan-out duration (ms, max; alarm at ${local.fanout_duration_threshold_ms})", stat = "Maximum", metrics = [[local.metrics_namespace, "FanoutDuration", "function", "broadcaster", "environment", var.environment]] },
    { title = "Connections per batch (max)", stat = "Maximum", metrics = [[local.metrics_namespace, "ConnectionsPerBatch", "function", "broadcaster", "environment", var.environment]] },
    { title = "Alerts published / duplicates suppressed (sum)", stat = "Sum", metrics = [for m in ["AlertsPublished", "DuplicateAlertsSuppressed"] : [local.metrics_namespace, m, "function", "notifier", "environment", var.environment]] },
    { title = "Connections refused by reason (sum)", stat = "Sum", metrics = [for r in ["bad_request", "no_identity", "invalid_user_id", "no_role", "role_not_allowed"] : [local.metrics_namespace, "ConnectionsRefused", "function", "connect", "environment", var.environment, "reason", r]] },
    { title = "Function errors (sum)", stat = "Sum", metrics = [for k in keys(local.function_names) : ["AWS/Lambda", "Errors", "FunctionName", local.function_names[k]]] },
    { title = "Function throttles (sum)", stat = "Sum", metrics = [for k in keys(local.function_names) : ["AWS/Lambda", "Throttles", "FunctionName", local.function_names[k]]] },
    { title = "WebSocket API: connects and errors (sum)", stat = "Sum", metrics = [for m in ["ConnectCount", "IntegrationError", "ExecutionError"] : ["AWS/ApiGateway", m, "ApiId", module.websocket_api.api_id, "Stage", module.websocket_api.stage_name]] },
  ]

  # Without the stream, the stream's graphs have no lines and are left out.
  dashboard_widgets = [for g in local.dashboard_graphs : g if length(g.metrics) > 0]

  alarm_arns = concat(
    [for a in aws_cloudwatch_metric_alarm.iterator_age : a.arn],
    [for a in aws_cloudwatch_metric_alarm.dead_letter : a.arn],
    [for a in aws_cloudwatch_metric_alarm.records_failed : a.arn],
    aws_cloudwatch_metric_alarm.fanout_duration[*].arn,
    aws_cloudwatch_metric_alarm.duplicate_alerts[*].arn,
    aws_cloudwatch_metric_alarm.no_alerts[*].arn,
    [for a in aws_cloudwatch_metric_alarm.function_errors : a.arn],
    [for a in aws_cloudwatch_metric_alarm.function_throttles : a.arn],
    [for a in aws_cloudwatch_metric_alarm.api_errors : a.arn],
  )
}

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = "${local.name}-operations"
  dashboard_body = jsonencode({
    widgets = concat(
      [for arns in [local.alarm_arns] : {
        type       = "alarm"
        x          = 0
        y          = 0
        width      = 24
        height     = 4
        properties = { title = "Alarms (runbook: ${local.runbook})", alarms = arns }
      } if length(arns) > 0],
      [for i, g in local.dashboard_widgets : {
        type   = "metric"
        x      = (i % 3) * 8
        y      = 4 + floor(i / 3) * 6
        width  = 8
        height = 6
        properties = {
          title   = g.title
          region  = var.region
          view    = "timeSeries"
          stacked = false
          stat    = g.stat
          period  = local.period
          metrics = g.metrics
        }
      }],
    )
  })
}
