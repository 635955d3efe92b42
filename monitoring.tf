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

  # Every function of the stack, each with its errors and throttles alarms; the stream
  # consumers, each with its lag, dead-letter and records-failed alarms.
  function_names = { for k, f in module.function : k => f.function_name }
  consumers      = local.stream_enabled ? ["broadcaster", "notifier"] : []
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
# Alarms: one map of definitions, one resource
# ---------------------------------------------------------------------------
locals {
  # The alarms every function has, by kind (the key: its runbook section and dashboard graph are
  # function-<kind>). In the description, %[1]s is the function, %[2]v the threshold and %[3]v
  # the period.
  function_alarms = {
    errors = {
      metric_name = "Errors"
      threshold   = var.monitoring.errors
      description = "The %[1]s function failed %[2]v or more invocations in %[3]v s (it raised, timed out or ran out of memory)."
    }
    throttles = {
      metric_name = "Throttles"
      threshold   = var.monitoring.throttles
      description = "Lambda refused %[2]v or more %[1]s invocations in %[3]v s for lack of concurrency (reserved concurrency or the account limit)."
    }
  }

  # Every threshold alarm of the stack, keyed by its name without "<name>-": a new alarm (a new
  # function's, a new consumer's) is one entry here, and the alarm resource, the outputs and the
  # dashboard (its alarm widget and the graph the entry names) follow. Each entry: what the
  # alarm means (description) and its runbook section, the metric (namespace, metric_name,
  # dimensions, statistic), how it compares (comparison_operator, threshold) and the dashboard
  # graph that draws it (graph: the alarms key of a listed graph, or a new key for a graph of
  # its own).
  alarm_definitions = merge(
    # Stream consumers (only with the stream mappings).
    { for k in local.consumers : "${k}-iterator-age" => {
      description         = "The ${k} reads the Incidents stream more than ${var.monitoring.iterator_age_ms / 1000} s behind: ${k == "broadcaster" ? "clients see updates late" : "alerts go out late"}, and records older than the stream's 24 h retention are lost."
      runbook             = "iterator-age"
      namespace           = "AWS/Lambda"
      metric_name         = "IteratorAge"
      dimensions          = tomap({ FunctionName = local.function_names[k] })
      statistic           = "Maximum"
      comparison_operator = "GreaterThanThreshold"
      threshold           = var.monitoring.iterator_age_ms
      graph               = "stream-lag"
    } },
    { for k in local.consumers : "${k}-dead-letter" => {
      description         = "A batch of Incidents stream records the ${k} could not process was parked in ${local.dead_letter_queue_names[k]}. Its records are lost once the stream's 24 h retention ends unless they are redriven."
      runbook             = "dead-letter"
      namespace           = "AWS/SQS"
      metric_name         = "ApproximateNumberOfMessagesVisible"
      dimensions          = tomap({ QueueName = local.dead_letter_queue_names[k] })
      statistic           = "Maximum"
      comparison_operator = "GreaterThanOrEqualToThreshold"
      threshold           = 1
      graph               = "dead-letter"
    } },
    { for k in local.consumers : "${k}-records-failed" => {
      description         = "The ${k} reported ${var.monitoring.records_failed} or more stream records failed in ${local.period} s; Lambda retries them and parks them in the dead-letter queue when retries run out."
      runbook             = "records-failed"
      namespace           = local.metrics_namespace
      metric_name         = "RecordsFailed"
      dimensions          = tomap(local.metric_dimensions[k])
      statistic           = "Sum"
      comparison_operator = "GreaterThanOrEqualToThreshold"
      threshold           = var.monitoring.records_failed
      graph               = "records-failed"
    } },
    local.stream_enabled ? {
      broadcaster-fanout-duration = {
        description         = "A broadcaster fan-out took more than ${local.fanout_duration_threshold_ms} ms, ${var.monitoring.fanout_duration_fraction * 100}% of the function's ${var.functions.broadcaster.timeout} s timeout: a few more connections and batches will time out and be retried."
        runbook             = "fan-out-duration"
        namespace           = local.metrics_namespace
        metric_name         = "FanoutDuration"
        dimensions          = tomap(local.metric_dimensions.broadcaster)
        statistic           = "Maximum"
        comparison_operator = "GreaterThanThreshold"
        threshold           = local.fanout_duration_threshold_ms
        graph               = "fanout-duration"
      }
      notifier-duplicate-alerts = {
        description         = "The notifier suppressed ${var.monitoring.duplicate_alerts} or more alerts as already published in ${local.period} s: the same records are being delivered again and again (a failing batch retried, or a redrive run twice)."
        runbook             = "duplicate-alerts"
        namespace           = local.metrics_namespace
        metric_name         = "DuplicateAlertsSuppressed"
        dimensions          = tomap(local.metric_dimensions.notifier)
        statistic           = "Sum"
        comparison_operator = "GreaterThanOrEqualToThreshold"
        threshold           = var.monitoring.duplicate_alerts
        graph               = "alerts"
      }
    } : {},
    # Every function of the stack (function_alarms) and the WebSocket API (always).
    merge([for kind, a in local.function_alarms : { for k, name in local.function_names : "${k}-${kind}" => {
      description         = format(a.description, k, a.threshold, local.period)
      runbook             = "function-${kind}"
      namespace           = "AWS/Lambda"
      metric_name         = a.metric_name
      dimensions          = tomap({ FunctionName = name })
      statistic           = "Sum"
      comparison_operator = "GreaterThanOrEqualToThreshold"
      threshold           = a.threshold
      graph               = "function-${kind}"
    } }]...),
    { for m in ["IntegrationError", "ExecutionError"] : "websocket-${lower(replace(m, "Error", ""))}-errors" => {
      description         = "The WebSocket API counted ${var.monitoring.api_errors} or more ${m}s in ${local.period} s: ${m == "IntegrationError" ? "$connect or $disconnect answered with an error, or their function failed" : "API Gateway failed requests before or after the integration"}; clients cannot connect or are dropped."
      runbook             = "api-errors"
      namespace           = "AWS/ApiGateway"
      metric_name         = m
      dimensions          = tomap({ ApiId = module.websocket_api.api_id, Stage = module.websocket_api.stage_name })
      statistic           = "Sum"
      comparison_operator = "GreaterThanOrEqualToThreshold"
      threshold           = var.monitoring.api_errors
      graph               = "api"
    } },
  )
}

