# The local emulator (make up). The local-stack tooling adds, with -var:
#   incidents_stream_arn          the demo Incidents table's stream
#   lambda_layer_arns             a boto3 layer (the emulator's Python has none)
#   management_endpoint_override  when the emulator is not on port 4566
#   alert_subscriptions           the local alerts queue
environment = "local"
region      = "us-east-1"

allow_query_identity = true
log_retention_days   = 1

# The emulator serves the management API under its own path, not on
# https://{api_id}.execute-api.{region}.amazonaws.com/{stage}.
management_endpoint_override = "http://127.0.0.1:4566/_aws/execute-api/{api_id}/{stage}"

# Keep stream records flowing one at a time so a demo shows each change.
stream_consumer = {
  batch_size = 10
}
