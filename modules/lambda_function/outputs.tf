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

output "names" {
  description = "The names this module gives, by kind (function, role, log_group), known from the inputs alone: the root checks them against their services' limits at plan."
  value = {
    function  = var.function_name
    role      = local.role_name
    log_group = local.log_group_name
  }
}

output "reserved_concurrent_executions" {
  description = "The function's reserved concurrency (-1: unreserved)."
  value       = aws_lambda_function.this.reserved_concurrent_executions
}
