# The state table (issue 16): its keys, index and TTL, encryption, PITR and
# deletion protection like the other tables, the Broadcaster's one permission
# on it and its environment, REMOVE records reaching the Broadcaster only (the
# incident_state variable's validations: root_validation.tftest.hcl).
# Run: terraform test -test-directory=tests/tftest -filter=tests/tftest/state_table.tftest.hcl

mock_provider "aws" {
  # Mocked values and per-resource overrides (the tables' ARNs): tests/tftest/mocks.
  source          = "./tests/tftest/mocks"
  override_during = plan
}

variables {
  incidents_stream_arn = "arn:aws:dynamodb:us-east-1:123456789012:table/Incidents/stream/2024-05-01T10:00:00.000"
}

run "defaults" {
  command = plan

  assert {
    condition     = output.state_table_name == "realtime-test-state"
    error_message = "state_table_name must be <project>-<environment>-state."
  }
  assert {
    condition     = local.tables.state.index_arns == { byChange = "arn:aws:dynamodb:us-east-1:123456789012:table/realtime-test-state/index/byChange" }
    error_message = "The state table must have exactly the byChange index."
  }
  assert {
    condition = [for s in jsondecode(module.function["broadcaster"].policy).Statement : { a = s.Action, r = s.Resource } if s.Sid == "WriteIncidentState"] == [
      { a = ["dynamodb:PutItem"], r = ["arn:aws:dynamodb:us-east-1:123456789012:table/realtime-test-state"] },
    ]
    error_message = "The Broadcaster may only PutItem on exactly the state table (no reads, no index)."
  }
  assert {
    condition = alltrue([for k, m in module.function : k == "broadcaster" || !anytrue([
      for s in jsondecode(m.policy).Statement : contains(s.Resource, "arn:aws:dynamodb:us-east-1:123456789012:table/realtime-test-state")
    ])])
    error_message = "No function but the Broadcaster may act on the state table itself (the sync function may only Query its byChange index)."
  }
  assert {
    condition = (
      module.function["broadcaster"].environment_variables["STATE_TABLE"] == "realtime-test-state" &&
      module.function["broadcaster"].environment_variables["STATE_RETENTION_SECONDS"] == "86400" &&
      jsondecode(module.function["broadcaster"].environment_variables["CLOSED_STATUSES"]) == ["closed", "resolved"]
    )
    error_message = "The Broadcaster needs STATE_TABLE, STATE_RETENTION_SECONDS=86400 and CLOSED_STATUSES=[\"closed\",\"resolved\"] by default."
  }
  assert {
    condition     = output.incident_state.retention_seconds == 86400 && output.incident_state.closed_statuses == tolist(["closed", "resolved"]) && output.incidents_stream_arn == var.incidents_stream_arn
    error_message = "make backfill reads incident_state (with its defaults) and incidents_stream_arn from the outputs."
  }
  assert {
    condition     = module.stream_consumer["broadcaster"].event_names == ["INSERT", "MODIFY", "REMOVE"] && module.stream_consumer["notifier"].event_names == ["INSERT", "MODIFY"]
    error_message = "REMOVE records must reach the Broadcaster (tombstones) and only it; the Notifier keeps INSERT and MODIFY."
  }
}

run "incident_state_settings" {
  command = plan

  variables {
    incident_state = { retention_seconds = 172800, closed_statuses = [] }
  }

  assert {
    condition = (
      local.tables.state.name == "realtime-test-state" &&
      module.function["broadcaster"].environment_variables["STATE_RETENTION_SECONDS"] == "172800" &&
      module.function["broadcaster"].environment_variables["CLOSED_STATUSES"] == "[]"
    )
    error_message = "incident_state must reach the Broadcaster's environment ([] keeps closed incidents)."
  }
}
