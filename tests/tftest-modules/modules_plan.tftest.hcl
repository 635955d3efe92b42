# Plan-mode tests of modules/stream_consumer, modules/lambda_function,
# modules/alerts_topic and modules/dynamodb_table with a mocked provider.

mock_provider "aws" {
  # The shared mocked values (region, account, ARNs): tests/tftest/mocks.
  source          = "./tests/tftest/mocks"
  override_during = plan
}

# Each module's required inputs, valid: a run sets only the inputs it tests
# (a module takes the variables it declares and ignores the others).
variables {
  name               = "test"
  function_name      = "fn"
  function_role_name = "fn-role"
  stream_arn         = "arn:aws:dynamodb:us-east-1:123456789012:table/Incidents/stream/2024-05-01T10:00:00.000"
  handler            = "broadcaster.handler"
  filename           = "build/broadcaster.zip"
  source_code_hash   = "c29tZWhhc2g="
  hash_key           = "pk"
  ttl_attribute      = "expiresAt"
}

# ---------------------------------------------------------------------------
# stream_consumer
# ---------------------------------------------------------------------------
run "stream_consumer_defaults" {
  command = plan
  module {
    source = "./modules/stream_consumer"
  }

  assert {
    condition = (
      aws_lambda_event_source_mapping.this.function_name == "fn" &&
      aws_lambda_event_source_mapping.this.event_source_arn == var.stream_arn &&
      aws_lambda_event_source_mapping.this.starting_position == "LATEST"
    )
    error_message = "The mapping must read the given stream into the given function from LATEST."
  }
  assert {
    condition     = [for f in aws_lambda_event_source_mapping.this.filter_criteria[0].filter : jsondecode(f.pattern)] == [{ eventName = ["INSERT", "MODIFY"] }]
    error_message = "The mapping must filter on INSERT and MODIFY only."
  }
  assert {
    condition     = output.event_names == ["INSERT", "MODIFY"]
    error_message = "event_names must report the filter's event names."
  }
  assert {
    condition = (
      aws_lambda_event_source_mapping.this.function_response_types == toset(["ReportBatchItemFailures"]) &&
      aws_lambda_event_source_mapping.this.bisect_batch_on_function_error == true &&
      aws_lambda_event_source_mapping.this.maximum_retry_attempts == 5 &&
      aws_lambda_event_source_mapping.this.maximum_record_age_in_seconds == 3600 &&
      aws_lambda_event_source_mapping.this.batch_size == 100 &&
      aws_lambda_event_source_mapping.this.maximum_batching_window_in_seconds == 0 &&
      aws_lambda_event_source_mapping.this.parallelization_factor == 1
    )
    error_message = "Defaults: partial batch responses, bisect, 5 retries, 1 h max age, batch 100, no window, parallelization 1."
  }
  assert {
    condition     = aws_lambda_event_source_mapping.this.destination_config[0].on_failure[0].destination_arn == aws_sqs_queue.dead_letter.arn
    error_message = "Failed batches must go to the module's own queue."
  }
  assert {
    condition     = aws_sqs_queue.dead_letter.name == "test-dlq" && aws_sqs_queue.dead_letter.sqs_managed_sse_enabled == true && aws_sqs_queue.dead_letter.kms_master_key_id == null && aws_sqs_queue.dead_letter.message_retention_seconds == 1209600
    error_message = "The queue must be encrypted (SSE-SQS by default) and keep failures 14 days."
  }
  assert {
    condition = aws_iam_role_policy.this.role == "fn-role" && [for s in jsondecode(aws_iam_role_policy.this.policy).Statement : { a = toset(s.Action), r = s.Resource }] == [
      { a = toset(["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"]), r = [var.stream_arn] },
      { a = toset(["sqs:SendMessage"]), r = ["arn:aws:sqs:us-east-1:123456789012:mocked"] },
    ]
    error_message = "The role may only read the one stream and send to the one queue."
  }
}

run "stream_consumer_settings" {
  command = plan
  module {
    source = "./modules/stream_consumer"
  }

  variables {
    stream_arn                         = "arn:aws-us-gov:dynamodb:us-gov-west-1:123456789012:table/Incidents/stream/2024-05-01T10:00:00.000"
    batch_size                         = 10000
    maximum_batching_window_in_seconds = 5
    parallelization_factor             = 10
    maximum_retry_attempts             = 0
    maximum_record_age_in_seconds      = 604800
    starting_position                  = "TRIM_HORIZON"
    kms_key_arn                        = "arn:aws-us-gov:kms:us-gov-west-1:123456789012:key/abcd"
  }

  assert {
    condition = (
      aws_lambda_event_source_mapping.this.batch_size == 10000 &&
      aws_lambda_event_source_mapping.this.maximum_batching_window_in_seconds == 5 &&
      aws_lambda_event_source_mapping.this.parallelization_factor == 10 &&
      aws_lambda_event_source_mapping.this.maximum_retry_attempts == 0 &&
      aws_lambda_event_source_mapping.this.maximum_record_age_in_seconds == 604800 &&
      aws_lambda_event_source_mapping.this.starting_position == "TRIM_HORIZON"
    )
    error_message = "Mapping settings must come from the inputs."
  }
  assert {
    condition     = aws_sqs_queue.dead_letter.kms_master_key_id == var.kms_key_arn && aws_sqs_queue.dead_letter.sqs_managed_sse_enabled != true
    error_message = "With a KMS key the queue uses SSE-KMS instead of SSE-SQS."
  }
  assert {
    condition     = one([for s in jsondecode(aws_iam_role_policy.this.policy).Statement : s.Resource if s.Sid == "EncryptForDeadLetterQueue"]) == [var.kms_key_arn]
    error_message = "With a KMS key the role needs that key to send to the queue."
  }
}

