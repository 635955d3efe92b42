output "websocket_wss_endpoint" {
  description = "URL clients connect to (wss://<api_id>.execute-api.<region>.amazonaws.com/<stage>)."
  value       = module.websocket_api.wss_endpoint
}

output "websocket_management_url" {
  description = "Management API endpoint the Broadcaster posts to (WS_CALLBACK_URL)."
  value       = local.management_url
}

output "api_id" {
  description = "ID of the WebSocket API."
  value       = module.websocket_api.api_id
}

output "stage_name" {
  description = "WebSocket stage name."
  value       = module.websocket_api.stage_name
}

output "connections_table_name" {
  description = "Name of the Connections table."
  value       = local.tables.connections.name
}

output "idempotency_table_name" {
  description = "Name of the Notifier's idempotency table."
  value       = local.tables.idempotency.name
}

output "state_table_name" {
  description = "Name of the state table (each incident's latest state; the Broadcaster writes it, make backfill fills it)."
  value       = local.tables.state.name
}

output "incident_state" {
  description = "The state table's settings (incident_state with its defaults), for make backfill."
  value = {
    retention_seconds = var.incident_state.retention_seconds
    closed_statuses   = var.incident_state.closed_statuses
  }
}

output "incidents_stream_arn" {
  description = "The Incidents stream the consumers are bound to; null without one. make backfill reads the Incidents table's name from it."
  value       = local.incidents_stream_arn
}

output "alerts_topic_arn" {
  description = "ARN of the SNS alerts topic."
  value       = module.alerts_topic.arn
}

output "function_names" {
  description = "Function names keyed by role: connect, disconnect, broadcaster, notifier, fanout-worker, sync and (when this stack builds it) authorizer."
  value       = { for k, f in module.function : k => f.function_name }
}

output "fanout_worker_function_name" {
  description = "Name of the fan-out worker function the Broadcaster invokes for large audiences (function_names[\"fanout-worker\"])."
  value       = module.function["fanout-worker"].function_name
}

output "dead_letter_queue_urls" {
  description = "On-failure queues of the stream mappings keyed by consumer (broadcaster, notifier); null without incidents_stream_arn."
  value       = local.stream_enabled ? { for k, c in module.stream_consumer : k => c.dead_letter_queue_url } : null
}

output "event_source_mapping_ids" {
  description = "Stream mapping UUIDs keyed by consumer (broadcaster, notifier); empty without incidents_stream_arn."
  # The conditional with {} types the output as a map (as it always was), so a
  # plan does not report it changed when the values are the same.
  value = local.stream_enabled ? { for k, c in module.stream_consumer : k => c.mapping_id } : {}
}

# ---------------------------------------------------------------------------
# Monitoring (monitoring.tf)
# ---------------------------------------------------------------------------
output "metrics_namespace" {
  description = "CloudWatch namespace of the functions' custom metrics (POWERTOOLS_METRICS_NAMESPACE)."
  value       = local.metrics_namespace
}

output "operators_topic_arn" {
  description = "ARN of the operators' SNS topic every alarm notifies (not the alerts topic)."
  value       = module.operators_topic.arn
}

output "alarm_names" {
  description = "Names of every alarm of this stack, sorted."
  value       = sort(local.alarm_resources[*].alarm_name)
}

output "dashboard_name" {
  description = "Name of the CloudWatch dashboard of this environment."
  value       = aws_cloudwatch_dashboard.this.dashboard_name
}

# ---------------------------------------------------------------------------
# Identity (authorizer.tf)
# ---------------------------------------------------------------------------
output "connect_authorizer_function_name" {
  description = "Name of the $connect authorizer function this stack built; null when connect_authorizer brings another or the authorizer is off."
  value       = local.authorizer_built ? module.function["authorizer"].function_name : null
}
