# Fan-out beyond one invocation: the worker function the Broadcaster invokes,
# once per DynamoDB parallel-Scan segment, when more than
# fanout.worker_threshold connections are open (functions/README.md,
# "Broadcaster delivery semantics"). It is one more instance of
# module.function (main.tf), sized by functions.fanout-worker like every
# other function; it ships in the Broadcaster's zip and has its own role:
# Scan and DeleteItem on Connections, ManageConnections on the stage. The
# Broadcaster may invoke exactly this function and nothing else, and read the
# table's size (DescribeTable) to pick the segment count.

locals {
  # Merged into local.functions (main.tf): keys known at plan time.
  fanout_worker_functions = {
    fanout-worker = {
      description = "Broadcaster fan-out: one parallel-Scan segment of connections"
      handler     = "fanout_worker.handler"
      package     = "broadcaster"
    }
  }

  # The Broadcaster names the worker before module.function exists (both
  # are instances of it), so the name comes from the same rule as
  # module.function's function_name.
  fanout_worker_name = local.function_name["fanout-worker"]

  # What the Broadcaster and its workers both read (main.tf merges it).
  fanout_delivery_environment = {
    CONNECTIONS_TABLE  = local.tables.connections.name
    WS_CALLBACK_URL    = local.management_url
    FANOUT_CONCURRENCY = tostring(var.fanout.concurrency)
  }

  # The Broadcaster's alone: how it posts and when it hands segments to workers.
  fanout_broadcaster_environment = {
    POST_MAX_ATTEMPTS = tostring(var.fanout.post_max_attempts)
    # Its share of the stack's fanout.rate (limits.tf).
    FANOUT_RATE             = tostring(local.fanout_rate_per_invocation)
    FANOUT_WORKER_FUNCTION  = local.fanout_worker_name
    FANOUT_WORKER_THRESHOLD = tostring(var.fanout.worker_threshold)
    FANOUT_MAX_WORKERS      = tostring(var.fanout.max_workers)
  }

  # What delivering to connections needs, for the Broadcaster and its workers alike.
  fanout_delivery_statements = [
    {
      # Scan reads the connections (every page, or one parallel-Scan segment);
      # DeleteItem drops a row whose connection answered 410 Gone.
      sid       = "ReadAndPruneConnections"
      actions   = ["dynamodb:DeleteItem", "dynamodb:Scan"]
      resources = [local.tables.connections.arn]
    },
    local.post_to_connections_statement,
  ]
}

# The worker had a module call of its own before it joined module.function:
# move its role, policy, log group and function rather than replace them.
moved {
  from = module.fanout_worker
  to   = module.function["fanout-worker"]
}

# ---------------------------------------------------------------------------
# Broadcaster permissions for the worker path
# ---------------------------------------------------------------------------
# A separate inline policy on the Broadcaster's role: module.function's
# policies cannot name one of its own instances' ARNs (a cycle), and the
# worker does not depend on the Broadcaster.
resource "aws_iam_role_policy" "broadcaster_fanout_workers" {
  name = "fanout-workers"
  role = module.function["broadcaster"].role_name
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        # Synchronous invocations of the worker, and of nothing else.
        # https://docs.aws.amazon.com/lambda/latest/dg/lambda-api-permissions-ref.html
        Sid      = "InvokeFanoutWorker"
        Effect   = "Allow"
        Action   = ["lambda:InvokeFunction"]
        Resource = [module.function["fanout-worker"].arn]
      },
      {
        # ItemCount sizes the number of segments.
        Sid      = "SizeConnections"
        Effect   = "Allow"
        Action   = ["dynamodb:DescribeTable"]
        Resource = [local.tables.connections.arn]
      },
    ]
  })
}
