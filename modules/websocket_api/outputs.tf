output "api_id" {
  description = "ID of the WebSocket API."
  value       = aws_apigatewayv2_api.this.id
}

output "stage_name" {
  description = "Name of the stage."
  value       = aws_apigatewayv2_stage.this.name
}

output "wss_endpoint" {
  description = "URL clients connect to: wss://<api_id>.execute-api.<region>.amazonaws.com/<stage> on AWS."
  value       = "${aws_apigatewayv2_api.this.api_endpoint}/${aws_apigatewayv2_stage.this.name}"
}

output "management_endpoint" {
  description = "Management (@connections) API endpoint: https://<api_id>.execute-api.<region>.<dns suffix>/<stage>."
  value       = local.management_endpoint
}

output "stage_execution_arn" {
  description = "execute-api ARN of the stage, <execution_arn>/<stage>: append /<route key> for a route's ARN (e.g. /$connect, what an authorizer's policy allows)."
  value       = local.stage_execution_arn
}

output "manage_connections_arn" {
  description = "IAM resource for execute-api:ManageConnections on this stage: <execution_arn>/<stage>/POST/@connections/*."
  value       = local.manage_connections_arn
}

output "deployment_triggers" {
  description = "Triggers of the deployment (a hash of deployment_fields)."
  value       = aws_apigatewayv2_deployment.this.triggers
}

output "deployment_fields" {
  description = "What the deployment trigger hashes: every field that changes what the stage serves (route selection; routes; integrations with their MOCK templates and template selection; integration and route responses; the authorizer)."
  value       = local.deployment_fields
}

output "integrations" {
  description = "Per route key: the integration type, the URI a Lambda route invokes, and the reply a MOCK route sends."
  value = merge(
    { for k, i in aws_apigatewayv2_integration.lambda : k => {
      type  = i.integration_type
      uri   = i.integration_uri
      reply = null
    } },
    { for k, i in aws_apigatewayv2_integration.mock : k => {
      type  = i.integration_type
      uri   = null
      reply = aws_apigatewayv2_integration_response.mock[k].response_templates["$default"]
    } },
  )
}

output "account_cloudwatch_role_arn" {
  description = "ARN of the account-level API Gateway CloudWatch Logs role this module created (null unless manage_account_cloudwatch_role)."
  value       = one(aws_iam_role.cloudwatch[*].arn)
}

output "access_log_settings" {
  description = "The stage's access log destination ARN and JSON format, or null when access logs are off."
  value       = one(aws_apigatewayv2_stage.this.access_log_settings)
}

output "names" {
  description = "The names this module gives, by kind, known from the inputs alone (null for what it does not create): api, account_role (manage_account_cloudwatch_role) and access_log_group (access_logs_enabled). The root checks them against their services' limits at plan."
  value = {
    api              = var.name
    account_role     = var.manage_account_cloudwatch_role ? local.account_role_name : null
    access_log_group = var.access_logs_enabled ? local.access_log_group_name : null
  }
}

output "route_throttling" {
  description = "Per route key with a throttle of its own: burst_limit and rate_limit, as the stage has them."
  value = { for r in aws_apigatewayv2_stage.this.route_settings : r.route_key => {
    burst_limit = r.throttling_burst_limit
    rate_limit  = r.throttling_rate_limit
  } }
}
