"""make bench's report (tools/bench): the median of repeated runs and the targets' verdicts."""

from __future__ import annotations

from typing import Any

import pytest

from tools.bench import report
from tools.bench.scenarios import median_run

pytestmark = pytest.mark.unit


def result(cpu: float, seconds: float = 1.0, rate: float = 8000.0) -> dict[str, Any]:
    return {
        "cpu_ms_per_post": cpu,
        "time_to_last_client_s": seconds,
        "deliveries_per_s": rate,
        "posts": 10_000,
        "projected": False,
        "peak_rss_mb": 50.0,
        "posts_per_s": rate,
        "failed_records": 0,
        "invocations": 1,
        "rows_deleted": 0,
        "rows_deleted_exactly_the_gone": True,
        "checkpoints": [],
        "workers": 0,
        "worker_cpu_s": 0.0,
    }


def run_of(ours: dict[str, Any], naive: float = 40.0, pool: float = 600.0) -> dict[str, Any]:
    return {
        "machine": {
            "date": "2026-12-01 21:00 UTC",
            "cpus": 2,
            "cpu": "test",
            "load_average_1m": 0.5,
            "python": "3.11",
            "commit": "abc",
        },
        "quick": False,
        "latency_ms": 20.0,
        "scenarios": [
            {
                "scenario": "1x10k",
                "title": "1 record to 10,000 connections",
                "results": {
                    "naive": result(2.4, rate=naive),
                    "pool": result(1.8, rate=pool),
                    "ours": ours,
                },
            }
        ],
    }


def test_the_median_run_by_cpu_is_reported_with_every_runs_numbers() -> None:
    runs = [result(0.07, 1.3), result(0.05, 1.2), result(0.09, 1.4)]
    median = median_run(runs)
    assert median["cpu_ms_per_post"] == 0.07
    assert median["time_to_last_client_s"] == 1.3
    assert median["cpu_ms_per_post_runs"] == [0.07, 0.05, 0.09]
    assert median["time_to_last_client_s_runs"] == [1.3, 1.2, 1.4]


def test_targets_say_met_only_when_each_one_holds() -> None:
    lines = report.targets(run_of(result(0.05, 1.25)))
    assert lines == [
        "- met: all delivered in 1.25 s (at most 2 s)",
        "- met: CPU per post 0.050 ms (at most 0.06 ms)",
        "- met: 200.0x the naive loop (at least 100x)",
        "- met: 13.3x the boto3 pool (32) (at least 5x)",
    ]
    missed = report.targets(run_of(result(0.07, 2.5), pool=2000.0))
    assert [line.split(":")[0] for line in missed] == [
        "- NOT MET",
        "- NOT MET",
        "- met",
        "- NOT MET",
    ]


def test_the_readme_block_carries_the_verdicts_and_three_decimals_for_ours() -> None:
    ours = median_run([result(0.052), result(0.048), result(0.061)])
    text = report.summary(run_of(ours))
    assert "- met: CPU per post 0.052 ms (at most 0.06 ms)" in text
    assert "| 0.052 / 1.80 / 2.40 |" in text
    assert "median of 3 runs (CPU ms/post 0.048-0.061)" in text


def test_no_targets_without_the_10k_scenario() -> None:
    run = run_of(result(0.05))
    run["scenarios"][0]["scenario"] = "1x1k"
    assert report.targets(run) == []
    assert "Targets" not in report.summary(run)


def areas_run() -> dict[str, Any]:
    """1x10k (10,000 posts, 1.35 s of CPU) and areas10k (500 posts, 0.22 s) in one run."""
    run = run_of(result(0.135) | {"cpu_s": 1.35})
    areas = result(0.44, 1.27) | {"cpu_s": 0.22, "posts": 500}
    run["scenarios"][0] |= {"connections": 10_000, "records": 1, "areas": 0}
    run["scenarios"].append(
        {
            "scenario": "areas10k",
            "title": "1 record in 1 of 20 areas, 10,000 connections spread over the 20",
            "connections": 10_000,
            "records": 1,
            "areas": 20,
            "results": {"ours": areas},
        }
    )
    return run


def test_the_areas_scenario_is_compared_with_the_broadcast_of_the_same_run() -> None:
    run = areas_run()
    note = report.areas_note(run, run["scenarios"][1])
    assert note.startswith(
        "Subscriptions: 10,000 connections over 20 areas, the record in one: 500 posts (that "
        "area holds 500 connections), the last matching client after 1.27 s, CPU per record "
        "220 ms (0.440 ms per post made: every one of the 10,000 rows is still read and routed)."
    )
    assert note.endswith(
        "The same record to all 10,000 (1x10k, this run): 10,000 posts, the last client after "
        "1.00 s, CPU per record 1350 ms (0.135 ms per post): 6.1x the CPU and 20x the posts of "
        "the area's record."
    )
    assert report.areas_note(run, run["scenarios"][0]) == ""  # the broadcast itself: no note
    # The Markdown carries it under the scenario's table, the README's row its summary.
    text = report.markdown(run | {"fanout_rate": 8000})
    assert "Ours is paced at 8,000 posts/s per invocation (FANOUT_RATE;" in text
    assert "paced" not in report.markdown(run)
    assert text.index("### areas10k") < text.index("Subscriptions: 10,000 connections")
    assert "| 500 posts (one area of 20), 220 ms CPU per record against 1350 ms to all " in (
        report.summary(run)
    )


def test_the_areas_note_without_the_broadcast_in_the_run_says_what_it_measured() -> None:
    run = areas_run()
    only = {**run, "scenarios": run["scenarios"][1:]}
    note = report.areas_note(only, only["scenarios"][0])
    assert note.endswith("CPU per record 220 ms (0.440 ms per post made).")
    assert "against" not in report.summary(only)


def test_the_profile_summary_counts_busy_samples_of_the_handler_only(tmp_path: Any) -> None:
    from tools.bench import profile  # noqa: PLC0415

    handler = (
        "<module> (x.py:1);handler (broadcaster.py:427);run_forever (asyncio/base_events.py:607)"
    )
    raw = tmp_path / "raw.txt"
    raw.write_text(
        "\n".join(
            [
                f"{handler};EpollSelector.select (selectors.py:468) 500",  # waiting: left out
                f"{handler};_SelectorSocketTransport.write (asyncio/selector_events.py:1057) 30",
                f"{handler};_Connection.data_received (realtime_common/fanout/wire.py:64) 20",
                f"{handler};Signer.post_head (realtime_common/fanout/sigv4.py:290) 25",
                f"{handler};_Run._pump (realtime_common/fanout/engine.py:300) 25",
                "<module> (x.py:1);_find_and_load (<frozen importlib._bootstrap>:1176) 99",
                "<module> (fake.py:1);serve (testing/fake_management_api.py:10) 77",
            ]
        )
        + "\n"
    )
    lines = profile.summarize(raw)
    assert lines[0] == "busy samples: 100"
    assert lines[4].startswith("| socket `send`") and lines[4].endswith("| 30 % |")
    assert [line.rsplit("|", 2)[1].strip() for line in lines[5:]] == ["25 %", "25 %", "20 %"]
