"""Notifier pure logic: alert rules, subject line, alert body and attributes."""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any

import pytest

from notifier import (
    CREATED_URGENT,
    MAX_MESSAGE_BYTES,
    MAX_SUBJECT_CHARS,
    STATUS_ESCALATED,
    URGENCY_RAISED,
    NotifierConfig,
    alert_reasons,
    build_alert,
    subject_line,
)
from realtime_common.stream import MalformedRecordError, StreamRecord

pytestmark = pytest.mark.unit

CFG = NotifierConfig(
    topic_arn="arn:aws:sns:us-east-1:123456789012:alerts",
    idempotency_table="idem",
    alert_urgencies=frozenset({"high", "critical"}),
    escalation_statuses=frozenset({"escalated"}),
    idempotency_ttl_seconds=172800,
)


def rec(
    event_name: str,
    new: dict[str, Any] | None = None,
    old: dict[str, Any] | None = None,
) -> StreamRecord:
    return StreamRecord(
        event_id="ev-9",
        event_name=event_name,
        sequence="100000000000000000009",
        keys={"pk": "INCIDENT#9"},
        new_image=new,
        old_image=old,
    )


@pytest.mark.parametrize(
    ("event_name", "new", "old", "reasons"),
    [
        ("INSERT", {"urgency": "high"}, None, [CREATED_URGENT]),
        ("INSERT", {"urgency": "critical"}, None, [CREATED_URGENT]),
        ("INSERT", {"urgency": " HIGH "}, None, [CREATED_URGENT]),  # normalised
        ("INSERT", {"urgency": "medium"}, None, []),
        ("INSERT", {"urgency": "low", "status": "escalated"}, None, []),  # rule is urgency only
        ("INSERT", {"title": "no urgency"}, None, []),
        ("INSERT", {"urgency": "extreme"}, None, []),  # unknown value never alerts
        ("INSERT", {"urgency": 5}, None, []),
        ("MODIFY", {"urgency": "critical"}, {"urgency": "medium"}, [URGENCY_RAISED]),
        ("MODIFY", {"urgency": "high"}, {"urgency": "low"}, [URGENCY_RAISED]),
        ("MODIFY", {"urgency": "high"}, {}, [URGENCY_RAISED]),  # from nothing counts as rising
        ("MODIFY", {"urgency": "high"}, {"urgency": "bogus"}, [URGENCY_RAISED]),
        ("MODIFY", {"urgency": "critical"}, {"urgency": "high"}, []),  # already in the set
        ("MODIFY", {"urgency": "high"}, {"urgency": "high"}, []),
        ("MODIFY", {"urgency": "medium"}, {"urgency": "high"}, []),  # falling
        ("MODIFY", {"urgency": "medium"}, {"urgency": "low"}, []),  # rising, not into the set
        ("MODIFY", {"status": "escalated"}, {"status": "open"}, [STATUS_ESCALATED]),
        ("MODIFY", {"status": "Escalated"}, {}, [STATUS_ESCALATED]),
        ("MODIFY", {"status": "escalated"}, {"status": "escalated"}, []),  # no change
        ("MODIFY", {"status": "closed"}, {"status": "escalated"}, []),
        (
            "MODIFY",
            {"urgency": "critical", "status": "escalated"},
            {"urgency": "low", "status": "open"},
            [STATUS_ESCALATED, URGENCY_RAISED],
        ),
        ("REMOVE", None, {"urgency": "critical"}, []),
    ],
)
def test_alert_rules(
    event_name: str, new: dict | None, old: dict | None, reasons: list[str]
) -> None:
    assert alert_reasons(rec(event_name, new, old), CFG) == reasons


def test_alert_set_is_configurable() -> None:
    only_critical = NotifierConfig(**{**CFG.__dict__, "alert_urgencies": frozenset({"critical"})})
    assert alert_reasons(rec("INSERT", {"urgency": "high"}), only_critical) == []
    assert alert_reasons(
        rec("MODIFY", {"urgency": "critical"}, {"urgency": "high"}), only_critical
    ) == [URGENCY_RAISED]


def test_modify_without_old_image_is_malformed_not_guessed() -> None:
    with pytest.raises(MalformedRecordError, match="NEW_AND_OLD_IMAGES"):
        alert_reasons(rec("MODIFY", {"urgency": "critical"}, None), CFG)


@pytest.mark.parametrize(
    "title",
    [
        "Structure fire, 3rd floor",
        "Incendio en almacén \u2013 nivel ⚠ con heridos",
        "line one\nline two\ttabbed\x00nul",
        "x" * 500,
        "",
    ],
)
def test_subject_is_short_printable_ascii(title: str) -> None:
    subject = subject_line(CREATED_URGENT, {"urgency": "critical", "title": title})
    assert 0 < len(subject) <= MAX_SUBJECT_CHARS < 100
    assert subject.isascii()
    assert subject.isprintable()
    assert subject[0].isalnum()
    assert subject.startswith("New CRITICAL incident")


def test_subject_transliterates_and_truncates() -> None:
    assert subject_line(STATUS_ESCALATED, {"title": "Incendio en almacén"}) == (
        "Incident escalated: Incendio en almacen"
    )
    long = subject_line(URGENCY_RAISED, {"urgency": "high", "title": "y" * 200})
    assert long.endswith("...")
    assert len(long) == MAX_SUBJECT_CHARS
    assert subject_line(URGENCY_RAISED, {"urgency": "high", "incidentId": "INC-1"}) == (
        "Incident now HIGH: INC-1"
    )