resource "aws_cloudwatch_metric_alarm" "this" {
  for_each = local.alarms ? local.alarm_definitions : {}

  alarm_name          = "${local.name}-${each.key}"
  alarm_description   = "${each.value.description} Runbook: ${local.runbook}#${each.value.runbook}"
  namespace           = each.value.namespace
  metric_name         = each.value.metric_name
  dimensions          = each.value.dimensions
  statistic           = each.value.statistic
  period              = local.period
  evaluation_periods  = 1
  comparison_operator = each.value.comparison_operator
  threshold           = each.value.threshold
  # Every metric here is reported only when there is traffic (or, for the custom ones, when
  # something happened): no invocations, no stream records, an idle queue or a quiet API are
  # not an outage.
  treat_missing_data = "notBreaching"
  alarm_actions      = local.alarm_actions
  ok_actions         = local.alarm_actions
}

# Each alarm had a resource of its own per kind before they came from one map: move them
# rather than replace them (an alarm replaced loses its state and history).
moved {
  from = aws_cloudwatch_metric_alarm.iterator_age["broadcaster"]
  to   = aws_cloudwatch_metric_alarm.this["broadcaster-iterator-age"]
}

moved {
  from = aws_cloudwatch_metric_alarm.iterator_age["notifier"]
  to   = aws_cloudwatch_metric_alarm.this["notifier-iterator-age"]
}

moved {
  from = aws_cloudwatch_metric_alarm.dead_letter["broadcaster"]
  to   = aws_cloudwatch_metric_alarm.this["broadcaster-dead-letter"]
}

