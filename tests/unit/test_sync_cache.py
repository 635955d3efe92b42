"""The sync's state cache: a since window reads the entries changed in it once each, a
retention that ended inside it (and only then) turns the since sync into a reset, and a full
answer's sync.complete rides in its last frame when it fits."""

from __future__ import annotations

import json

import pytest

from realtime_common.fanout.frames import MAX_PAYLOAD_BYTES
from realtime_common.fanout.sigv4 import payload_hash
from realtime_common.fanout.views import RoleViews
from realtime_common.sync import messages as sync_messages
from realtime_common.sync.cache import StateCache, ending_with, prepare
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


# ---------------------------------------------------------------------------------------------
# The sync.complete rides in the last frame when it fits (one post fewer per full sync)
# ---------------------------------------------------------------------------------------------
COMPLETE = b'{"type":"sync.complete","version":1}'


def message(n: int, size: int = 100) -> bytes:
    return b'{"n":%d,"pad":"%s"}' % (n, b"x" * size)


def unpacked(frame: bytes) -> list[object]:
    body = json.loads(frame)
    return body["messages"] if body.get("type") == "batch" else [body]


@pytest.mark.parametrize("count", [1, 3])
def test_the_complete_rides_in_the_last_frame_when_it_fits(count: int) -> None:
    full = prepare(sync_messages.frames([message(n) for n in range(count)], [""] * count), count)
    answer = ending_with(full, COMPLETE)
    assert len(answer.frames) == 1
    assert unpacked(answer.frames[0]) == [
        *(json.loads(message(n)) for n in range(count)),
        json.loads(COMPLETE),
    ]
    assert answer.hashes == [payload_hash(answer.frames[0])]
    assert (answer.count, answer.runs) == (count, [1])
    assert full.frames == prepare(full.frames, count).frames  # the shared frames are untouched


def test_a_full_last_frame_or_an_incidents_last_part_keeps_the_complete_apart() -> None:
    size = MAX_PAYLOAD_BYTES - len(COMPLETE)  # with the batch's envelope the two do not fit
    full_frame = prepare([message(0, size - 20)], 1)
    assert len(full_frame.frames[0]) <= MAX_PAYLOAD_BYTES
    parts = prepare([b"part-0", b"part-1"], 1, runs=[2])
    for prepared in (full_frame, parts):
        answer = ending_with(prepared, COMPLETE)
        assert answer.frames == [*prepared.frames, COMPLETE]
        assert answer.runs == [*prepared.runs, 1]
        assert answer.hashes[-1] == payload_hash(COMPLETE)
    assert ending_with(prepare([], 0), COMPLETE).frames == [COMPLETE]