def test_alert_body_and_attributes() -> None:
    record = rec(
        "MODIFY",
        {
            "incidentId": "INC-9",
            "title": "Gas leak",
            "urgency": "Critical",
            "status": "escalated",
            "location": {"lat": 40.4, "lon": -3.7},
            "internalNotes": "not part of the summary",
        },
        {"urgency": "medium", "status": "open"},
    )
    alert = build_alert(record, [STATUS_ESCALATED, URGENCY_RAISED])
    body = json.loads(alert.body)
    assert body == {
        "version": 1,
        "type": "incident.alert",
        "reason": STATUS_ESCALATED,
        "reasons": [STATUS_ESCALATED, URGENCY_RAISED],
        "incident": {
            "incidentId": "INC-9",
            "title": "Gas leak",
            "urgency": "Critical",
            "status": "escalated",
            "location": {"lat": 40.4, "lon": -3.7},
        },
        "previous": {"urgency": "medium", "status": "open"},
        "keys": {"pk": "INCIDENT#9"},
        "eventId": "ev-9",
        "sequence": "100000000000000000009",
    }
    assert alert.attributes == {
        "urgency": {"DataType": "String", "StringValue": "critical"},
        "status": {"DataType": "String", "StringValue": "escalated"},
        "reason": {"DataType": "String", "StringValue": STATUS_ESCALATED},
    }
    assert alert.subject == "Incident escalated: Gas leak"


def test_missing_status_attribute_is_unknown_not_empty() -> None:
    alert = build_alert(rec("INSERT", {"urgency": "high"}), [CREATED_URGENT])
    assert alert.attributes["status"]["StringValue"] == "unknown"
    assert "previous" not in json.loads(alert.body)


def test_alert_stays_within_the_sns_size_limit_for_a_huge_incident() -> None:
    huge = {
        "incidentId": "INC-big",
        "title": "t" * 300_000,
        "urgency": "critical",
        "location": {"polygon": ["p" * 100] * 5000},
        "description": "d" * 390_000,
    }
    alert = build_alert(rec("INSERT", huge), [CREATED_URGENT])
    assert len(alert.body.encode()) < MAX_MESSAGE_BYTES
    body = json.loads(alert.body)
    assert len(body["incident"]["title"]) == 1024
    assert "location" not in body["incident"]  # too big for a summary
    assert "description" not in body["incident"]


def test_alert_stays_within_the_sns_size_limit_for_a_huge_previous_value() -> None:
    new = {"incidentId": "INC-big", "urgency": "critical", "status": "escalated"}
    old = {"incidentId": "INC-big", "urgency": "low", "status": "s" * 300_000}
    alert = build_alert(rec("MODIFY", new, old), [STATUS_ESCALATED])
    assert len(alert.body.encode()) < MAX_MESSAGE_BYTES
    body = json.loads(alert.body)
    assert body["previous"] == {"urgency": "low", "status": "s" * 1024}
    assert body["incident"]["incidentId"] == "INC-big"


# SQS's character set for bodies and attribute values (what SNS can deliver to every protocol).
SQS_TEXT = re.compile("[\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]*")
HOSTILE = "Esc\x00alated\x1b[31m\ufffe\x85\x9b\u202e\ud800"


def test_attribute_values_hold_only_what_sqs_accepts() -> None:
    record = rec(
        "MODIFY",
        {"incidentId": "INC-7", "title": HOSTILE, "urgency": "high", "status": HOSTILE},
        {"urgency": "high", "status": "open"},
    )
    alert = build_alert(record, [STATUS_ESCALATED])
    assert alert.attributes["status"]["StringValue"] == "escalated[31m"
    for attribute in alert.attributes.values():
        assert SQS_TEXT.fullmatch(attribute["StringValue"])
        assert not any(unicodedata.category(ch) in {"Cc", "Cf"} for ch in attribute["StringValue"])
    # The body keeps the data, with what SQS refuses escaped: it decodes to the same incident.
    assert SQS_TEXT.fullmatch(alert.body)
    assert "\\u0000" in alert.body and "\\ufffe" in alert.body and "\\ud800" in alert.body
    assert json.loads(alert.body)["incident"]["title"] == HOSTILE
    assert alert.body.encode("utf-8")  # encodable: no raw lone surrogate


def test_a_value_of_only_refused_characters_becomes_unknown() -> None:
    alert = build_alert(
        rec("INSERT", {"urgency": "high", "status": "\x00\ufffe\x85"}), [CREATED_URGENT]
    )
    assert alert.attributes["status"]["StringValue"] == "unknown"


def test_unknown_urgency_warning_logs_no_raw_c1(caplog: pytest.LogCaptureFixture) -> None:
    alert_reasons(rec("INSERT", {"urgency": "urgent\x85\x9b[2J\u202e"}), CFG)
    logged = "\n".join(json.dumps(vars(r), default=str, ensure_ascii=False) for r in caplog.records)
    assert "unknown urgency value" in logged
    assert not any(ch in logged for ch in "\x85\x9b\u202e")
    assert "\\x85" in logged and "\\x9b" in logged
