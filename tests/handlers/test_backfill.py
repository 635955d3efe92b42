"""tools.backfill against moto: the Incidents table scanned in segments into the state table,
never over a stream record, safe to run twice, throttling waited out, failures reported."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest

from realtime_common import state
from tools import tfoutputs
from tools.backfill import cli
from tools.backfill.run import Options, backfill
from tools.backfill.target import Target
from tools.backfill.write import Backoff

pytestmark = pytest.mark.handler

INCIDENTS = "Incidents"
STATE = "realtime-test-state"
SETTINGS = state.IncidentState(STATE, 86400, frozenset({"closed", "resolved"}))
TARGET = Target(INCIDENTS, SETTINGS)
NO_WAIT = Backoff(sleep=lambda seconds: None)


@pytest.fixture
def tables(aws_env: None, create_state_table: Callable[[str], Any]) -> tuple[Any, Any]:
    client = boto3.client("dynamodb")
    client.create_table(
        TableName=INCIDENTS,
        KeySchema=[{"AttributeName": "incidentId", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "incidentId", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    incidents = boto3.resource("dynamodb").Table(INCIDENTS)
    for n in range(25):
        incidents.put_item(
            Item={
                "incidentId": f"INC-{n:03d}",
                "title": f"incident {n}",
                "status": "resolved" if n == 0 else "open",
                "blob": b"\x00\x01",
            }
        )
    return incidents, create_state_table(STATE)


def stored(table: Any) -> dict[str, dict[str, Any]]:
    return {i["pk"]: i for i in table.scan(ConsistentRead=True)["Items"]}


def test_backfill_writes_every_incident_and_a_second_run_changes_nothing(
    tables: tuple[Any, Any],
) -> None:
    _, state_table = tables
    client = boto3.client("dynamodb")
    report = backfill(client, TARGET, Options(segments=3, writers=4, backoff=NO_WAIT))
    assert (report.scanned, report.written, report.skipped, report.failed) == (25, 25, 0, [])
    items = stored(state_table)
    assert len(items) == 25
    item = items["INC#INC-007"]
    assert (item["sequence"], item["eventName"], item["removed"]) == ("0", "BACKFILL", False)
    assert item["keys"] == {"incidentId": "INC-007"}
    assert item["image"]["title"] == "incident 7"
    assert item["image"]["blob"].value == b"\x00\x01"  # binary kept as bytes, not re-encoded
    assert item["eventId"] == "backfill-INC-007"
    assert "expiresAt" not in item and "expiresAt" in items["INC#INC-000"]  # resolved expires
    again = backfill(client, TARGET, Options(segments=2, backoff=NO_WAIT))
    assert (again.scanned, again.written, again.skipped, again.failed) == (25, 0, 25, [])
    assert stored(state_table) == items


def test_a_stream_record_always_wins(tables: tuple[Any, Any]) -> None:
    _, state_table = tables
    client = boto3.client("dynamodb")
    raw = {
        "eventID": "ev-9",
        "eventName": "MODIFY",
        "dynamodb": {
            "Keys": {"incidentId": {"S": "INC-003"}},
            "NewImage": {"incidentId": {"S": "INC-003"}, "title": {"S": "from the stream"}},
            "SequenceNumber": "900",
        },
    }
    from realtime_common.stream import parse_record  # noqa: PLC0415

    state.put_if_newer(client, STATE, state.build_item(raw, parse_record(raw), SETTINGS, 1))
    report = backfill(client, TARGET, Options(backoff=NO_WAIT))
    assert (report.written, report.skipped) == (24, 1)
    assert stored(state_table)["INC#INC-003"]["image"]["title"] == "from the stream"


def test_dry_run_writes_nothing(tables: tuple[Any, Any]) -> None:
    _, state_table = tables
    client = boto3.client("dynamodb")
    backfill(client, TARGET, Options(backoff=NO_WAIT))  # all there now
    state_table.delete_item(Key={"pk": "INC#INC-010", "sk": "STATE#"})
    report = backfill(client, TARGET, Options(dry_run=True, backoff=NO_WAIT))
    assert (report.written, report.skipped, report.failed) == (1, 24, [])
    assert report.counts()["would write"] == 1
    assert "INC#INC-010" not in stored(state_table)


def test_throttling_is_waited_out_and_what_never_lands_is_reported(
    tables: tuple[Any, Any],
) -> None:
    client = boto3.client("dynamodb")
    calls: dict[str, int] = {}
    waits: list[float] = []
    real_put = client.put_item

    def flaky_put(**kwargs: Any) -> Any:
        pk = kwargs["Item"]["pk"]["S"]
        calls[pk] = calls.get(pk, 0) + 1
        if pk == "INC#INC-001" and calls[pk] <= 2:  # throttled twice, then fine
            raise client.exceptions.ProvisionedThroughputExceededException(
                {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow"}},
                "PutItem",
            )
        if pk == "INC#INC-002":  # never lands
            raise client.exceptions.ClientError(
                {"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "PutItem"
            )
        return real_put(**kwargs)

    client.put_item = flaky_put  # type: ignore[method-assign]
    backoff = Backoff(sleep=waits.append, jitter=lambda: 1.0)
    report = backfill(client, TARGET, Options(writers=2, backoff=backoff))
    assert calls["INC#INC-001"] == 3 and waits == [0.05, 0.1]
    assert calls["INC#INC-002"] == 1  # not retryable: reported at once
    assert report.written == 24 and len(report.failed) == 1
    ((incident, error),) = report.failed
    assert incident == "INC-002" and "AccessDenied" in error
    assert not report.ok


def test_cli_finds_the_tables_in_terraform_outputs(tables: tuple[Any, Any], tmp_path: Path) -> None:
    outputs = tmp_path / "outputs.json"
    outputs.write_text(
        json.dumps(
            {
                "state_table_name": {"value": STATE},
                "incident_state": {
                    "value": {"retention_seconds": 86400, "closed_statuses": ["closed"]}
                },
                "incidents_stream_arn": {
                    "value": "arn:aws:dynamodb:us-east-1:123456789012:table/Incidents/stream/2026"
                },
            }
        )
    )
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(
        ["--outputs", str(outputs), "--segments", "2"],
        client=lambda: boto3.client("dynamodb"),
        io=tfoutputs.Io(out=out, err=err),
    )
    assert code == 0, err.getvalue()
    assert "scanned: 25" in out.getvalue() and "written: 25" in out.getvalue()
    assert "Incidents -> realtime-test-state" in err.getvalue()
    assert "100%" in err.getvalue()  # the progress bar's last line
    assert len(stored(tables[1])) == 25
    # A second run: everything skipped, still a success.
    out = io.StringIO()
    assert (
        cli.main(
            ["--outputs", str(outputs)],
            client=lambda: boto3.client("dynamodb"),
            io=tfoutputs.Io(out=out, err=io.StringIO()),
        )
        == 0
    )
    assert "skipped (state exists): 25" in out.getvalue()
