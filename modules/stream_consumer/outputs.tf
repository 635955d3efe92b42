output "mapping_id" {
  description = "UUID of the event source mapping."
  value       = aws_lambda_event_source_mapping.this.uuid
}

output "dead_letter_queue_url" {
  description = "URL of the on-failure destination queue."
  value       = aws_sqs_queue.dead_letter.url
}

output "dead_letter_queue_arn" {
  description = "ARN of the on-failure destination queue."
  value       = aws_sqs_queue.dead_letter.arn
}

output "policy" {
  description = "The role policy the mapping needs (JSON)."
  value       = aws_iam_role_policy.this.policy
}

output "names" {
  description = "The names this module gives, known from the inputs alone: dead_letter_queue. The root checks them against their services' limits at plan."
  value       = { dead_letter_queue = local.dead_letter_queue_name }
}

output "event_names" {
  description = "The eventName values the mapping's filter lets through."
  value       = jsondecode(one(aws_lambda_event_source_mapping.this.filter_criteria[0].filter).pattern).eventName
}
