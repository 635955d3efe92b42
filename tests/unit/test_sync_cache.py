"""The sync's state cache: a since window reads the entries changed in it once each, and a
retention that ended inside it (and only then) turns the since sync into a reset."""

from __future__ import annotations

import pytest

from realtime_common.fanout.views import RoleViews
from realtime_common.sync.cache import StateCache
from testing import terraform_defaults
from testing.memory_dynamo import MemoryDynamo
from testing.state_items import state_item

pytestmark = pytest.mark.unit

HOUR_MS = 3_600_000
T0 = 1_800_000_000_000  # epoch ms
RETENTION_MS = 24 * HOUR_MS


def image(incident_id: str, status: str = "open") -> dict[str, str]:
    return {"incidentId": incident_id, "status": status, "area": "north"}


def cache_over(dynamo: MemoryDynamo) -> StateCache:
    views = RoleViews.parse(terraform_defaults.ROLE_VIEWS)
    return StateCache(views.audiences, overlap_ms=15_000, retention_ms=RETENTION_MS)


@pytest.fixture
def dynamo() -> MemoryDynamo:
    return MemoryDynamo("state", "connections")


def write(
    dynamo: MemoryDynamo, incident_id: str, sequence: int, at_ms: int, status: str = "open"
) -> None:
    dynamo.put_state(
        state_item(incident_id, image(incident_id, status), sequence=sequence, changed_at_ms=at_ms)
    )


def ids(entries: list | None) -> list[str]:
    assert entries is not None
    return [entry.incident_id.split("#", 1)[1].split("|", 1)[0] for entry in entries]


def test_a_since_window_has_each_changed_incident_once_in_its_latest_state(dynamo):
    cache = cache_over(dynamo)
    for n in range(50):
        write(dynamo, f"INC-{n}", 100 + n, T0 + n)
    cache.refresh(dynamo, "state", T0 + 1_000)
    # Changed twice in the window, each change seen by a refresh (a sync) of its own.
    for incident_id, sequence, at_ms in (("INC-3", 500, 60_000), ("INC-7", 501, 61_000)):
        write(dynamo, incident_id, sequence, T0 + at_ms)
        cache.refresh(dynamo, "state", T0 + at_ms + 100)
    write(dynamo, "INC-3", 502, T0 + 62_000)
    cache.refresh(dynamo, "state", T0 + 63_000)

    changed = cache.since(T0 + 30_000, T0 + 63_000)

    assert ids(changed) == ["INC-7", "INC-3"]  # oldest change first
    assert [entry.sequence for entry in changed or []] == ["501", "502"]
    assert ids(cache.since(T0 + 49, T0 + 63_000)) == ["INC-49", "INC-7", "INC-3"]
    assert cache.since(T0 + 70_000, T0 + 71_000) == []


def test_a_retention_ending_inside_the_window_resets_and_one_ending_later_does_not(dynamo):
    cache = cache_over(dynamo)
    write(dynamo, "INC-1", 100, T0)
    write(dynamo, "INC-2", 101, T0, status="closed")  # expires at T0 + retention
    cache.refresh(dynamo, "state", T0 + 1_000)
    end = T0 + RETENTION_MS

    assert ids(cache.since(T0 + 500, end - 1_000)) == []
    assert cache.since(T0 + 500, end) is None  # its removal is no change to apply by sequence
    assert ids(cache.since(end, end + 1_000)) == []  # expired before the window: not a reset


def test_an_incident_reopened_before_its_retention_ended_does_not_reset_a_since_sync(dynamo):
    cache = cache_over(dynamo)
    write(dynamo, "INC-1", 100, T0, status="closed")
    cache.refresh(dynamo, "state", T0 + 1_000)
    write(dynamo, "INC-1", 200, T0 + 60_000, status="open")  # reopened: no retention now
    cache.refresh(dynamo, "state", T0 + 61_000)

    assert ids(cache.since(T0 + 30_000, T0 + RETENTION_MS + HOUR_MS)) == ["INC-1"]
