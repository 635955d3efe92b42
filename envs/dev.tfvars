# Development account: make plan ENV=dev, review the plan, then make apply ENV=dev.
environment = "dev"
region      = "us-east-1"

# Dev runs without the $connect authorizer for now: query-string userId/role
# stand in. Anyone who knows the URL can connect with any allowed role; both
# settings are refused at plan for any environment outside
# non_production_environments (local, dev).
authorizer           = { enabled = false }
allow_query_identity = true
# To turn it on with an HS256 secret (at least 32 bytes) kept in SSM, put the
# secret there once, out of band, then replace the two lines above with:
#   aws ssm put-parameter --type SecureString \
#     --name /realtime/dev/connect-authorizer/hs256-secret --value "$(openssl rand -base64 48)"
# authorizer = {
#   issuer                = "realtime-dev"
#   audience              = ["realtime-dev-clients"]
#   secret_parameter_name = "/realtime/dev/connect-authorizer/hs256-secret"
# }

log_retention_days     = 14
point_in_time_recovery = false

# Set once the Incidents team has enabled the stream (NEW_AND_OLD_IMAGES):
# incidents_stream_arn = "arn:aws:dynamodb:us-east-1:123456789012:table/Incidents/stream/2024-01-01T00:00:00.000"

alert_subscriptions = [
  # { protocol = "email", endpoint = "oncall-dev@example.com" },
]
