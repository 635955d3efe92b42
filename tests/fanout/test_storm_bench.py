"""make bench-sync's storm (tools/bench/storm.py), small: it runs against the handler's current
settings and code (a setting the sync function now requires, say), and its report reads what the
run measured."""

from __future__ import annotations

import pytest

from tools.bench import storm

pytestmark = pytest.mark.fanout


def test_a_small_storm_answers_every_sync_and_reports_it():
    results = storm.storm(clients=6, incidents=40, processes=1, naive_clients=3)

    ours, naive, catch = results["ours"], results["naive"], results["catch_up"]
    assert ours["answered"] == ours["syncs"] == 6
    assert naive["answered"] == naive["syncs"] == 3
    assert catch["answered"] == catch["syncs"] > 0
    # The naive handler reads every incident per sync; ours reads them once per environment.
    assert naive["items_per_sync"] == 41
    assert ours["items_per_sync"] < 41
    assert ours["bytes_per_sync"] == pytest.approx(naive["bytes_per_sync"], rel=0.01)
    low = results["floor"]
    assert low["frames"] >= 1  # 40 small incidents and the sync.complete: one frame
    assert low["polled_cpu_ms_median"] > 0 and low["blocking_cpu_ms_median"] > 0
    assert low["evented_cpu_ms_median"] > 0
    assert low["ours_cpu_ms_median"] > 0
    text = storm.report(results)
    assert "| DynamoDB items read | 41.0 |" in text
    assert f"Catch-up: {catch['syncs']} since syncs after {storm.CHANGED} incidents" in text
