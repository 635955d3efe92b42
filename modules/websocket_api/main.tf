# API Gateway v2 WebSocket API: Lambda proxy routes, MOCK routes that API
# Gateway answers itself with a fixed reply ($default for unknown actions,
# ping for keep-alive), an optional REQUEST authorizer on $connect, an
# explicit deployment and one stage.

data "aws_partition" "current" {}

data "aws_region" "current" {}

locals {
  # A message for an action nobody handles still reaches $default; without
  # that route API Gateway answers with a bare "Forbidden" error frame.
  # https://docs.aws.amazon.com/apigateway/latest/developerguide/websocket-api-develop-routes.html
  default_route_key = "$default"

  # "\$default" escapes the reserved key in selection expressions.
  # https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-websocket-api-selection-expressions.html
  escaped_default = "\\$default"

  # Authorizers are only allowed on $connect for WebSocket APIs.
  # https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-websocket-api-lambda-auth.html
  authorized_route = "$connect"

  # The management endpoint and this ARN name the stage by its input, not by
  # aws_apigatewayv2_stage.this: the stage comes after the routes, so a
  # caller whose route targets and poster are instances of one for_each
  # module (the root's module.function) would otherwise form a cycle.
  # arn:aws:execute-api:{region}:{account}:{api_id}/{stage}: a route's ARN
  # appends /{route key}, ManageConnections' /POST/@connections/*.
  # https://docs.aws.amazon.com/apigateway/latest/developerguide/arn-format-reference.html
  stage_execution_arn    = "${aws_apigatewayv2_api.this.execution_arn}/${var.stage_name}"
  manage_connections_arn = "${local.stage_execution_arn}/POST/@connections/*"
  management_endpoint    = "https://${aws_apigatewayv2_api.this.id}.execute-api.${data.aws_region.current.name}.${data.aws_partition.current.dns_suffix}/${var.stage_name}"

  # Names this module gives besides var.name itself (outputs.names).
  account_role_name     = "${var.name}-apigateway-cloudwatch"
  access_log_group_name = "/aws/apigateway/${var.name}/${var.stage_name}/access"
}

# ---------------------------------------------------------------------------
# API
# ---------------------------------------------------------------------------
resource "aws_apigatewayv2_api" "this" {
  name                       = var.name
  description                = var.description
  protocol_type              = "WEBSOCKET"
  route_selection_expression = "$request.body.action"
  tags                       = var.tags
}

# ---------------------------------------------------------------------------
# Lambda proxy routes ($connect, $disconnect, ...)
# ---------------------------------------------------------------------------
resource "aws_apigatewayv2_integration" "lambda" {
  for_each = var.lambda_routes

  api_id             = aws_apigatewayv2_api.this.id
  description        = "${each.key} -> ${each.value.function_name}"
  integration_type   = "AWS_PROXY"
  integration_method = "POST"
  integration_uri    = each.value.invoke_arn
}

resource "aws_apigatewayv2_route" "lambda" {
  #checkov:skip=CKV_AWS_309:Only $connect can carry an authorizer on a WebSocket API ($disconnect and custom routes cannot); $connect uses the REQUEST authorizer when var.authorizer is set, and the handler refuses connections without an identity otherwise.
  for_each = var.lambda_routes

  api_id             = aws_apigatewayv2_api.this.id
  route_key          = each.key
  target             = "integrations/${aws_apigatewayv2_integration.lambda[each.key].id}"
  authorization_type = each.key == local.authorized_route && var.authorizer != null ? "CUSTOM" : "NONE"
  authorizer_id      = each.key == local.authorized_route && var.authorizer != null ? aws_apigatewayv2_authorizer.this[0].id : null
}

# API Gateway needs a resource-based permission to invoke each function; the
# source ARN limits it to this API, this stage and this route.
# https://docs.aws.amazon.com/apigateway/latest/developerguide/arn-format-reference.html
resource "aws_lambda_permission" "route" {
  for_each = var.lambda_routes

  statement_id  = "AllowInvokeFromWebSocketRoute-${trimprefix(each.key, "$")}"
  action        = "lambda:InvokeFunction"
  function_name = each.value.function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${local.stage_execution_arn}/${each.key}"
}

