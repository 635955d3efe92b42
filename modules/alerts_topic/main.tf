# A standard (not FIFO) SNS topic for alerts, encrypted at rest, with
# subscriptions taken from a list. FIFO topics deliver only to SQS, so people
# (email, SMS, HTTPS) need a standard topic; duplicates are suppressed by the
# publisher. https://docs.aws.amazon.com/sns/latest/dg/fifo-message-delivery.html

locals {
  # Stable keys: a subscription is identified by where it delivers.
  subscriptions = { for s in var.subscriptions : "${s.protocol}:${s.endpoint}" => s }
}

resource "aws_sns_topic" "this" {
  name         = var.name
  display_name = var.display_name
  # alias/aws/sns is the AWS managed key; its key policy lets SNS use it for
  # any principal of the account allowed to publish, so publishers need no
  # kms permissions. A customer managed key needs kms:GenerateDataKey* and
  # kms:Decrypt for publishers.
  # https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html
  kms_master_key_id = coalesce(var.kms_key_id, "alias/aws/sns")
  tags              = var.tags
}

# Email and SMS endpoints must confirm the subscription before they receive
# anything; an SQS endpoint's queue policy must allow sns.amazonaws.com to
# sns:SendMessage from this topic (the queue owner grants it).
resource "aws_sns_topic_subscription" "this" {
  for_each = local.subscriptions

  topic_arn     = aws_sns_topic.this.arn
  protocol      = each.value.protocol
  endpoint      = each.value.endpoint
  filter_policy = each.value.filter_policy

  # SNS delivers to a function only once the function lets it: a
  # subscription without the permission exists but every delivery fails.
  depends_on = [aws_lambda_permission.subscription]
}

# A lambda subscription needs the function's resource policy to allow
# sns.amazonaws.com to invoke it from this topic (and from nothing else).
# https://docs.aws.amazon.com/sns/latest/dg/sns-lambda-as-subscriber.html
resource "aws_lambda_permission" "subscription" {
  for_each = { for k, s in local.subscriptions : k => s if s.protocol == "lambda" }

  statement_id  = "AllowInvokeFromSnsTopic-${var.name}"
  action        = "lambda:InvokeFunction"
  function_name = each.value.endpoint
  principal     = "sns.amazonaws.com"
  source_arn    = aws_sns_topic.this.arn
}
