"""The order a sync answer is posted in (realtime_common.sync.post.phases): single frames side by
side, an oversize incident's parts one after another and alone, the last frame after all."""

from __future__ import annotations

import pytest

from realtime_common.sync.post import Phase, phases

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("runs", "expected"),
    [
        ([1], [Phase(1, 1, [0])]),
        ([1, 1], [Phase(1, 1, [0]), Phase(1, 1, [1])]),
        ([1, 1, 1, 1], [Phase(3, 1, [0, 1, 2]), Phase(1, 1, [3])]),
        # batch, three parts, batch, the sync.complete
        ([1, 3, 1, 1], [Phase(2, 1, [0, 4]), Phase(1, 3, [1, 2, 3]), Phase(1, 1, [5])]),
        # two oversize incidents back to back, then the tail
        ([2, 2, 1], [Phase(1, 2, [0, 1]), Phase(1, 2, [2, 3]), Phase(1, 1, [4])]),
        # a run that ends the answer: its last frame still goes last, alone
        ([1, 3], [Phase(1, 1, [0]), Phase(1, 2, [1, 2]), Phase(1, 1, [3])]),
    ],
)
def test_phases_keep_runs_in_order_and_the_last_frame_last(runs, expected):
    planned = phases(runs)

    assert planned == expected
    posted = [frame for phase in planned for frame in phase.frame_of]
    assert sorted(posted) == list(range(sum(runs)))  # every frame exactly once