# ---------------------------------------------------------------------------
# Routes API Gateway answers itself ($default, ping): MOCK integrations
# ---------------------------------------------------------------------------
# WebSocket APIs support MOCK integrations; a route response on the route and
# an integration response with a template send the fixed reply back to the
# caller, with no Lambda invoked.
# https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-websocket-api-integration-responses.html
# https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-websocket-api-route-response.html
resource "aws_apigatewayv2_integration" "mock" {
  for_each = var.mock_routes

  api_id                        = aws_apigatewayv2_api.this.id
  description                   = each.key == local.default_route_key ? "Answers messages whose action no route handles" : "Answers ${each.key} with a fixed reply"
  integration_type              = "MOCK"
  template_selection_expression = local.escaped_default
  request_templates = {
    (local.default_route_key) = jsonencode({ statusCode = 200 })
  }

  lifecycle {
    # integration_method means nothing to a MOCK integration (it is never
    # sent); the local emulator reads it back as "POST". The local emulator
    # also drops template_selection_expression (ministack 1.5.33 neither
    # stores nor returns it), which would make every plan there want to
    # update it: it stays ignored for that reason only. It is a constant of
    # this module (local.escaped_default), and the deployment trigger hashes
    # the configured value, so changing it here still redeploys the stage.
    ignore_changes = [integration_method, template_selection_expression]
  }
}

# "$default" as a response, template or selection key (not a route key)
# selects the one response and template these integrations have.
resource "aws_apigatewayv2_integration_response" "mock" {
  for_each = var.mock_routes

  api_id                        = aws_apigatewayv2_api.this.id
  integration_id                = aws_apigatewayv2_integration.mock[each.key].id
  integration_response_key      = local.default_route_key
  template_selection_expression = local.escaped_default
  response_templates = {
    (local.default_route_key) = each.value
  }
}

resource "aws_apigatewayv2_route" "mock" {
  #checkov:skip=CKV_AWS_309:These routes run after $connect authorised the connection; WebSocket APIs accept authorizers on $connect only.
  for_each = var.mock_routes

  api_id                              = aws_apigatewayv2_api.this.id
  route_key                           = each.key
  target                              = "integrations/${aws_apigatewayv2_integration.mock[each.key].id}"
  route_response_selection_expression = local.default_route_key
}

resource "aws_apigatewayv2_route_response" "mock" {
  for_each = var.mock_routes

  api_id             = aws_apigatewayv2_api.this.id
  route_id           = aws_apigatewayv2_route.mock[each.key].id
  route_response_key = local.default_route_key
}

# The $default route had resources of its own before other MOCK routes
# existed: move them rather than replace them.
moved {
  from = aws_apigatewayv2_integration.default
  to   = aws_apigatewayv2_integration.mock["$default"]
}

moved {
  from = aws_apigatewayv2_integration_response.default
  to   = aws_apigatewayv2_integration_response.mock["$default"]
}

moved {
  from = aws_apigatewayv2_route.default
  to   = aws_apigatewayv2_route.mock["$default"]
}

moved {
  from = aws_apigatewayv2_route_response.default
  to   = aws_apigatewayv2_route_response.mock["$default"]
}

# ---------------------------------------------------------------------------
# Optional REQUEST authorizer on $connect
# ---------------------------------------------------------------------------
resource "aws_apigatewayv2_authorizer" "this" {
  count = var.authorizer == null ? 0 : 1

  api_id           = aws_apigatewayv2_api.this.id
  name             = "${var.name}-connect"
  authorizer_type  = "REQUEST"
  authorizer_uri   = "arn:${data.aws_partition.current.partition}:apigateway:${data.aws_region.current.name}:lambda:path/2015-03-31/functions/${var.authorizer.function_arn}/invocations"
  identity_sources = var.authorizer.identity_sources

  lifecycle {
    # HTTP API settings that a WebSocket authorizer does not have. An API that reports defaults
    # for them (the local emulator answers "2.0" and an empty JWT block) would otherwise show a
    # change on every plan after the first apply.
    ignore_changes = [authorizer_payload_format_version, jwt_configuration]
  }
}