# ---------------------------------------------------------------------------
# lambda_function
# ---------------------------------------------------------------------------
run "lambda_function" {
  command = plan
  module {
    source = "./modules/lambda_function"
  }

  variables {
    architecture                   = "arm64"
    runtime                        = "python3.13"
    memory_size                    = 1024
    timeout                        = 60
    reserved_concurrent_executions = 5
    layers                         = ["arn:aws:lambda:us-east-1:123456789012:layer:deps:2"]
    log_retention_days             = 14
    environment_variables          = { A = "1" }
    policy_statements = [{
      sid       = "ReadTable"
      actions   = ["dynamodb:Scan", "dynamodb:DeleteItem"]
      resources = ["arn:aws:dynamodb:us-east-1:123456789012:table/t"]
    }]
  }

  assert {
    condition = (
      aws_lambda_function.this.runtime == "python3.13" &&
      aws_lambda_function.this.architectures == tolist(["arm64"]) &&
      aws_lambda_function.this.memory_size == 1024 &&
      aws_lambda_function.this.timeout == 60 &&
      aws_lambda_function.this.reserved_concurrent_executions == 5 &&
      aws_lambda_function.this.layers == tolist(var.layers) &&
      aws_lambda_function.this.source_code_hash == "c29tZWhhc2g=" &&
      aws_lambda_function.this.handler == "broadcaster.handler" &&
      aws_lambda_function.this.environment[0].variables == tomap({ A = "1" })
    )
    error_message = "Function settings must come from the inputs."
  }
  assert {
    condition     = aws_lambda_function.this.role == aws_iam_role.this.arn && aws_iam_role.this.name == "fn" && jsondecode(aws_iam_role.this.assume_role_policy).Statement[0].Principal == { Service = "lambda.amazonaws.com" }
    error_message = "The function must run with its own role, assumable only by Lambda."
  }
  assert {
    condition     = aws_cloudwatch_log_group.this.name == "/aws/lambda/fn" && aws_cloudwatch_log_group.this.retention_in_days == 14
    error_message = "The function must own /aws/lambda/<name> with the given retention."
  }
  assert {
    condition = aws_iam_role_policy.this.role == "fn" && jsondecode(aws_iam_role_policy.this.policy).Statement == [
      { Sid = "WriteOwnLogGroup", Effect = "Allow", Action = ["logs:CreateLogStream", "logs:PutLogEvents"], Resource = ["arn:aws:logs:us-east-1:123456789012:log-group:mocked:*"] },
      { Sid = "ReadTable", Effect = "Allow", Action = ["dynamodb:DeleteItem", "dynamodb:Scan"], Resource = ["arn:aws:dynamodb:us-east-1:123456789012:table/t"] },
    ]
    error_message = "The inline policy must hold exactly the log statement and the given statements."
  }
}

run "lambda_function_defaults" {
  command = plan
  module {
    source = "./modules/lambda_function"
  }

  assert {
    condition     = aws_lambda_function.this.reserved_concurrent_executions == -1 && aws_lambda_function.this.runtime == "python3.12" && aws_lambda_function.this.architectures == tolist(["x86_64"])
    error_message = "Defaults: unreserved concurrency, python3.12, x86_64."
  }
  assert {
    condition     = aws_lambda_function.this.tracing_config[0].mode == "PassThrough" && [for s in jsondecode(aws_iam_role_policy.this.policy).Statement : s.Sid] == ["WriteOwnLogGroup"]
    error_message = "Tracing is PassThrough and the role may only write its own logs unless statements are given."
  }
}

# ---------------------------------------------------------------------------
# alerts_topic
# ---------------------------------------------------------------------------
run "alerts_topic" {
  command = plan
  module {
    source = "./modules/alerts_topic"
  }

  variables {
    subscriptions = [
      { protocol = "email", endpoint = "duty@example.com" },
      { protocol = "sms", endpoint = "+15555550100", filter_policy = "{\"urgency\":[\"critical\"]}" },
      { protocol = "sqs", endpoint = "arn:aws:sqs:us-east-1:123456789012:alerts" },
      { protocol = "https", endpoint = "https://hooks.example.com/alerts" },
    ]
  }

  assert {
    condition     = aws_sns_topic.this.kms_master_key_id == "alias/aws/sns" && aws_sns_topic.this.fifo_topic != true
    error_message = "The topic must be a standard topic encrypted with alias/aws/sns by default."
  }
  assert {
    condition     = toset(keys(aws_sns_topic_subscription.this)) == toset(["email:duty@example.com", "sms:+15555550100", "sqs:arn:aws:sqs:us-east-1:123456789012:alerts", "https:https://hooks.example.com/alerts"])
    error_message = "There must be one subscription per list entry, keyed by protocol and endpoint."
  }
  assert {
    condition     = aws_sns_topic_subscription.this["sms:+15555550100"].filter_policy == "{\"urgency\":[\"critical\"]}" && aws_sns_topic_subscription.this["email:duty@example.com"].filter_policy == null
    error_message = "Filter policies must be passed per subscription."
  }
}

