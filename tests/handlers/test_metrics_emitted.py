"""The EMF documents the notifier and $connect print: the metric names, namespace and dimensions
the alarms and the dashboard (monitoring.tf) are built on."""

from __future__ import annotations

import copy
from typing import Any

import pytest

import connection_manager
import notifier
from testing import emf
from testing.events import load_event

pytestmark = pytest.mark.handler


def only_document(capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    (document,) = emf.documents(capsys.readouterr().out)
    return document


def test_notifier_counts_published_alerts_with_the_contract_dimensions(
    alerts: Any, context: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    notifier.handler(load_event("stream-insert.json"), context)
    document = only_document(capsys)
    assert emf.namespace(document) == "realtime-test"
    assert emf.dimensions(document) == {"environment": "test", "function": "notifier"}
    assert emf.metrics(document) == {"AlertsPublished": 1.0, "RecordsFailed": 0.0}
    assert emf.units(document) == {"AlertsPublished": "Count", "RecordsFailed": "Count"}


def test_a_replayed_record_counts_as_a_suppressed_duplicate_not_an_alert(
    alerts: Any, context: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    event = load_event("stream-insert.json")
    notifier.handler(event, context)
    capsys.readouterr()
    notifier.handler(copy.deepcopy(event), context)
    document = only_document(capsys)
    assert emf.metrics(document) == {"DuplicateAlertsSuppressed": 1.0, "RecordsFailed": 0.0}
    assert len(alerts.read()) == 1


def test_notifier_counts_failed_records(
    alerts: Any, context: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    response = notifier.handler(load_event("stream-malformed.json"), context)
    document = only_document(capsys)
    assert emf.metrics(document)["RecordsFailed"] == len(response["batchItemFailures"]) == 2
    assert emf.metrics(document)["AlertsPublished"] == 1.0


def test_records_that_need_no_alert_still_report_zero_failures(
    alerts: Any, context: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    notifier.handler(load_event("stream-remove.json"), context)
    assert emf.metrics(only_document(capsys)) == {"RecordsFailed": 0.0}


@pytest.mark.parametrize(
    ("fixture", "reason"),
    [
        ("connect-no-identity.json", "no_identity"),
        ("connect-unknown-role.json", "role_not_allowed"),
    ],
)
def test_refused_connections_are_counted_in_total_and_by_reason(
    connections_table: Any,
    context: Any,
    capsys: pytest.CaptureFixture[str],
    fixture: str,
    reason: str,
) -> None:
    connection_manager.on_connect(load_event(fixture), context)
    by_reason, total = emf.documents(capsys.readouterr().out)
    assert emf.dimensions(total) == {"environment": "test", "function": "connect"}
    assert emf.metrics(total) == {"ConnectionsRefused": 1.0}
    assert emf.dimensions(by_reason) == {
        "environment": "test",
        "function": "connect",
        "reason": reason,
    }
    assert emf.metrics(by_reason) == {"ConnectionsRefused": 1.0}
    assert emf.namespace(by_reason) == emf.namespace(total) == "realtime-test"


def test_an_accepted_connection_emits_nothing(
    connections_table: Any, context: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    assert connection_manager.on_connect(load_event("connect.json"), context)["statusCode"] == 200
    assert emf.documents(capsys.readouterr().out) == []


def test_connect_event_without_connection_id_counts_as_bad_request(
    connections_table: Any, context: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    event = load_event("connect.json")
    del event["requestContext"]["connectionId"]
    connection_manager.on_connect(event, context)
    by_reason, _ = emf.documents(capsys.readouterr().out)
    assert emf.dimensions(by_reason)["reason"] == "bad_request"