resource "aws_lambda_permission" "authorizer" {
  count = var.authorizer == null ? 0 : 1

  statement_id  = "AllowInvokeAsWebSocketAuthorizer-${var.name}"
  action        = "lambda:InvokeFunction"
  function_name = var.authorizer.function_arn
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.this.execution_arn}/authorizers/${aws_apigatewayv2_authorizer.this[0].id}"
}

# ---------------------------------------------------------------------------
# Deployment and stage
# ---------------------------------------------------------------------------
# A WebSocket stage serves the deployment it points at: a change to a route,
# an integration or the authorizer reaches clients only through a new
# deployment. The trigger hashes those specific fields (not whole resources,
# so tags or descriptions do not redeploy).
resource "aws_apigatewayv2_deployment" "this" {
  api_id      = aws_apigatewayv2_api.this.id
  description = "Routes, integrations and authorizer as of this deployment"

  triggers = {
    redeployment = sha1(jsonencode(local.deployment_fields))
  }

  lifecycle {
    create_before_destroy = true
  }

  # CreateDeployment fails on an API without routes, and a deployment made
  # before the MOCK responses exist would not include them.
  depends_on = [
    aws_apigatewayv2_route.lambda,
    aws_apigatewayv2_route.mock,
    aws_apigatewayv2_route_response.mock,
    aws_apigatewayv2_integration_response.mock,
  ]
}

locals {
  # Every field that changes what the stage serves, and nothing else: the
  # route selection, each route's key, target, authorization and response
  # selection, each integration's type, method and URI or (MOCK) templates
  # and their selection, each integration and route response, and the
  # authorizer. A field missing here changes the API but never reaches
  # clients until something else redeploys.
  # https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-set-up-websocket-deployment.html
  deployment_fields = {
    route_selection_expression = aws_apigatewayv2_api.this.route_selection_expression
    routes = merge(
      { for k, r in aws_apigatewayv2_route.lambda : k => {
        route_key          = r.route_key
        target             = r.target
        authorization_type = r.authorization_type
        authorizer_id      = r.authorizer_id
      } },
      { for k, r in aws_apigatewayv2_route.mock : k => {
        route_key                           = r.route_key
        target                              = r.target
        route_response_selection_expression = r.route_response_selection_expression
      } },
    )
    integrations = merge(
      { for k, i in aws_apigatewayv2_integration.lambda : k => {
        integration_type   = i.integration_type
        integration_method = i.integration_method
        integration_uri    = i.integration_uri
      } },
      { for k, i in aws_apigatewayv2_integration.mock : k => {
        integration_type  = i.integration_type
        request_templates = i.request_templates
        # The configured value (the attribute is under ignore_changes, above).
        template_selection_expression = local.escaped_default
      } },
    )
    # MOCK responses as configured (the local emulator reads some of them
    # back differently, which would redeploy on every plan there).
    integration_responses = { for k, reply in var.mock_routes : k => {
      integration_response_key      = local.default_route_key
      response_templates            = { (local.default_route_key) = reply }
      template_selection_expression = local.escaped_default
    } }
    route_responses = { for k in keys(var.mock_routes) : k => {
      route_response_key = local.default_route_key
    } }
    authorizer = var.authorizer == null ? null : {
      id               = aws_apigatewayv2_authorizer.this[0].id
      authorizer_type  = aws_apigatewayv2_authorizer.this[0].authorizer_type
      authorizer_uri   = aws_apigatewayv2_authorizer.this[0].authorizer_uri
      identity_sources = sort(tolist(aws_apigatewayv2_authorizer.this[0].identity_sources))
    }
  }
}

resource "aws_cloudwatch_log_group" "access" {
  #checkov:skip=CKV_AWS_158:CloudWatch Logs encrypts log groups at rest with a service key; a customer-managed key needs a key policy this module does not own.
  #checkov:skip=CKV_AWS_338:Retention is an input (access_log_retention_days) chosen per environment.
  count = var.access_logs_enabled ? 1 : 0

  name              = local.access_log_group_name
  retention_in_days = var.access_log_retention_days
  tags              = var.tags
}

