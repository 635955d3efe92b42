output "arn" {
  description = "Topic ARN."
  value       = aws_sns_topic.this.arn
}

output "name" {
  description = "Topic name."
  value       = aws_sns_topic.this.name
}

output "kms_key_id" {
  description = "The KMS key the topic is encrypted with (an ARN, or alias/aws/sns)."
  value       = aws_sns_topic.this.kms_master_key_id
}

output "subscription_arns" {
  description = "Subscription ARNs keyed by \"<protocol>:<endpoint>\" (\"pending confirmation\" until the endpoint confirms)."
  value       = { for k, s in aws_sns_topic_subscription.this : k => s.arn }
}

output "lambda_permission_statement_ids" {
  description = "Statement ids of the permissions letting SNS invoke the lambda subscriptions' functions, keyed like subscription_arns."
  value       = { for k, p in aws_lambda_permission.subscription : k => p.statement_id }
}
