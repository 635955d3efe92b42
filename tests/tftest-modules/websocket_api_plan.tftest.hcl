# Plan-mode tests of modules/websocket_api with a mocked provider: routes,
# the MOCK $default and ping replies, the authorizer, Lambda permissions, the
# stage, a deployment trigger that changes with routes, integrations, MOCK
# replies and the authorizer but not with cosmetic changes, and every
# validation rule of its variables.

mock_provider "aws" {
  # The shared mocked values (region, account, the API's id and ARNs): tests/tftest/mocks.
  source          = "./tests/tftest/mocks"
  override_during = plan
}

variables {
  name = "ws-test"
  mock_routes = {
    "$default" = "{\"type\":\"error\",\"error\":\"unknown_action\"}"
    ping       = "{\"type\":\"pong\"}"
  }
  lambda_routes = {
    "$connect" = {
      function_name = "fn-connect"
      invoke_arn    = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:fn-connect/invocations"
    }
    "$disconnect" = {
      function_name = "fn-disconnect"
      invoke_arn    = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:fn-disconnect/invocations"
    }
  }
}

run "baseline" {
  command = plan
  module {
    source = "./modules/websocket_api"
  }

  assert {
    condition     = aws_apigatewayv2_api.this.protocol_type == "WEBSOCKET" && aws_apigatewayv2_api.this.route_selection_expression == "$request.body.action"
    error_message = "The API must be a WebSocket API routing on $request.body.action."
  }
  assert {
    condition     = aws_apigatewayv2_route.lambda["$connect"].target == "integrations/${aws_apigatewayv2_integration.lambda["$connect"].id}" && aws_apigatewayv2_integration.lambda["$connect"].integration_uri == var.lambda_routes["$connect"].invoke_arn
    error_message = "$connect must target the integration that proxies to the connect function."
  }
  assert {
    condition     = aws_apigatewayv2_route.lambda["$disconnect"].target == "integrations/${aws_apigatewayv2_integration.lambda["$disconnect"].id}" && aws_apigatewayv2_integration.lambda["$disconnect"].integration_uri == var.lambda_routes["$disconnect"].invoke_arn
    error_message = "$disconnect must target the integration that proxies to the disconnect function."
  }
  assert {
    condition     = alltrue([for i in aws_apigatewayv2_integration.lambda : i.integration_type == "AWS_PROXY" && i.integration_method == "POST"])
    error_message = "Lambda integrations must be AWS_PROXY with POST."
  }
  assert {
    condition     = alltrue([for r in aws_apigatewayv2_route.lambda : r.authorization_type == "NONE" && r.authorizer_id == null]) && length(aws_apigatewayv2_authorizer.this) == 0
    error_message = "Without an authorizer no route is authorized and no authorizer exists."
  }

  # $default and ping are answered by API Gateway itself: MOCK integration,
  # route response and integration response with the fixed reply.
  assert {
    condition = alltrue([for k in ["$default", "ping"] :
      aws_apigatewayv2_route.mock[k].route_key == k &&
      aws_apigatewayv2_route.mock[k].target == "integrations/${aws_apigatewayv2_integration.mock[k].id}" &&
      aws_apigatewayv2_route.mock[k].route_response_selection_expression == "$default" &&
      aws_apigatewayv2_route_response.mock[k].route_id == aws_apigatewayv2_route.mock[k].id &&
      aws_apigatewayv2_route_response.mock[k].route_response_key == "$default"
    ])
    error_message = "$default and ping must target their MOCK integrations and declare a $default route response, or clients get no reply."
  }
  assert {
    condition = alltrue([for k in ["$default", "ping"] :
      aws_apigatewayv2_integration.mock[k].integration_type == "MOCK" &&
      jsondecode(aws_apigatewayv2_integration.mock[k].request_templates["$default"]) == { statusCode = 200 } &&
      aws_apigatewayv2_integration_response.mock[k].integration_id == aws_apigatewayv2_integration.mock[k].id &&
      aws_apigatewayv2_integration_response.mock[k].integration_response_key == "$default"
    ])
    error_message = "The MOCK integrations must return 200 through their $default integration response."
  }
  assert {
    condition = (
      aws_apigatewayv2_integration_response.mock["$default"].response_templates["$default"] == var.mock_routes["$default"] &&
      jsondecode(aws_apigatewayv2_integration_response.mock["ping"].response_templates["$default"]) == { type = "pong" }
    )
    error_message = "$default must reply with its error frame and ping with {\"type\":\"pong\"}."
  }
  assert {
    condition     = length(aws_lambda_permission.route) == 2 && !contains(keys(aws_lambda_permission.route), "ping")
    error_message = "ping invokes no Lambda: only $connect and $disconnect get invoke permissions."
  }

  # Permissions: one per route, scoped to this API, stage and route.
  assert {
    condition = {
      for k, p in aws_lambda_permission.route : k => [p.function_name, p.principal, p.action, p.source_arn]
      } == {
      "$connect"    = ["fn-connect", "apigateway.amazonaws.com", "lambda:InvokeFunction", "arn:aws:execute-api:us-east-1:123456789012:abc123def4/prod/$connect"]
      "$disconnect" = ["fn-disconnect", "apigateway.amazonaws.com", "lambda:InvokeFunction", "arn:aws:execute-api:us-east-1:123456789012:abc123def4/prod/$disconnect"]
    }
    error_message = "Each function may be invoked only by this API's prod stage on its own route."
  }

  # Stage and deployment.
  assert {
    condition     = aws_apigatewayv2_stage.this.name == "prod" && aws_apigatewayv2_stage.this.deployment_id == aws_apigatewayv2_deployment.this.id && aws_apigatewayv2_stage.this.auto_deploy == null
    error_message = "The prod stage must serve the explicit deployment (auto_deploy is for HTTP APIs)."
  }
  assert {
    condition = (
      aws_apigatewayv2_stage.this.default_route_settings[0].throttling_burst_limit == 500 &&
      aws_apigatewayv2_stage.this.default_route_settings[0].throttling_rate_limit == 1000 &&
      aws_apigatewayv2_stage.this.default_route_settings[0].logging_level == "OFF" &&
      aws_apigatewayv2_stage.this.default_route_settings[0].data_trace_enabled == false
    )
    error_message = "Default throttling is 500 burst / 1000 rps and execution logging is off unless opted in."
  }
  assert {
    condition     = length(aws_apigatewayv2_stage.this.access_log_settings) == 0 && length(aws_cloudwatch_log_group.access) == 0
    error_message = "Access logs are opt-in (they need the account-level CloudWatch role)."
  }
  assert {
    condition     = length(aws_api_gateway_account.this) == 0 && length(aws_iam_role.cloudwatch) == 0 && length(aws_iam_role_policy_attachment.cloudwatch) == 0 && output.account_cloudwatch_role_arn == null
    error_message = "The account-level API Gateway CloudWatch role is a per-account singleton: created only on request."
  }
  assert {
    condition     = keys(aws_apigatewayv2_deployment.this.triggers) == tolist(["redeployment"]) && length(aws_apigatewayv2_deployment.this.triggers.redeployment) == 40
    error_message = "The deployment must carry a sha1 redeployment trigger."
  }
  assert {
    condition     = output.manage_connections_arn == "arn:aws:execute-api:us-east-1:123456789012:abc123def4/prod/POST/@connections/*"
    error_message = "manage_connections_arn must be <execution_arn>/<stage>/POST/@connections/*."
  }
  assert {
    condition     = output.management_endpoint == "https://abc123def4.execute-api.us-east-1.amazonaws.com/prod" && output.wss_endpoint == "wss://abc123def4.execute-api.us-east-1.amazonaws.com/prod"
    error_message = "Endpoints must be https://{api_id}.execute-api.{region}.amazonaws.com/{stage} and <api_endpoint>/<stage>."
  }
}

