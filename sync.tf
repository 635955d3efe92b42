# The sync route's settings and permissions (the function itself is an entry
# of local.functions, its route one of module.websocket_api's lambda_routes).
# Contract: functions/README.md, "Sync"; how its posts add up with the
# fan-out's: docs/operations.md, "API Gateway request budget".

locals {
  # var.sync.post_rate is the function's total: every execution environment
  # paces its own posts (a token bucket kept across invocations), so each gets
  # an even share of the concurrency that can run at once. A reservation makes
  # that a hard bound; unreserved, it holds while at most expected_concurrency
  # syncs run at once.
  sync_concurrency               = coalesce(var.functions.sync.reserved_concurrency, -1) > 0 ? var.functions.sync.reserved_concurrency : var.sync.expected_concurrency
  sync_post_rate_per_environment = max(1, floor(var.sync.post_rate / local.sync_concurrency))

  sync_policy_statements = [
    {
      # GetItem re-reads the connection's own row (its role; a row that is
      # gone gets nothing); UpdateItem is the conditional write of
      # lastFullSyncAt that checks the row and throttles full syncs in one call.
      sid       = "CheckOwnConnection"
      actions   = ["dynamodb:GetItem", "dynamodb:UpdateItem"]
      resources = [local.tables.connections.arn]
    },
    {
      # One Query per sync: the changes since the cache's last refresh. The
      # index holds every attribute (projection ALL): no read of the table.
      sid       = "ReadIncidentChanges"
      actions   = ["dynamodb:Query"]
      resources = [local.tables.state.index_arns["byChange"]]
    },
    local.post_to_connections_statement,
  ]

  # A stage-level throttle of its own: a flood of syncs is refused by API
  # Gateway (429) before it reaches Lambda.
  route_throttling = {
    sync = {
      burst_limit = var.sync.route_burst_limit
      rate_limit  = var.sync.route_rate_limit
    }
  }
}