moved {
  from = aws_cloudwatch_metric_alarm.dead_letter["notifier"]
  to   = aws_cloudwatch_metric_alarm.this["notifier-dead-letter"]
}

moved {
  from = aws_cloudwatch_metric_alarm.records_failed["broadcaster"]
  to   = aws_cloudwatch_metric_alarm.this["broadcaster-records-failed"]
}

moved {
  from = aws_cloudwatch_metric_alarm.records_failed["notifier"]
  to   = aws_cloudwatch_metric_alarm.this["notifier-records-failed"]
}

moved {
  from = aws_cloudwatch_metric_alarm.fanout_duration[0]
  to   = aws_cloudwatch_metric_alarm.this["broadcaster-fanout-duration"]
}

moved {
  from = aws_cloudwatch_metric_alarm.duplicate_alerts[0]
  to   = aws_cloudwatch_metric_alarm.this["notifier-duplicate-alerts"]
}

moved {
  from = aws_cloudwatch_metric_alarm.function_errors["authorizer"]
  to   = aws_cloudwatch_metric_alarm.this["authorizer-errors"]
}

moved {
  from = aws_cloudwatch_metric_alarm.function_errors["connect"]
  to   = aws_cloudwatch_metric_alarm.this["connect-errors"]
}

moved {
  from = aws_cloudwatch_metric_alarm.function_errors["disconnect"]
  to   = aws_cloudwatch_metric_alarm.this["disconnect-errors"]
}

moved {
  from = aws_cloudwatch_metric_alarm.function_errors["broadcaster"]
  to   = aws_cloudwatch_metric_alarm.this["broadcaster-errors"]
}

moved {
  from = aws_cloudwatch_metric_alarm.function_errors["notifier"]
  to   = aws_cloudwatch_metric_alarm.this["notifier-errors"]
}

moved {
  from = aws_cloudwatch_metric_alarm.function_errors["fanout-worker"]
  to   = aws_cloudwatch_metric_alarm.this["fanout-worker-errors"]
}

moved {
  from = aws_cloudwatch_metric_alarm.function_throttles["authorizer"]
  to   = aws_cloudwatch_metric_alarm.this["authorizer-throttles"]
}

moved {
  from = aws_cloudwatch_metric_alarm.function_throttles["connect"]
  to   = aws_cloudwatch_metric_alarm.this["connect-throttles"]
}

moved {
  from = aws_cloudwatch_metric_alarm.function_throttles["disconnect"]
  to   = aws_cloudwatch_metric_alarm.this["disconnect-throttles"]
}

moved {
  from = aws_cloudwatch_metric_alarm.function_throttles["broadcaster"]
  to   = aws_cloudwatch_metric_alarm.this["broadcaster-throttles"]
}

moved {
  from = aws_cloudwatch_metric_alarm.function_throttles["notifier"]
  to   = aws_cloudwatch_metric_alarm.this["notifier-throttles"]
}

moved {
  from = aws_cloudwatch_metric_alarm.function_throttles["fanout-worker"]
  to   = aws_cloudwatch_metric_alarm.this["fanout-worker-throttles"]
}

moved {
  from = aws_cloudwatch_metric_alarm.api_errors["IntegrationError"]
  to   = aws_cloudwatch_metric_alarm.this["websocket-integration-errors"]
}

moved {
  from = aws_cloudwatch_metric_alarm.api_errors["ExecutionError"]
  to   = aws_cloudwatch_metric_alarm.this["websocket-execution-errors"]
}

