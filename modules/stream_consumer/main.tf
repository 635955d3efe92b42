# A DynamoDB stream -> Lambda event source mapping that cannot block its
# shard: filtered on eventName, partial batch responses, bisect on error,
# finite retries and record age, and an encrypted SQS on-failure destination.
# The function's role gets exactly what the mapping needs: read the one
# stream, send to its own dead-letter queue.
# https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html

# ---------------------------------------------------------------------------
# Dead-letter (on-failure) queue
# ---------------------------------------------------------------------------
# For stream sources the on-failure message holds the batch's metadata (shard,
# first and last sequence numbers, stream ARN, error), not the records: read
# them back from the stream before its 24 h retention ends.
# https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html
resource "aws_sqs_queue" "dead_letter" {
  name                      = local.dead_letter_queue_name
  message_retention_seconds = 1209600 # 14 days, the SQS maximum
  # SSE-SQS (an SQS-owned key) unless a KMS key is given.
  sqs_managed_sse_enabled = var.kms_key_arn == null ? true : null
  kms_master_key_id       = var.kms_key_arn
  tags                    = var.tags
}

# ---------------------------------------------------------------------------
# Permissions of the consuming function
# ---------------------------------------------------------------------------
data "aws_region" "current" {}

data "aws_partition" "current" {}

resource "aws_iam_role_policy" "this" {
  name   = "${var.name}-stream-consumer"
  role   = var.function_role_name
  policy = jsonencode(local.policy)
}

locals {
  dead_letter_queue_name = "${var.name}-dlq"

  policy = {
    Version = "2012-10-17"
    Statement = concat(
      [
        # The poller reads the stream with the function's role.
        # https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html#events-dynamodb-permissions
        {
          Sid      = "ReadIncidentsStream"
          Effect   = "Allow"
          Action   = ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"]
          Resource = [var.stream_arn]
        },
        {
          Sid      = "SendToOwnDeadLetterQueue"
          Effect   = "Allow"
          Action   = ["sqs:SendMessage"]
          Resource = [aws_sqs_queue.dead_letter.arn]
        },
      ],
      # Sending to a queue encrypted with a customer managed key needs the key,
      # and only through SQS.
      # https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-key-management.html
      var.kms_key_arn == null ? [] : [{
        Sid       = "EncryptForDeadLetterQueue"
        Effect    = "Allow"
        Action    = ["kms:Decrypt", "kms:GenerateDataKey"]
        Resource  = [var.kms_key_arn]
        Condition = { StringEquals = { "kms:ViaService" = ["sqs.${local.region_suffix}"] } }
      }],
      # Records of a table encrypted with a customer managed key come out of
      # its stream decrypted by DynamoDB with that key: the reader needs
      # kms:Decrypt on it, through DynamoDB only.
      # https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/encryption.usagenotes.html
      var.stream_kms_key_arn == null ? [] : [{
        Sid       = "DecryptIncidentsStream"
        Effect    = "Allow"
        Action    = ["kms:Decrypt"]
        Resource  = [var.stream_kms_key_arn]
        Condition = { StringEquals = { "kms:ViaService" = ["dynamodb.${local.region_suffix}"] } }
      }],
    )
  }

  # kms:ViaService names a service endpoint: "<service>.<region>.<dns suffix>".
  # https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-via-service
  region_suffix = "${data.aws_region.current.name}.${data.aws_partition.current.dns_suffix}"
}

# ---------------------------------------------------------------------------
# Event source mapping
# ---------------------------------------------------------------------------
resource "aws_lambda_event_source_mapping" "this" {
  function_name     = var.function_name
  event_source_arn  = var.stream_arn
  starting_position = var.starting_position

  batch_size                         = var.batch_size
  maximum_batching_window_in_seconds = var.maximum_batching_window_in_seconds
  parallelization_factor             = var.parallelization_factor

  # The handler returns batchItemFailures; Lambda checkpoints at the lowest
  # failed sequence number and retries only from there.
  # https://docs.aws.amazon.com/lambda/latest/dg/services-ddb-batchfailurereporting.html
  function_response_types        = ["ReportBatchItemFailures"]
  bisect_batch_on_function_error = true
  maximum_retry_attempts         = var.maximum_retry_attempts
  maximum_record_age_in_seconds  = var.maximum_record_age_in_seconds

  # Only the listed event names reach the function: filtered-out records
  # (REMOVE and TTL deletions by default) are dropped before invocation and
  # are not billed.
  # https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventfiltering.html
  filter_criteria {
    filter {
      pattern = jsonencode({ eventName = var.event_names })
    }
  }

  destination_config {
    on_failure {
      destination_arn = aws_sqs_queue.dead_letter.arn
    }
  }

  # CreateEventSourceMapping checks that the role can already read the stream
  # and send to the destination.
  depends_on = [aws_iam_role_policy.this]
}
