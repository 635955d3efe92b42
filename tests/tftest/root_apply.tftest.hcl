# Apply-mode runs of the root module against a mocked provider (kept apart
# from plan-mode files: mixing them breaks mocked computed values). After an
# apply every computed value is known, so the outputs' full shapes can be
# checked: a stack without the stream, then the same stack with it.

mock_provider "aws" {
  # The shared mocked values and per-resource overrides (tests/tftest/mocks),
  # applied as in a real apply (no override_during = plan).
  source = "./tests/tftest/mocks"
}

run "apply_without_stream" {
  assert {
    condition     = output.websocket_wss_endpoint == "wss://abc123def4.execute-api.us-east-1.amazonaws.com/prod" && output.websocket_management_url == "https://abc123def4.execute-api.us-east-1.amazonaws.com/prod"
    error_message = "Endpoints must be built from the API id, region and stage."
  }
  assert {
    condition     = alltrue([for k in ["connect", "disconnect", "broadcaster", "notifier"] : output.function_names[k] == "realtime-test-${k}"])
    error_message = "function_names must name every function."
  }
  assert {
    condition     = output.dead_letter_queue_urls == null && length(output.event_source_mapping_ids) == 0
    error_message = "Without a stream there are no queues and no mappings."
  }
  assert {
    condition     = alltrue([for v in [output.api_id, output.alerts_topic_arn, output.connections_table_name, output.idempotency_table_name, output.stage_name] : length(v) > 0])
    error_message = "Every scalar output must be set after apply."
  }
}

run "apply_with_stream" {
  variables {
    incidents_stream_arn = "arn:aws:dynamodb:us-east-1:123456789012:table/Incidents/stream/2024-05-01T10:00:00.000"
  }

  assert {
    condition     = length(output.event_source_mapping_ids) == 2 && alltrue([for id in values(output.event_source_mapping_ids) : length(id) > 0])
    error_message = "With a stream both mappings must exist and have ids."
  }
  assert {
    condition     = length(output.dead_letter_queue_urls) == 2 && output.dead_letter_queue_urls.broadcaster != output.dead_letter_queue_urls.notifier
    error_message = "With a stream each consumer must have its own dead-letter queue."
  }
  assert {
    condition     = output.api_id == run.apply_without_stream.api_id && output.function_names == run.apply_without_stream.function_names
    error_message = "Adding the stream must keep the API and the functions."
  }
}
