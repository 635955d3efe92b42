# The local emulator (make up). The local-stack tooling adds, with -var:
#   incidents_stream_arn          the demo Incidents table's stream
#   lambda_layer_arns             a boto3 layer (the emulator's Python has none)
#   management_endpoint_override  "http://127.0.0.1:<port>/_aws/execute-api/{api_id}/{stage}"
#   alert_subscriptions           the local alerts queue
# Emulator endpoints stay out of this file: the provider reaches the emulator
# through AWS_ENDPOINT_URL.
environment = "local"
region      = "us-east-1"

# The stack's own $connect authorizer, as everywhere, keyed by an HS256 secret
# in this SSM SecureString: `make up` generates the secret and stores it there
# (the value never passes through Terraform), `make token` signs tokens with
# it; the tooling reads issuer, audience and the parameter's name back from
# the deployed function. No query-string identity: clients send ?token=.
authorizer = {
  issuer                = "realtime-local"
  audience              = ["realtime-local-clients"]
  secret_parameter_name = "/realtime/local/connect-authorizer/hs256-secret"
}
allow_query_identity = false

log_retention_days     = 1
point_in_time_recovery = false

# Every emulator table has one stream shard: the one Broadcaster invocation
# gets the whole fanout.rate.
incidents_stream_shards = 1

stream_consumer = {
  batch_size = 10
  # The emulator retries a failing batch until it is this old, then sends it
  # to the on-failure queue: keep it at the minimum so a demo or test sees the
  # dead-letter message within about a minute.
  maximum_record_age_in_seconds = 60
}

# The emulator stores alarms but reads them back without their dimensions,
# actions or period, so every plan would want to update them all. The alarms
# are covered by terraform test (tests/tftest/monitoring.tftest.hcl); the local
# stack keeps the operators' topic and the dashboard.
monitoring = {
  alarms = false
}
