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
  value       = module.connections_table.name
}

output "idempotency_table_name" {
  description = "Name of the Notifier's idempotency table."
  value       = module.idempotency_table.name
}

output "alerts_topic_arn" {
  description = "ARN of the SNS alerts topic."
  value       = module.alerts_topic.arn
}

output "function_names" {
  description = "Function names keyed by role: connect, disconnect, broadcaster, notifier."
  value       = { for k, f in module.function : k => f.function_name }
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
  value       = sort(local.alarm_names)
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
