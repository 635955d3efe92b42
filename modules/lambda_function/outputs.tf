output "function_name" {
  description = "Name of the function."
  value       = aws_lambda_function.this.function_name
}

output "arn" {
  description = "ARN of the function (unqualified: every version), for IAM policies that let others invoke it."
  value       = aws_lambda_function.this.arn
}

output "invoke_arn" {
  description = "ARN API Gateway uses to invoke the function."
  value       = aws_lambda_function.this.invoke_arn
}

output "role_name" {
  description = "Name of the function's execution role (attach further policies to it, e.g. stream_consumer)."
  value       = aws_iam_role.this.name
}

output "policy" {
  description = "The execution role's inline policy document (JSON)."
  value       = aws_iam_role_policy.this.policy
}

output "log_group_arn" {
  description = "ARN of the function's log group."
  value       = aws_cloudwatch_log_group.this.arn
}

output "environment_variables" {
  description = "Environment variables the function runs with."
  value       = aws_lambda_function.this.environment[0].variables
}