run "alerts_topic_customer_key" {
  command = plan
  module {
    source = "./modules/alerts_topic"
  }

  variables {
    kms_key_id = "arn:aws:kms:us-east-1:123456789012:key/abcd"
  }

  assert {
    condition     = aws_sns_topic.this.kms_master_key_id == "arn:aws:kms:us-east-1:123456789012:key/abcd" && length(aws_sns_topic_subscription.this) == 0
    error_message = "A given key must encrypt the topic."
  }
}

# ---------------------------------------------------------------------------
# dynamodb_table
# ---------------------------------------------------------------------------
run "connections_table" {
  command = plan
  module {
    source = "./modules/dynamodb_table"
  }

  variables {
    range_key = "sk"
  }

  assert {
    condition = (
      aws_dynamodb_table.this.billing_mode == "PAY_PER_REQUEST" &&
      aws_dynamodb_table.this.hash_key == "pk" && aws_dynamodb_table.this.range_key == "sk" &&
      aws_dynamodb_table.this.attribute == toset([{ name = "pk", type = "S" }, { name = "sk", type = "S" }])
    )
    error_message = "The table must be on-demand with string keys pk/sk."
  }
  assert {
    condition     = aws_dynamodb_table.this.ttl[0].attribute_name == "expiresAt" && aws_dynamodb_table.this.ttl[0].enabled
    error_message = "TTL must be on expiresAt."
  }
  assert {
    condition     = aws_dynamodb_table.this.server_side_encryption[0].enabled && aws_dynamodb_table.this.point_in_time_recovery[0].enabled
    error_message = "SSE and point-in-time recovery must be on by default."
  }
  assert {
    condition     = length(aws_dynamodb_table.this.global_secondary_index) == 0
    error_message = "A table without global_secondary_indexes must have no index."
  }
}

run "state_table_with_index" {
  command = plan
  module {
    source = "./modules/dynamodb_table"
  }

  variables {
    range_key = "sk"
    global_secondary_indexes = {
      byChange = { hash_key = "feed", range_key = "changedAt", range_key_type = "N" }
    }
  }

  override_resource {
    target          = aws_dynamodb_table.this
    override_during = plan
    values          = { arn = "arn:aws:dynamodb:us-east-1:123456789012:table/test" }
  }

  assert {
    condition = aws_dynamodb_table.this.attribute == toset([
      { name = "pk", type = "S" }, { name = "sk", type = "S" },
      { name = "feed", type = "S" }, { name = "changedAt", type = "N" },
    ])
    error_message = "Every key of the table and of the index must be declared once, with its type (changedAt a number)."
  }
  assert {
    condition = [for i in aws_dynamodb_table.this.global_secondary_index : {
      name = i.name, hash_key = i.hash_key, range_key = i.range_key, projection_type = i.projection_type
    }] == [{ name = "byChange", hash_key = "feed", range_key = "changedAt", projection_type = "ALL" }]
    error_message = "The byChange index must be hashed on feed, ranged on changedAt, projecting ALL."
  }
  assert {
    condition     = keys(output.index_arns) == ["byChange"] && output.index_arns["byChange"] == "arn:aws:dynamodb:us-east-1:123456789012:table/test/index/byChange"
    error_message = "index_arns must give each index's ARN by name."
  }
}

run "index_key_type_conflicts_with_table_key" {
  command = plan
  module {
    source = "./modules/dynamodb_table"
  }

  variables {
    global_secondary_indexes = { byPk = { hash_key = "pk", hash_key_type = "N" } }
  }

  expect_failures = [var.global_secondary_indexes]
}

run "idempotency_table_without_pitr" {
  command = plan
  module {
    source = "./modules/dynamodb_table"
  }

  variables {
    hash_key               = "id"
    ttl_attribute          = "expiration"
    point_in_time_recovery = false
    kms_key_arn            = "arn:aws:kms:us-east-1:123456789012:key/abcd"
  }

  assert {
    condition     = aws_dynamodb_table.this.range_key == null && aws_dynamodb_table.this.ttl[0].attribute_name == "expiration" && !aws_dynamodb_table.this.point_in_time_recovery[0].enabled
    error_message = "The idempotency table has only the id key, TTL on expiration, and PITR as configured."
  }
  assert {
    condition     = aws_dynamodb_table.this.server_side_encryption[0].kms_key_arn == var.kms_key_arn
    error_message = "A given key must encrypt the table."
  }
}
