# Production account: make plan ENV=prod, review the plan, then make apply ENV=prod.
environment = "prod"
region      = "us-east-1"

# Identity comes only from the $connect authorizer this stack builds
# (functions/authorizer.py): tokens of the identity provider's user pool,
# verified against its JWKS. REPLACE the pool id and app client id before the
# first apply; until then the JWKS cannot be fetched and every connection is
# refused (an unreachable key set never allows). Cognito: clients send the ID
# token (its aud is the app client id) and the role travels in custom:role.
authorizer = {
  issuer     = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_REPLACEME"
  jwks_url   = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_REPLACEME/.well-known/jwks.json"
  audience   = ["replace-with-the-app-client-id"]
  role_claim = "custom:role"
}
# A team that runs its own REQUEST authorizer brings it instead:
# connect_authorizer = {
#   function_arn = "arn:aws:lambda:us-east-1:123456789012:function:ws-authorizer"
# }
# allow_query_identity = true and authorizer = { enabled = false } are refused
# here at plan: prod is not in non_production_environments.

log_retention_days     = 365
point_in_time_recovery = true
deletion_protection    = true

functions = {
  broadcaster = { memory_size = 1024, timeout = 60 }
  # Reserving caps a connect flood and keeps concurrency for the stream
  # consumers, but only once the account's quota allows it (Lambda keeps 100
  # unreserved; new accounts may have far less than 1,000). Sizing:
  # docs/deploying.md, "Concurrency". For example:
  #   connect    = { reserved_concurrency = 50 }
  #   disconnect = { reserved_concurrency = 50 }
}
# With any reservation, state the account's quota so the plan can check it:
# account_quotas = { lambda_concurrent_executions = 1000 }

# Access logs (one JSON line per connect, message and disconnect, never the
# query string, where tokens travel) are the audit trail of connections.
# They need the account-level API Gateway CloudWatch Logs role, and the plan
# refuses logging until manage_account_role says who provides it. A fresh
# account has none: this stack creates and sets it (true). That setting is one
# per account and Region, shared by every API there: where another stack or
# the account baseline already sets it (`aws apigateway get-account` shows a
# cloudwatchRoleArn), write false instead.
api_logging = {
  access_logs         = true
  manage_account_role = true
}

throttling = {
  burst_limit = 1000
  rate_limit  = 2000
}

# incidents_stream_arn = "arn:aws:dynamodb:us-east-1:123456789012:table/Incidents/stream/2024-01-01T00:00:00.000"

# SMS: a new account is in the SNS SMS sandbox, where only phone numbers
# verified in the SNS console (Text messaging > Sandbox destination phone
# numbers) receive anything; ask AWS Support to move the account out of the
# sandbox before relying on SMS. Sending to US numbers also needs an
# origination identity (a toll-free number or 10DLC registration) in the
# Region. docs/deploying.md, "First deploy on a fresh account".
# A lambda endpoint is the function's ARN in this account; the stack grants
# SNS the permission to invoke it.
alert_subscriptions = [
  # { protocol = "email", endpoint = "duty-officer@example.com" },
  # { protocol = "sms", endpoint = "+15555550100", filter_policy = "{\"urgency\":[\"critical\"]}" },
  # { protocol = "lambda", endpoint = "arn:aws:lambda:us-east-1:123456789012:function:page-on-call" },
]

# Area-scoped access: a token without the areas claim sees nothing (the
# default, ["*"], lets it see every area, for compatibility). Cognito user
# pools carry it as a custom attribute: areas_claim = "custom:areas".
subscriptions = {
  default_areas = []
}
