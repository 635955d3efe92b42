# Fan-out beyond one invocation: the worker function the Broadcaster invokes,
# once per DynamoDB parallel-Scan segment, when more than
# fanout_workers.threshold connections are open (functions/README.md,
# "Broadcaster delivery semantics"). It ships in the Broadcaster's zip and
# has its own role: Scan and DeleteItem on Connections, ManageConnections on
# the stage. The Broadcaster may invoke exactly this function and nothing
# else, and read the table's size (DescribeTable) to pick the segment count.

locals {
  fanout_worker_name = "${local.name}-fanout-worker"

  # Merged into the Broadcaster's environment (main.tf).
  fanout_broadcaster_environment = {
    FANOUT_RATE             = tostring(var.fanout_rate)
    FANOUT_WORKER_FUNCTION  = local.fanout_worker_name
    FANOUT_WORKER_THRESHOLD = tostring(var.fanout_workers.threshold)
    FANOUT_MAX_WORKERS      = tostring(var.fanout_workers.max_workers)
  }
}

# ---------------------------------------------------------------------------
# Worker function
# ---------------------------------------------------------------------------
module "fanout_worker" {
  source = "./modules/lambda_function"

  function_name                  = local.fanout_worker_name
  description                    = "Broadcaster fan-out: one parallel-Scan segment of connections"
  handler                        = "fanout_worker.handler"
  filename                       = local.packages["broadcaster"]
  source_code_hash               = filebase64sha256(local.packages["broadcaster"])
  runtime                        = var.lambda_runtime
  architecture                   = var.lambda_architecture
  layers                         = var.lambda_layer_arns
  memory_size                    = var.fanout_workers.memory_size
  timeout                        = var.fanout_workers.timeout
  reserved_concurrent_executions = var.fanout_workers.reserved_concurrency
  log_retention_days             = var.log_retention_days
  environment_variables = merge(local.common_environment, {
    CONNECTIONS_TABLE  = module.connections_table.name
    WS_CALLBACK_URL    = local.management_url
    FANOUT_CONCURRENCY = tostring(var.fanout_concurrency)
  })
  policy_statements = concat(local.fanout_delivery_statements, var.kms_key_arn == null ? [] : [local.table_key_statement])
}

# ---------------------------------------------------------------------------
# Broadcaster permissions for the worker path
# ---------------------------------------------------------------------------
# A separate inline policy on the Broadcaster's role: the worker's ARN is not
# known inside module.function, and the worker does not depend on the
# Broadcaster, so there is no cycle.
resource "aws_iam_role_policy" "broadcaster_fanout_workers" {
  name = "fanout-workers"
  role = module.function["broadcaster"].role_name
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        # Synchronous invocations of the worker, and of nothing else.
        # https://docs.aws.amazon.com/lambda/latest/dg/lambda-api-permissions-ref.html
        Sid    = "InvokeFanoutWorker"
        Effect = "Allow"
        Action = ["lambda:InvokeFunction"]
        Resource = [format(
          "arn:%s:lambda:%s:%s:function:%s",
          data.aws_partition.current.partition,
          var.region,
          data.aws_caller_identity.current.account_id,
          module.fanout_worker.function_name,
        )]
      },
      {
        # ItemCount sizes the number of segments.
        Sid      = "SizeConnections"
        Effect   = "Allow"
        Action   = ["dynamodb:DescribeTable"]
        Resource = [module.connections_table.arn]
      },
    ]
  })
}

output "fanout_worker_function_name" {
  description = "Name of the fan-out worker function the Broadcaster invokes for large audiences."
  value       = module.fanout_worker.function_name
}
