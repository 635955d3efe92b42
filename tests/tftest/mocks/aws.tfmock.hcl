# Mocked AWS values shared by the root module's plan-mode test files (root_plan,
# monitoring, fanout_workers, authorizer): fixed ARNs and ids, so policies and
# outputs built from them can be asserted at plan time.

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

mock_resource "aws_cloudwatch_log_group" {
  defaults = { arn = "arn:aws:logs:us-east-1:123456789012:log-group:mocked" }
}

mock_resource "aws_iam_role" {
  defaults = { arn = "arn:aws:iam::123456789012:role/mocked" }
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
