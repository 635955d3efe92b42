output "api_id" {
  description = "ID of the WebSocket API."
  value       = aws_apigatewayv2_api.this.id
}

output "api_endpoint" {
  description = "Endpoint of the API without the stage (wss://<api_id>.execute-api.<region>.amazonaws.com on AWS)."
  value       = aws_apigatewayv2_api.this.api_endpoint
}

output "execution_arn" {
  description = "Execution ARN prefix of the API (arn:aws:execute-api:<region>:<account>:<api_id>)."
  value       = aws_apigatewayv2_api.this.execution_arn
}

output "stage_name" {
  description = "Name of the stage."
  value       = aws_apigatewayv2_stage.this.name
}

output "wss_endpoint" {
  description = "URL clients connect to: <api_endpoint>/<stage>."
  value       = "${aws_apigatewayv2_api.this.api_endpoint}/${aws_apigatewayv2_stage.this.name}"
}

output "management_endpoint" {
  description = "Management (@connections) API endpoint: https://<api_id>.execute-api.<region>.<dns suffix>/<stage>."
  value       = local.management_endpoint
}

output "manage_connections_arn" {
  description = "IAM resource for execute-api:ManageConnections on this stage: <execution_arn>/<stage>/POST/@connections/*."
  value       = local.manage_connections_arn
}

output "deployment_id" {
  description = "ID of the deployment the stage serves."
  value       = aws_apigatewayv2_deployment.this.id
}

output "deployment_triggers" {
  description = "Triggers of the deployment (a hash of route targets, integration URIs and authorizer settings)."
  value       = aws_apigatewayv2_deployment.this.triggers
}

output "route_ids" {
  description = "Route IDs keyed by route key, $default included."
  value       = merge({ for k, r in aws_apigatewayv2_route.lambda : k => r.id }, { (local.default_route_key) = aws_apigatewayv2_route.default.id })
}

output "authorizer_id" {
  description = "ID of the $connect authorizer, or null."
  value       = one(aws_apigatewayv2_authorizer.this[*].id)
}

output "integrations" {
  description = "Per route key: the integration type and URI the route targets ($default is the MOCK integration, without URI)."
  value = merge(
    { for k, i in aws_apigatewayv2_integration.lambda : k => {
      id   = i.id
      type = i.integration_type
      uri  = i.integration_uri
    } },
    { (local.default_route_key) = {
      id   = aws_apigatewayv2_integration.default.id
      type = aws_apigatewayv2_integration.default.integration_type
      uri  = null
    } },
  )
}