resource "aws_apigatewayv2_stage" "this" {
  #checkov:skip=CKV2_AWS_51:A client certificate authenticates API Gateway to HTTP backends; every integration here is a Lambda proxy or MOCK, which a client certificate does not apply to.
  #checkov:skip=CKV_AWS_76:Access logging is an input (access_logs_enabled, on in envs/prod.tfvars): it needs the account-level API Gateway CloudWatch role, a per-account, per-region singleton that this module creates only on request (manage_account_cloudwatch_role).
  api_id        = aws_apigatewayv2_api.this.id
  name          = var.stage_name
  description   = "WebSocket stage ${var.stage_name}"
  deployment_id = aws_apigatewayv2_deployment.this.id
  tags          = var.tags

  # Execution logging (logging_level ERROR or INFO) and access logging both
  # need the account's API Gateway CloudWatch Logs role
  # (aws_api_gateway_account, one per account and region), so both are
  # opt-in: enabling them without that role fails the apply with
  # "CloudWatch Logs role ARN must be set in account settings".
  # https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-logging.html
  default_route_settings {
    throttling_burst_limit = var.throttling_burst_limit
    throttling_rate_limit  = var.throttling_rate_limit
    logging_level          = var.execution_logging_level
    data_trace_enabled     = false
  }

  # A route's own throttle replaces the stage-wide one for that route.
  dynamic "route_settings" {
    for_each = var.route_throttling
    content {
      route_key              = route_settings.key
      throttling_burst_limit = route_settings.value.burst_limit
      throttling_rate_limit  = route_settings.value.rate_limit
      logging_level          = var.execution_logging_level
      data_trace_enabled     = false
    }
  }

  dynamic "access_log_settings" {
    for_each = var.access_logs_enabled ? [1] : []
    content {
      destination_arn = aws_cloudwatch_log_group.access[0].arn
      # WebSocket $context variables only, and never a request parameter:
      # tokens travel in the query string, so nothing here may echo it
      # (no $context.requestOverride.*, no route.request.querystring.*).
      # userId is the authorizer context's key (empty without an authorizer).
      # https://docs.aws.amazon.com/apigateway/latest/developerguide/websocket-api-logging.html
      format = jsonencode({
        requestId          = "$context.requestId"
        connectionId       = "$context.connectionId"
        eventType          = "$context.eventType"
        routeKey           = "$context.routeKey"
        status             = "$context.status"
        requestTimeEpoch   = "$context.requestTimeEpoch"
        sourceIp           = "$context.identity.sourceIp"
        error              = "$context.error.message"
        integrationStatus  = "$context.integration.status"
        integrationError   = "$context.integration.error"
        integrationLatency = "$context.integration.latency"
        authorizerError    = "$context.authorizer.error"
        userId             = "$context.authorizer.userId"
      })
    }
  }

  # With manage_account_cloudwatch_role the account setting must exist before
  # a stage that logs: UpdateStage checks it.
  depends_on = [aws_api_gateway_account.this]
}

# ---------------------------------------------------------------------------
# Optional: the account-level API Gateway CloudWatch Logs role
# ---------------------------------------------------------------------------
# aws_api_gateway_account is one setting per account and region, shared by
# every REST, HTTP and WebSocket API there: only one stack (or the account's
# baseline) may manage it, so this is off by default. The role carries the AWS
# managed policy API Gateway documents for it; its Resource "*" covers the
# log groups of every API in the account, which is what the shared role is for.
# https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-logging.html#set-up-access-logging-permissions
resource "aws_iam_role" "cloudwatch" {
  count = var.manage_account_cloudwatch_role ? 1 : 0

  name        = local.account_role_name
  description = "Account-level API Gateway role for CloudWatch Logs (aws_api_gateway_account, ${data.aws_region.current.name})"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = { Service = "apigateway.${data.aws_partition.current.dns_suffix}" }
    }]
  })
  tags = var.tags
}

resource "aws_iam_role_policy_attachment" "cloudwatch" {
  count = var.manage_account_cloudwatch_role ? 1 : 0

  role       = aws_iam_role.cloudwatch[0].name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
}

resource "aws_api_gateway_account" "this" {
  count = var.manage_account_cloudwatch_role ? 1 : 0

  cloudwatch_role_arn = aws_iam_role.cloudwatch[0].arn

  # API Gateway checks the role's permissions when the setting is written.
  depends_on = [aws_iam_role_policy_attachment.cloudwatch]
}
