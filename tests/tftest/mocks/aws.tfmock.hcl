# Mocked AWS values shared by every terraform test file (tests/tftest for the
# root module, tests/tftest-modules for the child modules): fixed ARNs and ids,
# so policies and outputs built from them can be asserted at plan time (and
# after a mocked apply), said once here.

mock_data "aws_partition" {
  defaults = { partition = "aws", dns_suffix = "amazonaws.com" }
}

mock_data "aws_region" {
  defaults = { name = "us-east-1" }
}

mock_data "aws_caller_identity" {
  defaults = { account_id = "123456789012" }
}

mock_resource "aws_apigatewayv2_api" {
  defaults = {
    id            = "abc123def4"
    execution_arn = "arn:aws:execute-api:us-east-1:123456789012:abc123def4"
    api_endpoint  = "wss://abc123def4.execute-api.us-east-1.amazonaws.com"
  }
}

# Fixed ids keep a deployment trigger built from them deterministic between runs.
mock_resource "aws_apigatewayv2_integration" {
  defaults = { id = "integ01" }
}

mock_resource "aws_apigatewayv2_route" {
  defaults = { id = "route01" }
}

mock_resource "aws_apigatewayv2_authorizer" {
  defaults = { id = "auth01" }
}

mock_resource "aws_apigatewayv2_deployment" {
  defaults = { id = "deploy01" }
}

mock_resource "aws_cloudwatch_log_group" {
  defaults = { arn = "arn:aws:logs:us-east-1:123456789012:log-group:mocked" }
}

mock_resource "aws_iam_role" {
  defaults = { arn = "arn:aws:iam::123456789012:role/mocked" }
}

mock_resource "aws_sqs_queue" {
  defaults = { arn = "arn:aws:sqs:us-east-1:123456789012:mocked" }
}

mock_resource "aws_sns_topic" {
  defaults = { arn = "arn:aws:sns:us-east-1:123456789012:realtime-test-alerts" }
}

mock_resource "aws_cloudwatch_metric_alarm" {
  defaults = { arn = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:mocked" }
}

mock_resource "aws_kms_key" {
  defaults = {
    arn    = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
    key_id = "11111111-2222-3333-4444-555555555555"
  }
}

# ---------------------------------------------------------------------------
# Per-resource values: where one default per resource type is not enough (two
# tables, one ARN each; the functions' ARNs). Overrides in a mock data file
# apply to the resources this mock provider plans, in every file that uses it
# (https://developer.hashicorp.com/terraform/language/tests/mocking).
# The names are those of environment "test".
# ---------------------------------------------------------------------------
override_resource {
  target = module.table["connections"].aws_dynamodb_table.this
  values = { arn = "arn:aws:dynamodb:us-east-1:123456789012:table/realtime-test-connections" }
}

override_resource {
  target = module.table["idempotency"].aws_dynamodb_table.this
  values = { arn = "arn:aws:dynamodb:us-east-1:123456789012:table/realtime-test-idempotency" }
}

override_resource {
  target = module.table["state"].aws_dynamodb_table.this
  values = { arn = "arn:aws:dynamodb:us-east-1:123456789012:table/realtime-test-state" }
}

override_resource {
  target = module.alerts_topic.aws_sns_topic.this
  values = { arn = "arn:aws:sns:us-east-1:123456789012:realtime-test-alerts" }
}

override_resource {
  target = module.operators_topic.aws_sns_topic.this
  values = { arn = "arn:aws:sns:us-east-1:123456789012:realtime-test-operators" }
}

override_resource {
  target = module.stream_consumer["broadcaster"].aws_sqs_queue.dead_letter
  values = {
    arn = "arn:aws:sqs:us-east-1:123456789012:realtime-test-broadcaster-dlq"
    url = "https://sqs.us-east-1.amazonaws.com/123456789012/realtime-test-broadcaster-dlq"
  }
}

override_resource {
  target = module.stream_consumer["notifier"].aws_sqs_queue.dead_letter
  values = {
    arn = "arn:aws:sqs:us-east-1:123456789012:realtime-test-notifier-dlq"
    url = "https://sqs.us-east-1.amazonaws.com/123456789012/realtime-test-notifier-dlq"
  }
}

override_resource {
  target = module.function["authorizer"].aws_lambda_function.this
  values = {
    arn        = "arn:aws:lambda:us-east-1:123456789012:function:realtime-test-authorizer"
    invoke_arn = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:realtime-test-authorizer/invocations"
  }
}

override_resource {
  target = module.function["connect"].aws_lambda_function.this
  values = {
    arn        = "arn:aws:lambda:us-east-1:123456789012:function:realtime-test-connect"
    invoke_arn = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:realtime-test-connect/invocations"
  }
}

override_resource {
  target = module.function["disconnect"].aws_lambda_function.this
  values = {
    arn        = "arn:aws:lambda:us-east-1:123456789012:function:realtime-test-disconnect"
    invoke_arn = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:realtime-test-disconnect/invocations"
  }
}

override_resource {
  target = module.function["fanout-worker"].aws_lambda_function.this
  values = {
    arn        = "arn:aws:lambda:us-east-1:123456789012:function:realtime-test-fanout-worker"
    invoke_arn = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:realtime-test-fanout-worker/invocations"
  }
}

override_resource {
  target = module.function["sync"].aws_lambda_function.this
  values = {
    arn        = "arn:aws:lambda:us-east-1:123456789012:function:realtime-test-sync"
    invoke_arn = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:realtime-test-sync/invocations"
  }
}

override_resource {
  target = module.function["subscribe"].aws_lambda_function.this
  values = {
    arn        = "arn:aws:lambda:us-east-1:123456789012:function:realtime-test-subscribe"
    invoke_arn = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:realtime-test-subscribe/invocations"
  }
}