run "cosmetic_changes_do_not_redeploy" {
  command = plan
  module {
    source = "./modules/websocket_api"
  }

  variables {
    description            = "a new description"
    tags                   = { Owner = "someone-else" }
    throttling_burst_limit = 50
    throttling_rate_limit  = 20
  }

  assert {
    condition     = aws_apigatewayv2_deployment.this.triggers.redeployment == run.baseline.deployment_triggers.redeployment
    error_message = "Tags, descriptions and stage settings must not force a new deployment."
  }
  assert {
    condition     = aws_apigatewayv2_stage.this.default_route_settings[0].throttling_burst_limit == 50 && aws_apigatewayv2_stage.this.default_route_settings[0].throttling_rate_limit == 20
    error_message = "Throttling inputs must reach the stage."
  }
}

run "changed_integration_uri_redeploys" {
  command = plan
  module {
    source = "./modules/websocket_api"
  }

  variables {
    lambda_routes = {
      "$connect" = {
        function_name = "fn-connect-v2"
        invoke_arn    = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:fn-connect-v2/invocations"
      }
      "$disconnect" = {
        function_name = "fn-disconnect"
        invoke_arn    = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:fn-disconnect/invocations"
      }
    }
  }

  assert {
    condition     = aws_apigatewayv2_deployment.this.triggers.redeployment != run.baseline.deployment_triggers.redeployment
    error_message = "A changed integration URI must force a new deployment."
  }
}

