# An on-demand DynamoDB table with TTL, server-side encryption,
# point-in-time recovery and optional global secondary indexes. Used for the
# Connections table, the Notifier's idempotency table and the state table.

resource "aws_dynamodb_table" "this" {
  name                        = var.name
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = var.hash_key
  range_key                   = var.range_key
  deletion_protection_enabled = var.deletion_protection
  tags                        = var.tags

  dynamic "attribute" {
    for_each = local.key_attributes
    content {
      name = attribute.key
      type = attribute.value
    }
  }

  # On-demand indexes take no capacity settings.
  dynamic "global_secondary_index" {
    for_each = var.global_secondary_indexes
    content {
      name            = global_secondary_index.key
      hash_key        = global_secondary_index.value.hash_key
      range_key       = global_secondary_index.value.range_key
      projection_type = global_secondary_index.value.projection_type
    }
  }

  # Expired items are deleted by DynamoDB within days, not instantly: readers
  # must still ignore rows whose TTL is in the past.
  # https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/howitworks-ttl.html
  ttl {
    attribute_name = var.ttl_attribute
    enabled        = true
  }

  # enabled = true with no key uses the AWS managed key aws/dynamodb; a key ARN
  # switches to that customer managed key.
  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }

  point_in_time_recovery {
    enabled = var.point_in_time_recovery
  }
}

locals {
  # Every attribute a key of the table or of an index uses, with its type
  # (DynamoDB wants exactly these declared, no others).
  key_attributes = merge(
    merge([for index in var.global_secondary_indexes : merge(
      { (index.hash_key) = index.hash_key_type },
      index.range_key == null ? {} : { (index.range_key) = index.range_key_type },
    )]...),
    { (var.hash_key) = "S" },
    var.range_key == null ? {} : { (var.range_key) = "S" },
  )
}
