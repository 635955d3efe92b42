output "name" {
  description = "Table name."
  value       = aws_dynamodb_table.this.name
}

output "arn" {
  description = "Table ARN."
  value       = aws_dynamodb_table.this.arn
}

output "index_arns" {
  description = "ARNs of the global secondary indexes by name (<table ARN>/index/<name>), for policies that query them."
  value       = { for name, _ in var.global_secondary_indexes : name => "${aws_dynamodb_table.this.arn}/index/${name}" }
}