run "added_route_redeploys" {
  command = plan
  module {
    source = "./modules/websocket_api"
  }

  variables {
    lambda_routes = merge(var.lambda_routes, {
      subscribe = {
        function_name = "fn-connect"
        invoke_arn    = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:fn-connect/invocations"
      }
    })
  }

  assert {
    condition     = aws_apigatewayv2_deployment.this.triggers.redeployment != run.baseline.deployment_triggers.redeployment
    error_message = "A new route must force a new deployment."
  }
}

run "changed_default_reply_redeploys" {
  command = plan
  module {
    source = "./modules/websocket_api"
  }

  variables {
    mock_routes = merge(var.mock_routes, { "$default" = "{\"type\":\"error\",\"error\":\"nope\"}" })
  }

  assert {
    condition     = aws_apigatewayv2_deployment.this.triggers.redeployment != run.baseline.deployment_triggers.redeployment
    error_message = "A changed $default reply must force a new deployment."
  }
}

run "ping_route_is_part_of_the_deployment" {
  command = plan
  module {
    source = "./modules/websocket_api"
  }

  variables {
    mock_routes = { "$default" = var.mock_routes["$default"] }
  }

  assert {
    condition     = length(aws_apigatewayv2_route.mock) == 1 && aws_apigatewayv2_deployment.this.triggers.redeployment != run.baseline.deployment_triggers.redeployment
    error_message = "Adding or removing the ping route must force a new deployment."
  }
}

run "changed_ping_reply_redeploys" {
  command = plan
  module {
    source = "./modules/websocket_api"
  }

  variables {
    mock_routes = merge(var.mock_routes, { ping = "{\"type\":\"pong\",\"version\":2}" })
  }

  assert {
    condition     = aws_apigatewayv2_deployment.this.triggers.redeployment != run.baseline.deployment_triggers.redeployment
    error_message = "A changed ping reply must force a new deployment."
  }
}

run "authorizer_on_connect" {
  command = plan
  module {
    source = "./modules/websocket_api"
  }

  variables {
    stage_name = "live"
    authorizer = {
      function_arn = "arn:aws:lambda:us-east-1:123456789012:function:ws-authorizer"
    }
  }

  assert {
    condition = (
      aws_apigatewayv2_authorizer.this[0].authorizer_type == "REQUEST" &&
      aws_apigatewayv2_authorizer.this[0].identity_sources == toset(["route.request.querystring.token"]) &&
      aws_apigatewayv2_authorizer.this[0].authorizer_uri == "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:ws-authorizer/invocations"
    )
    error_message = "The authorizer must be a REQUEST authorizer reading the token from the query string."
  }
  assert {
    condition     = aws_apigatewayv2_route.lambda["$connect"].authorization_type == "CUSTOM" && aws_apigatewayv2_route.lambda["$connect"].authorizer_id == "auth01"
    error_message = "$connect must use the authorizer."
  }
  assert {
    condition     = aws_apigatewayv2_route.lambda["$disconnect"].authorization_type == "NONE" && alltrue([for r in aws_apigatewayv2_route.mock : r.authorization_type == null])
    error_message = "Only $connect may carry an authorizer on a WebSocket API."
  }
  assert {
    condition     = aws_lambda_permission.authorizer[0].function_name == var.authorizer.function_arn && aws_lambda_permission.authorizer[0].source_arn == "arn:aws:execute-api:us-east-1:123456789012:abc123def4/authorizers/auth01"
    error_message = "API Gateway may invoke the authorizer only as this API's authorizer."
  }
  assert {
    condition     = aws_lambda_permission.route["$connect"].source_arn == "arn:aws:execute-api:us-east-1:123456789012:abc123def4/live/$connect"
    error_message = "Route permissions follow the stage name."
  }
  assert {
    condition     = aws_apigatewayv2_deployment.this.triggers.redeployment != run.baseline.deployment_triggers.redeployment
    error_message = "Adding an authorizer must force a new deployment."
  }
}

