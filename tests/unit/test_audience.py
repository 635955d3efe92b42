"""Routing a batch to audiences (realtime_common.fanout.audience): which connection receives
which record, decided once per (record, distinct filter) and built once per audience, checked
against a plain reference implementation for random filters, permissions and records."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from realtime_common.fanout import audience as routing
from realtime_common.fanout.audience import Change, Encoded, Router
from realtime_common.filters import Permission

pytestmark = pytest.mark.unit

ROLES = {"dispatcher": 0, "viewer": 1}  # role -> view
AREAS = ["north", "north/east", "harbour", "south"]
URGENCIES = ["low", "high", "critical"]


def encoded(changes: list[Change]) -> Encoded:
    """Each record its own frame; messages that say which record and view they are."""
    count = len(changes)
    views = [
        [json.dumps({"type": "m", "i": i, "view": v}).encode() for i in range(count)]
        for v in range(2)
    ]
    left = [json.dumps({"type": "left", "i": i}).encode() for i in range(count)]
    return Encoded(views, left, [(i, 1) for i in range(count)], changes)


def deliveries(rows: list[routing.Row], changes: list[Change]) -> set[tuple[str, int, str]]:
    """(connection, record, what) for everything the router would post."""
    out = set()
    audience = Router(encoded(changes), ROLES, Permission.of(["*"]), lambda m, e: None).split(rows)
    for cid, index in zip(audience.ids, audience.audiences, strict=True):
        for frame in audience.frames[index]:
            if frame:
                message = json.loads(frame)
                view = message.get("view")
                out.add((cid, message["i"], message["type"] if view is None else f"m{view}"))
    return out


# The reference: a plain loop over connections, with its own reading of the rules.
def allowed(patterns: list[str], area: Any) -> bool:
    if not isinstance(area, str):
        return "*" in patterns
    for pattern in patterns:
        if pattern == "*" or pattern == area:
            return True
        if pattern.endswith("/*") and (area == pattern[:-2] or area.startswith(pattern[:-1])):
            return True
    return False


def wants(patterns: list[str], asked: dict[str, list[str]], image: dict[str, Any]) -> bool:
    return allowed(patterns, image.get("area")) and all(
        image.get(name) in values for name, values in asked.items()
    )


def reference(rows: list[routing.Row], changes: list[Change]) -> set[tuple[str, int, str]]:
    out = set()
    for cid, role, areas, filter_text in rows:
        if role not in ROLES:
            continue
        patterns = ["*"] if areas is None else json.loads(areas)
        asked = {} if filter_text is None else json.loads(filter_text)
        for i, change in enumerate(changes):
            what = f"m{ROLES[role]}"
            if change.removal:
                if change.old is None or wants(patterns, asked, change.old):
                    out.add((cid, i, what))
            elif change.new is not None and wants(patterns, asked, change.new):
                out.add((cid, i, what))
            elif change.old is not None and wants(patterns, asked, change.old):
                out.add((cid, i, "left"))
    return out


images = st.fixed_dictionaries(
    {},
    optional={"area": st.sampled_from(AREAS), "urgency": st.sampled_from(URGENCIES)},
)
changes = st.lists(
    st.builds(
        Change,
        removal=st.booleans(),
        new=st.none() | images,
        old=st.none() | images,
    ),
    min_size=1,
    max_size=5,
)
permissions = st.none() | st.lists(
    st.sampled_from(["*", "north", "north/*", "harbour", "south", "east"]), max_size=3
).map(json.dumps)
filters = st.none() | st.fixed_dictionaries(
    {},
    optional={
        "area": st.lists(st.sampled_from(AREAS), min_size=1, max_size=3),
        "urgency": st.lists(st.sampled_from(URGENCIES), min_size=1, max_size=2),
    },
).map(lambda f: json.dumps(f, sort_keys=True))
rows = st.lists(
    st.tuples(st.sampled_from(["dispatcher", "viewer", "auditor"]), permissions, filters),
    max_size=25,
).map(lambda found: [(f"c{n}", *row) for n, row in enumerate(found)])


@settings(max_examples=300, deadline=None)
@given(rows=rows, changes=changes)
def test_the_connections_that_receive_a_record_are_the_reference_s(
    rows: list[routing.Row], changes: list[Change]
) -> None:
    assert deliveries(rows, changes) == reference(rows, changes)


def test_matching_is_once_per_record_and_filter_and_frames_once_per_audience(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = {"matches": 0, "frames": 0}
    real_matches, real_frame = routing.matches, routing.batch_frame

    def counting_matches(*args: Any) -> bool:
        calls["matches"] += 1
        return real_matches(*args)

    def counting_frame(*args: Any) -> bytes:
        calls["frames"] += 1
        return real_frame(*args)

    monkeypatch.setattr(routing, "matches", counting_matches)
    monkeypatch.setattr(routing, "batch_frame", counting_frame)
    changes = [
        Change(False, {"area": "north"}, None),
        Change(False, {"area": "harbour"}, {"area": "north"}),
    ]
    # 4 effective filters x 2 views, 1,000 connections each.
    rows: list[routing.Row] = []
    for n in range(1000):
        role = "viewer" if n % 2 else "dispatcher"
        rows.append((f"n{n}", role, '["north"]', None))
        rows.append((f"h{n}", role, '["harbour"]', None))
        rows.append((f"s{n}", role, '["south"]', None))
        rows.append((f"x{n}", role, '["harbour","north"]', '{"area":["north"]}'))
    router = Router(encoded(changes), ROLES, Permission.of(["*"]), lambda m, e: None)
    split = router.split(rows)
    # north: [MESSAGE, LEFT]; harbour: [NOTHING, MESSAGE]; south: nothing; x == north's decisions
    # with another effective filter (its permission differs): 4 distinct filters.
    assert router.matched == 4 * len(changes)
    assert calls["matches"] <= 2 * router.matched  # the new image, then at most the old one
    # Audiences: (view, decisions) for north (shared with x) and harbour: 2 x 2.
    assert len(split.frames) == router.frames_built == 4
    # Per audience one frame per record group with something in it: north's 2, harbour's 1.
    assert calls["frames"] == 2 * 2 + 2 * 1
    assert split.not_matching == 1000  # south
    assert len(split.ids) == 3000
    assert {f for frames in split.frames for f in frames} >= {b""}  # harbour skips frame 0


def test_a_removal_without_an_old_image_goes_to_every_connection_with_a_view() -> None:
    rows: list[routing.Row] = [("n", "dispatcher", '["north"]', None), ("a", "auditor", None, None)]
    assert deliveries(rows, [Change(True, None, None)]) == {("n", 0, "m0")}
