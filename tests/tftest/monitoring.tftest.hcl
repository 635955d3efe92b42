# Plan-mode wiring of monitoring.tf with a mocked AWS provider: which alarms
# exist with and without the Incidents stream, that each watches this stack's
# resources (dimensions) and notifies the operators' topic (never the alerts
# topic), thresholds from var.monitoring, the dashboard and the topic's key
# (var.monitoring's validations: root_validation.tftest.hcl).
# Run: make tftest (terraform test -test-directory=tests/tftest)

mock_provider "aws" {
  # Mocked computed values and per-resource overrides (tests/tftest/mocks) are
  # known at plan time, so policies and outputs built from ARNs can be
  # asserted in plan-mode runs.
  source          = "./tests/tftest/mocks"
  override_during = plan
}

run "without_stream" {
  command = plan

  assert {
    condition = toset(output.alarm_names) == toset([
      "realtime-test-connect-errors", "realtime-test-disconnect-errors", "realtime-test-broadcaster-errors", "realtime-test-notifier-errors", "realtime-test-fanout-worker-errors", "realtime-test-sync-errors", "realtime-test-subscribe-errors",
      "realtime-test-connect-throttles", "realtime-test-disconnect-throttles", "realtime-test-broadcaster-throttles", "realtime-test-notifier-throttles", "realtime-test-fanout-worker-throttles", "realtime-test-sync-throttles", "realtime-test-subscribe-throttles",
      "realtime-test-websocket-integration-errors", "realtime-test-websocket-execution-errors",
    ])
    error_message = "Without the stream: errors and throttles per function and the API's two error alarms, nothing that watches a stream or a queue."
  }
  assert {
    condition     = length(aws_cloudwatch_metric_alarm.no_alerts) == 0 && alltrue([for a in aws_cloudwatch_metric_alarm.this : contains(["AWS/Lambda", "AWS/ApiGateway"], a.namespace) && a.metric_name != "IteratorAge"])
    error_message = "Without the stream there is nothing to lag, park, fail or fan out."
  }
  assert {
    condition = alltrue([for k, name in output.function_names : alltrue([for kind, metric in { errors = "Errors", throttles = "Throttles" } :
      aws_cloudwatch_metric_alarm.this["${k}-${kind}"].namespace == "AWS/Lambda" && aws_cloudwatch_metric_alarm.this["${k}-${kind}"].metric_name == metric && aws_cloudwatch_metric_alarm.this["${k}-${kind}"].dimensions == tomap({ FunctionName = name })
    ])])
    error_message = "Every function of the stack (the fan-out worker included) has an errors and a throttles alarm watching exactly it."
  }
  assert {
    condition = alltrue([for k, metric in { websocket-integration-errors = "IntegrationError", websocket-execution-errors = "ExecutionError" } :
      aws_cloudwatch_metric_alarm.this[k].namespace == "AWS/ApiGateway" && aws_cloudwatch_metric_alarm.this[k].metric_name == metric && aws_cloudwatch_metric_alarm.this[k].dimensions == tomap({ ApiId = "abc123def4", Stage = "prod" })
    ])
    error_message = "The API alarms must watch IntegrationError and ExecutionError of this API's stage."
  }
  assert {
    condition = alltrue([for a in aws_cloudwatch_metric_alarm.this :
      a.alarm_actions == toset(["arn:aws:sns:us-east-1:123456789012:realtime-test-operators"]) && a.ok_actions == a.alarm_actions && a.treat_missing_data == "notBreaching" && a.period == 300 && a.evaluation_periods == 1
    ])
    error_message = "Every alarm notifies the operators' topic (alarm and OK), and no traffic is no alarm."
  }
  assert {
    condition     = output.operators_topic_arn != output.alerts_topic_arn && module.operators_topic.name == "realtime-test-operators"
    error_message = "Alarms go to a topic of their own, never the authorities' alerts topic."
  }
  assert {
    # No kms_key_arn: a key of our own whose policy lets CloudWatch alarms publish.
    condition     = length(aws_kms_key.operators) == 1 && aws_kms_key.operators[0].enable_key_rotation && module.operators_topic.kms_key_id == aws_kms_key.operators[0].arn
    error_message = "The operators' topic must be encrypted with a rotated customer managed key (CloudWatch cannot publish through alias/aws/sns)."
  }
  assert {
    condition = [for s in jsondecode(aws_kms_key.operators[0].policy).Statement : [s.Principal, s.Action, s.Condition] if s.Sid == "CloudWatchAlarmsPublish"] == [[
      { Service = "cloudwatch.amazonaws.com" }, ["kms:Decrypt", "kms:GenerateDataKey*"], { StringEquals = { "aws:SourceAccount" = "123456789012" } },
    ]]
    error_message = "The key policy must let cloudwatch.amazonaws.com Decrypt and GenerateDataKey*."
  }
  assert {
    condition     = output.metrics_namespace == "realtime-test" && module.function["notifier"].environment_variables.POWERTOOLS_METRICS_NAMESPACE == "realtime-test" && module.function["connect"].environment_variables.ENVIRONMENT == "test"
    error_message = "The namespace defaults to <project>-<environment> and every function is told it and its environment."
  }
  assert {
    condition = alltrue([for k, a in aws_cloudwatch_metric_alarm.this : endswith(a.alarm_description, " Runbook: docs/operations.md#${
      endswith(k, "-throttles") ? "function-throttles" : startswith(k, "websocket-") ? "api-errors" : "function-errors"
    }")])
    error_message = "Every alarm description links its runbook section."
  }
  assert {
    condition = (
      aws_cloudwatch_dashboard.this.dashboard_name == "realtime-test-operations"
      && !strcontains(aws_cloudwatch_dashboard.this.dashboard_body, "IteratorAge")
      && !strcontains(aws_cloudwatch_dashboard.this.dashboard_body, "AWS/SQS")
      && alltrue([for w in jsondecode(aws_cloudwatch_dashboard.this.dashboard_body).widgets : length(w.properties.metrics) > 0 if w.type == "metric"])
    )
    error_message = "Without the stream the dashboard leaves out the stream and queue graphs and has no empty graph."
  }
}

run "with_stream" {
  command = plan

  variables {
    incidents_stream_arn = "arn:aws:dynamodb:us-east-1:123456789012:table/Incidents/stream/2024-05-01T10:00:00.000"
    functions = {
      broadcaster = { timeout = 60 }
    }
  }

  assert {
    condition     = length(output.alarm_names) == 16 + 2 + 2 + 2 + 1 + 1
    error_message = "With the stream: iterator age, dead letter and records failed per consumer, fan-out duration and duplicate alerts; no-alerts stays off by default."
  }
  assert {
    condition = alltrue([for k in ["broadcaster", "notifier"] :
      aws_cloudwatch_metric_alarm.this["${k}-iterator-age"].dimensions == tomap({ FunctionName = "realtime-test-${k}" }) && aws_cloudwatch_metric_alarm.this["${k}-iterator-age"].statistic == "Maximum" && aws_cloudwatch_metric_alarm.this["${k}-iterator-age"].threshold == 300000
    ])
    error_message = "IteratorAge alarms must watch each consumer function's maximum against monitoring.iterator_age_ms."
  }
  assert {
    condition = (
      aws_cloudwatch_metric_alarm.this["broadcaster-dead-letter"].dimensions == tomap({ QueueName = "realtime-test-broadcaster-dlq" })
      && aws_cloudwatch_metric_alarm.this["notifier-dead-letter"].dimensions == tomap({ QueueName = "realtime-test-notifier-dlq" })
      && alltrue([for k in ["broadcaster", "notifier"] : aws_cloudwatch_metric_alarm.this["${k}-dead-letter"].metric_name == "ApproximateNumberOfMessagesVisible" && aws_cloudwatch_metric_alarm.this["${k}-dead-letter"].threshold == 1 && aws_cloudwatch_metric_alarm.this["${k}-dead-letter"].comparison_operator == "GreaterThanOrEqualToThreshold"])
    )
    error_message = "Any message visible in a consumer's own dead-letter queue must alarm."
  }
  assert {
    condition = alltrue([for k in ["broadcaster", "notifier"] :
      aws_cloudwatch_metric_alarm.this["${k}-records-failed"].namespace == "realtime-test" && aws_cloudwatch_metric_alarm.this["${k}-records-failed"].metric_name == "RecordsFailed" && aws_cloudwatch_metric_alarm.this["${k}-records-failed"].dimensions == tomap({ function = k, environment = "test" })
    ])
    error_message = "RecordsFailed alarms must read the custom metric with exactly the contract's dimensions (function, environment)."
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.this["broadcaster-fanout-duration"].threshold == 48000 && aws_cloudwatch_metric_alarm.this["broadcaster-fanout-duration"].metric_name == "FanoutDuration" && aws_cloudwatch_metric_alarm.this["broadcaster-fanout-duration"].dimensions == tomap({ function = "broadcaster", environment = "test" })
    error_message = "The fan-out duration alarm fires at 80% of the broadcaster's timeout (60 s -> 48000 ms)."
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.this["notifier-duplicate-alerts"].metric_name == "DuplicateAlertsSuppressed" && aws_cloudwatch_metric_alarm.this["notifier-duplicate-alerts"].threshold == 20 && aws_cloudwatch_metric_alarm.this["notifier-duplicate-alerts"].dimensions == tomap({ function = "notifier", environment = "test" })
    error_message = "The duplicate alerts alarm reads the notifier's DuplicateAlertsSuppressed."
  }
  assert {
    condition = alltrue([for a in aws_cloudwatch_metric_alarm.this :
      a.alarm_actions == toset(["arn:aws:sns:us-east-1:123456789012:realtime-test-operators"]) && a.treat_missing_data == "notBreaching"
    ])
    error_message = "Stream alarms notify the operators' topic, and a stream without traffic is not an outage."
  }
  assert {
    condition = alltrue([for k, section in {
      notifier-iterator-age       = "iterator-age", broadcaster-dead-letter = "dead-letter", notifier-records-failed = "records-failed",
      broadcaster-fanout-duration = "fan-out-duration", notifier-duplicate-alerts = "duplicate-alerts",
    } : endswith(aws_cloudwatch_metric_alarm.this[k].alarm_description, " Runbook: docs/operations.md#${section}")])
    error_message = "Stream alarm descriptions link their runbook sections."
  }
  assert {
    condition     = strcontains(aws_cloudwatch_dashboard.this.dashboard_body, "realtime-test-broadcaster-dlq") && strcontains(aws_cloudwatch_dashboard.this.dashboard_body, "IteratorAge")
    error_message = "With the stream the dashboard shows stream lag and the dead-letter queues."
  }
  # The dashboard and the outputs come from the same alarms, not from lists of their own.
  assert {
    condition     = length(one([for w in jsondecode(aws_cloudwatch_dashboard.this.dashboard_body).widgets : w.properties.alarms if w.type == "alarm"])) == length(output.alarm_names)
    error_message = "The dashboard's alarm widget must list every alarm of the stack, exactly as many as alarm_names."
  }
  assert {
    condition     = output.alarm_names == sort([for a in aws_cloudwatch_metric_alarm.this : a.alarm_name])
    error_message = "alarm_names must be the names of the alarms the map creates (no_alerts is off here)."
  }
  assert {
    condition = {
      for w in jsondecode(aws_cloudwatch_dashboard.this.dashboard_body).widgets : w.properties.title => length(w.properties.metrics)
      if w.type == "metric" && contains(["Function errors (sum)", "Function throttles (sum)", "Stream lag: IteratorAge (ms, max)", "Dead-letter messages visible (max)", "Records failed (sum)"], w.properties.title)
      } == {
      "Function errors (sum)"              = length(output.function_names)
      "Function throttles (sum)"           = length(output.function_names)
      "Stream lag: IteratorAge (ms, max)"  = 2
      "Dead-letter messages visible (max)" = 2
      "Records failed (sum)"               = 2
    }
    error_message = "Each alarmed metric must be drawn once in its graph: one line per function, per consumer."
  }
}

run "no_alerts_alarm_and_own_key" {
  command = plan

  variables {
    incidents_stream_arn = "arn:aws:dynamodb:us-east-1:123456789012:table/Incidents/stream/2024-05-01T10:00:00.000"
    kms_key_arn          = "arn:aws:kms:us-east-1:123456789012:key/99999999-8888-7777-6666-555555555555"
    operator_subscriptions = [
      { protocol = "email", endpoint = "oncall@example.org" },
    ]
    monitoring = {
      namespace       = "Realtime/Prod"
      no_alerts_hours = 6
      runbook_url     = "https://runbooks.example.org/realtime"
    }
  }

  assert {
    condition     = length(aws_cloudwatch_metric_alarm.no_alerts) == 1 && aws_cloudwatch_metric_alarm.no_alerts[0].evaluation_periods == 6 && aws_cloudwatch_metric_alarm.no_alerts[0].datapoints_to_alarm == 6
    error_message = "no_alerts_hours = 6 alarms after six hours in a row."
  }
  assert {
    condition = (
      [for q in aws_cloudwatch_metric_alarm.no_alerts[0].metric_query : [for m in q.metric : [m.namespace, m.metric_name, m.dimensions]] if q.id == "alerts"] == [[["Realtime/Prod", "AlertsPublished", tomap({ function = "notifier", environment = "test" })]]]
      && [for q in aws_cloudwatch_metric_alarm.no_alerts[0].metric_query : [for m in q.metric : [m.namespace, m.metric_name, m.dimensions]] if q.id == "invocations"] == [[["AWS/Lambda", "Invocations", tomap({ FunctionName = "realtime-test-notifier" })]]]
    )
    error_message = "The no-alerts alarm compares the notifier's AlertsPublished (in the configured namespace) with its invocations."
  }
  assert {
    condition     = length(aws_kms_key.operators) == 0 && module.operators_topic.kms_key_id == "arn:aws:kms:us-east-1:123456789012:key/99999999-8888-7777-6666-555555555555"
    error_message = "With kms_key_arn the operators' topic uses that key and no key of its own is created."
  }
  assert {
    condition     = keys(module.operators_topic.subscription_arns) == ["email:oncall@example.org"]
    error_message = "operator_subscriptions subscribe to the operators' topic."
  }
  assert {
    condition     = length(module.alerts_topic.subscription_arns) == 0
    error_message = "operator_subscriptions must never subscribe to the alerts topic."
  }
  assert {
    condition     = module.function["broadcaster"].environment_variables.POWERTOOLS_METRICS_NAMESPACE == "Realtime/Prod" && strcontains(aws_cloudwatch_metric_alarm.this["broadcaster-dead-letter"].alarm_description, "https://runbooks.example.org/realtime#dead-letter")
    error_message = "monitoring.namespace reaches the functions and runbook_url the descriptions."
  }
}

run "alarms_off" {
  command = plan

  variables {
    incidents_stream_arn = "arn:aws:dynamodb:us-east-1:123456789012:table/Incidents/stream/2024-05-01T10:00:00.000"
    monitoring           = { alarms = false }
  }

  assert {
    condition     = length(output.alarm_names) == 0 && length(module.operators_topic.arn) > 0
    error_message = "monitoring.alarms = false leaves every alarm out and keeps the operators' topic."
  }
  assert {
    condition     = alltrue([for w in jsondecode(aws_cloudwatch_dashboard.this.dashboard_body).widgets : w.type == "metric"]) && strcontains(aws_cloudwatch_dashboard.this.dashboard_body, "IteratorAge")
    error_message = "Without alarms the dashboard has no (empty) alarm widget but keeps its graphs."
  }
}