run "logging_opted_in" {
  command = plan
  module {
    source = "./modules/websocket_api"
  }

  variables {
    execution_logging_level   = "ERROR"
    access_logs_enabled       = true
    access_log_retention_days = 90
  }

  assert {
    condition     = aws_apigatewayv2_stage.this.default_route_settings[0].logging_level == "ERROR"
    error_message = "execution_logging_level must reach the stage."
  }
  assert {
    condition     = aws_cloudwatch_log_group.access[0].retention_in_days == 90 && aws_apigatewayv2_stage.this.access_log_settings[0].destination_arn == aws_cloudwatch_log_group.access[0].arn
    error_message = "Access logs must go to the module's log group with the given retention."
  }
  assert {
    condition     = jsondecode(aws_apigatewayv2_stage.this.access_log_settings[0].format).connectionId == "$context.connectionId"
    error_message = "The access log format must be JSON with the connection id."
  }
  assert {
    condition = toset(keys(jsondecode(aws_apigatewayv2_stage.this.access_log_settings[0].format))) == toset([
      "requestId", "connectionId", "eventType", "routeKey", "status", "requestTimeEpoch", "sourceIp", "error",
      "integrationStatus", "integrationError", "integrationLatency", "authorizerError", "userId",
    ])
    error_message = "The access log must carry request and connection ids, event type, route, status, integration status/error/latency, source IP, authorizer error and the authorizer's userId."
  }
  # Tokens travel in the query string: no field may echo a request parameter,
  # header or body, and every field is a plain $context variable.
  assert {
    condition = alltrue([for v in values(jsondecode(aws_apigatewayv2_stage.this.access_log_settings[0].format)) :
      can(regex("^\\$context\\.[A-Za-z.]+$", v)) && length(regexall("(?i)querystring|requestoverride|request\\.|header|body|input", v)) == 0
    ])
    error_message = "The access log format must hold only $context variables and nothing from the query string, headers or body (tokens travel there)."
  }
  assert {
    condition     = output.access_log_settings.format == aws_apigatewayv2_stage.this.access_log_settings[0].format
    error_message = "access_log_settings must expose the stage's access log format."
  }
  assert {
    condition     = length(aws_api_gateway_account.this) == 0
    error_message = "Turning logging on must not take over the account-level setting."
  }
}

run "account_cloudwatch_role_opted_in" {
  command = plan
  module {
    source = "./modules/websocket_api"
  }

  variables {
    access_logs_enabled            = true
    manage_account_cloudwatch_role = true
  }

  assert {
    condition     = jsondecode(aws_iam_role.cloudwatch[0].assume_role_policy).Statement[0].Principal == { Service = "apigateway.amazonaws.com" }
    error_message = "Only API Gateway may assume the account's CloudWatch Logs role."
  }
  assert {
    condition     = aws_iam_role_policy_attachment.cloudwatch[0].role == aws_iam_role.cloudwatch[0].name && aws_iam_role_policy_attachment.cloudwatch[0].policy_arn == "arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
    error_message = "The role must carry the AWS managed policy AmazonAPIGatewayPushToCloudWatchLogs."
  }
  assert {
    condition     = aws_api_gateway_account.this[0].cloudwatch_role_arn == aws_iam_role.cloudwatch[0].arn && output.account_cloudwatch_role_arn == aws_iam_role.cloudwatch[0].arn
    error_message = "The account setting must point at the role."
  }
}

