# One Lambda function with its own execution role, its own log group and an
# inline policy built only from what the caller grants (plus writing to its
# own log group). Nothing here grants a wildcard action.

data "aws_partition" "current" {}

locals {
  log_group_name = "/aws/lambda/${var.function_name}"
  role_name      = var.function_name

  # Lambda writes to /aws/lambda/<function name> by default; the role may only
  # create streams and put events in that one group.
  # https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs.html
  log_statement = {
    Sid      = "WriteOwnLogGroup"
    Effect   = "Allow"
    Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    Resource = ["${aws_cloudwatch_log_group.this.arn}:*"]
  }

  policy = {
    Version = "2012-10-17"
    Statement = concat(
      [local.log_statement],
      [for s in var.policy_statements : merge(
        {
          Sid      = s.sid
          Effect   = "Allow"
          Action   = sort(s.actions)
          Resource = s.resources
        },
        s.condition == null ? {} : { Condition = s.condition },
      )],
    )
  }
}

# ---------------------------------------------------------------------------
# Role
# ---------------------------------------------------------------------------
resource "aws_iam_role" "this" {
  name        = local.role_name
  description = "Execution role of the ${var.function_name} Lambda function"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = { Service = "lambda.${data.aws_partition.current.dns_suffix}" }
    }]
  })
  tags = var.tags
}

resource "aws_iam_role_policy" "this" {
  name   = "least-privilege"
  role   = aws_iam_role.this.name
  policy = jsonencode(local.policy)
}

# ---------------------------------------------------------------------------
# Logs
# ---------------------------------------------------------------------------
resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_158:CloudWatch Logs encrypts every log group at rest with a service key; a customer-managed key needs a key policy for logs.<region>.amazonaws.com that this module does not own.
  #checkov:skip=CKV_AWS_338:Retention is an input (log_retention_days) chosen per environment; prod.tfvars sets 365 days, dev keeps less on purpose.
  name              = local.log_group_name
  retention_in_days = var.log_retention_days
  tags              = var.tags
}

# ---------------------------------------------------------------------------
# Function
# ---------------------------------------------------------------------------
resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_116:A dead-letter queue applies to asynchronous invocations only; API Gateway invokes these functions synchronously and stream mappings use their own on-failure destination (modules/stream_consumer).
  #checkov:skip=CKV_AWS_117:The functions call only public AWS endpoints (DynamoDB, SNS, API Gateway management API); a VPC would add NAT or endpoint costs and no isolation.
  #checkov:skip=CKV_AWS_272:Code signing needs an AWS Signer profile and a signed S3 artifact; the zips are built reproducibly by make build and deployed from a reviewed commit.
  #checkov:skip=CKV_AWS_173:Environment variables hold only resource names and settings, no secrets; they are encrypted at rest with the Lambda service key.
  function_name                  = var.function_name
  description                    = var.description
  role                           = aws_iam_role.this.arn
  handler                        = var.handler
  runtime                        = var.runtime
  architectures                  = [var.architecture]
  filename                       = var.filename
  source_code_hash               = var.source_code_hash
  memory_size                    = var.memory_size
  timeout                        = var.timeout
  reserved_concurrent_executions = var.reserved_concurrent_executions
  layers                         = var.layers
  tags                           = var.tags

  environment {
    variables = var.environment_variables
  }

  # PassThrough: no X-Ray traces unless the caller samples, and no X-Ray
  # permissions in the role.
  tracing_config {
    mode = "PassThrough"
  }

  # The log group and the role's permission to write to it exist before the
  # first invocation, so Lambda never creates an unmanaged group without
  # retention.
  depends_on = [aws_cloudwatch_log_group.this, aws_iam_role_policy.this]
}
