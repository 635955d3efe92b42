# An on-demand DynamoDB table with TTL, server-side encryption and
# point-in-time recovery. Used for the Connections table and the Notifier's
# idempotency table.

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
  key_attributes = merge(
    { (var.hash_key) = "S" },
    var.range_key == null ? {} : { (var.range_key) = "S" },
  )
}