# Everything a MOCK route answers with is in the trigger (issue 18.9): the
# request template and its selection, the integration response's template and
# selection, the route response. Changing any of them must redeploy; leaving
# one out would change the API but never what the stage serves.
run "trigger_covers_every_field_the_stage_serves" {
  command = plan
  module {
    source = "./modules/websocket_api"
  }

  assert {
    condition = alltrue([for k in keys(var.mock_routes) :
      output.deployment_fields.integrations[k].request_templates == tomap({ "$default" = "{\"statusCode\":200}" }) &&
      output.deployment_fields.integrations[k].template_selection_expression == "\\$default" &&
      output.deployment_fields.integration_responses[k].response_templates == { "$default" = var.mock_routes[k] } &&
      output.deployment_fields.integration_responses[k].template_selection_expression == "\\$default" &&
      output.deployment_fields.integration_responses[k].integration_response_key == "$default" &&
      output.deployment_fields.route_responses[k].route_response_key == "$default" &&
      output.deployment_fields.routes[k].route_response_selection_expression == "$default"
    ])
    error_message = "The deployment trigger must hash each MOCK route's request template and selection, its integration response (template, selection, key) and its route response."
  }
  assert {
    condition = alltrue([for k in keys(var.lambda_routes) :
      output.deployment_fields.integrations[k].integration_type == "AWS_PROXY" &&
      output.deployment_fields.integrations[k].integration_uri == var.lambda_routes[k].invoke_arn &&
      output.deployment_fields.routes[k].route_key == k
    ])
    error_message = "The deployment trigger must hash each Lambda route's key and its integration's type and URI."
  }
  assert {
    condition     = output.deployment_fields.route_selection_expression == "$request.body.action"
    error_message = "The deployment trigger must hash the API's route selection expression."
  }
  assert {
    condition     = aws_apigatewayv2_deployment.this.triggers.redeployment == sha1(jsonencode(output.deployment_fields))
    error_message = "The redeployment trigger must be the hash of exactly deployment_fields."
  }
}

run "route_throttling_sets_that_route_only" {
  command = plan
  module {
    source = "./modules/websocket_api"
  }

  variables {
    route_throttling = { ping = { burst_limit = 20, rate_limit = 10 } }
  }

  assert {
    condition = [for r in aws_apigatewayv2_stage.this.route_settings : {
      key = r.route_key, burst = r.throttling_burst_limit, rate = r.throttling_rate_limit
    }] == [{ key = "ping", burst = 20, rate = 10 }]
    error_message = "route_throttling must become one route_settings block per listed route, with its own limits."
  }
  assert {
    condition     = aws_apigatewayv2_stage.this.default_route_settings[0].throttling_rate_limit == 1000
    error_message = "The other routes keep the stage-wide throttle."
  }
}

# ---------------------------------------------------------------------------
# Validation: each rule rejects a bad value at plan (with the file's valid
# routes, so a run breaks only what it names)
# ---------------------------------------------------------------------------
# lambda_routes, mock_routes and authorizer have two rules each: one run per
# rule, each variable alone for its value. mock_routes' first rule reads
# lambda_routes, and Terraform does not check a variable while one it reads
# is invalid: the runs that break mock_routes keep lambda_routes valid.
run "websocket_api_stage_static_replies_and_authorizer_arn" {
  command = plan
  module {
    source = "./modules/websocket_api"
  }

  variables {
    stage_name  = "prod/v1"                                       # not a stage name
    mock_routes = { "$default" = "{\"error\": \"$input.body\"}" } # a reply that is not static
    authorizer  = { function_arn = "ws-authorizer" }              # not a function ARN
  }

  expect_failures = [
    var.stage_name,
    var.mock_routes,
    var.authorizer,
  ]
}

run "websocket_api_routes_need_disconnect_and_authorizer_identity_sources" {
  command = plan
  module {
    source = "./modules/websocket_api"
  }

  variables {
    lambda_routes = { "$connect" = var.lambda_routes["$connect"] }
    authorizer = {
      function_arn     = "arn:aws:lambda:us-east-1:123456789012:function:auth"
      identity_sources = ["$request.header.Authorization"]
    }
  }

  expect_failures = [var.lambda_routes, var.authorizer]
}

run "websocket_api_custom_routes_are_plain_actions" {
  command = plan
  module {
    source = "./modules/websocket_api"
  }

  variables {
    lambda_routes = merge(var.lambda_routes, { "$default" = var.lambda_routes["$connect"] })
  }

  expect_failures = [var.lambda_routes]
}

run "websocket_api_mock_route_is_not_also_a_lambda_route" {
  command = plan
  module {
    source = "./modules/websocket_api"
  }

  variables {
    lambda_routes = merge(var.lambda_routes, { ping = var.lambda_routes["$connect"] })
    mock_routes   = { ping = "{\"type\":\"pong\"}" }
  }

  expect_failures = [var.mock_routes]
}

run "route_throttling_names_an_existing_route" {
  command = plan
  module {
    source = "./modules/websocket_api"
  }

  variables {
    route_throttling = { subscribe = { burst_limit = 20, rate_limit = 10 } }
  }

  expect_failures = [var.route_throttling]
}
