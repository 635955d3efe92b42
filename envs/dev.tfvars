# Development account: make plan ENV=dev, review the plan, then make apply ENV=dev.
environment = "dev"
region      = "us-east-1"

# Dev has no authorizer yet: query-string userId/role stand in for one.
# Anyone who knows the URL can connect with any allowed role; never in prod.
allow_query_identity = true

log_retention_days     = 14
point_in_time_recovery = false

# Set once the Incidents team has enabled the stream (NEW_AND_OLD_IMAGES):
# incidents_stream_arn = "arn:aws:dynamodb:us-east-1:123456789012:table/Incidents/stream/2024-01-01T00:00:00.000"

alert_subscriptions = [
  # { protocol = "email", endpoint = "oncall-dev@example.com" },
]