# The metric-math alarm stays apart: its metric is an expression over two metrics.
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
# Dashboard (one per environment)
# ---------------------------------------------------------------------------
locals {
  # The alarmed metrics' lines, by the graph each alarm definition names: a new alarm is drawn
  # beside the others of its kind. A line is [namespace, name, dimension, value, ...] as the
  # dashboard body expects.
  # https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/CloudWatch-Dashboard-Body-Structure.html
  alarm_graph_lines = {
    for graph in distinct([for a in values(local.alarm_definitions) : a.graph]) : graph => [
      for k, a in local.alarm_definitions : concat([a.namespace, a.metric_name], flatten([for d, v in a.dimensions : [d, v]])) if a.graph == graph
    ]
  }

  # Each entry: a title, the statistic, its own metric lines and the key of the alarm graph whose
  # lines it adds (alarm_graph_lines; "" for none); laid out three a row below the alarm status.
  listed_graphs = [
    { title = "Stream lag: IteratorAge (ms, max)", stat = "Maximum", alarms = "stream-lag", metrics = [] },
    { title = "Records failed (sum)", stat = "Sum", alarms = "records-failed", metrics = [] },
    { title = "Dead-letter messages visible (max)", stat = "Maximum", alarms = "dead-letter", metrics = [] },
    { title = "Posts delivered / throttled / retried (sum)", stat = "Sum", alarms = "", metrics = [for m in ["PostsDelivered", "PostsThrottled", "PostsRetried"] : [local.metrics_namespace, m, "function", "broadcaster", "environment", var.environment]] },
    { title = "Connections gone / removed (sum)", stat = "Sum", alarms = "", metrics = [for m in ["ConnectionsGone", "ConnectionsRemoved"] : [local.metrics_namespace, m, "function", "broadcaster", "environment", var.environment]] },
    { title = "Fan-out duration (ms, max; alarm at ${local.fanout_duration_threshold_ms})", stat = "Maximum", alarms = "fanout-duration", metrics = [] },
    { title = "Connections per batch (max)", stat = "Maximum", alarms = "", metrics = [[local.metrics_namespace, "ConnectionsPerBatch", "function", "broadcaster", "environment", var.environment]] },
    { title = "Alerts published / duplicates suppressed (sum)", stat = "Sum", alarms = "alerts", metrics = [[local.metrics_namespace, "AlertsPublished", "function", "notifier", "environment", var.environment]] },
    { title = "Connections refused by reason (sum)", stat = "Sum", alarms = "", metrics = [for r in ["bad_request", "no_identity", "invalid_user_id", "no_role", "role_not_allowed"] : [local.metrics_namespace, "ConnectionsRefused", "function", "connect", "environment", var.environment, "reason", r]] },
    { title = "Function errors (sum)", stat = "Sum", alarms = "function-errors", metrics = [] },
    { title = "Function throttles (sum)", stat = "Sum", alarms = "function-throttles", metrics = [] },
    { title = "WebSocket API: connects and errors (sum)", stat = "Sum", alarms = "api", metrics = [["AWS/ApiGateway", "ConnectCount", "ApiId", module.websocket_api.api_id, "Stage", module.websocket_api.stage_name]] },
  ]

  # The listed graphs with their alarms' lines, then one graph (titled by its key) for each alarm
  # graph no listed graph names, so a new kind of alarm is drawn too.
  dashboard_graphs = concat(
    [for g in local.listed_graphs : { title = g.title, stat = g.stat, metrics = concat(g.metrics, lookup(local.alarm_graph_lines, g.alarms, [])) }],
    [for key, lines in local.alarm_graph_lines : {
      title   = key
      stat    = [for a in values(local.alarm_definitions) : a.statistic if a.graph == key][0]
      metrics = lines
    } if !contains(local.listed_graphs[*].alarms, key)],
  )

  # Without the stream, the stream's graphs have no lines and are left out.
  dashboard_widgets = [for g in local.dashboard_graphs : g if length(g.metrics) > 0]

  # Every alarm of the stack: the map's and the metric-math one.
  alarm_resources = concat(values(aws_cloudwatch_metric_alarm.this), aws_cloudwatch_metric_alarm.no_alerts)
}

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = "${local.name}-operations"
  dashboard_body = jsonencode({
    widgets = concat(
      [for arns in [local.alarm_resources[*].arn] : {
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
