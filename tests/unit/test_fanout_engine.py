"""The fan-out engine's logic without a network: frames, scheduling and progress, retries and
outcomes, the deadline, the rate limiter and merging worker tallies.

The posters here are a scripted coroutine (run through the engine's task adapter) and a
callback sender; tests/fanout runs the same engine over HTTP.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from realtime_common.fanout import engine, transport
from realtime_common.fanout.frames import MAX_PAYLOAD_BYTES, Frame, batch_frame, pack
from realtime_common.fanout.rate import RateLimiter
from realtime_common.fanout.schedule import (
    Failure,
    FrameTally,
    Outcome,
    Schedule,
    first_failure,
    merge,
)
from realtime_common.fanout.workers import WorkerJob, rounds, run_workers, segment_count

pytestmark = pytest.mark.unit


# ---------------------------------------------------------------------------------------------
# Frames
# ---------------------------------------------------------------------------------------------
def message(n: int, size: int = 40) -> bytes:
    body = json.dumps({"version": 1, "type": "incident.updated", "sequence": str(n), "pad": ""})
    return body.replace('"pad": ""', '"pad": "' + "x" * max(0, size - len(body)) + '"').encode()


def test_a_single_message_is_sent_as_itself() -> None:
    (frame,) = pack([message(1)])
    assert frame == Frame(message(1), 0, 1)


def test_several_messages_share_one_batch_frame_in_stream_order() -> None:
    messages = [message(n) for n in range(5)]
    (frame,) = pack(messages)
    decoded = json.loads(frame.data)
    assert decoded["version"] == 1
    assert decoded["type"] == "batch"
    assert decoded["messages"] == [json.loads(m) for m in messages]
    assert (frame.first, frame.count) == (0, 5)


def test_frames_never_exceed_the_limit_and_keep_order() -> None:
    messages = [message(n, size=30_000 + 997 * n) for n in range(20)]
    frames = pack(messages)
    assert len(frames) > 1
    assert all(len(f.data) <= MAX_PAYLOAD_BYTES for f in frames)
    flattened: list[Any] = []
    for frame in frames:
        decoded = json.loads(frame.data)
        flattened += decoded["messages"] if decoded.get("type") == "batch" else [decoded]
    assert flattened == [json.loads(m) for m in messages]
    assert [f.first for f in frames] == [
        sum(g.count for g in frames[:i]) for i in range(len(frames))
    ]


def test_a_batch_frame_exactly_at_the_limit_is_kept_whole() -> None:
    head = len(batch_frame([b"{}", b"{}"])) - 4  # envelope and the comma
    half = (MAX_PAYLOAD_BYTES - head) // 2
    first, second = message(1, half), message(2, MAX_PAYLOAD_BYTES - head - half)
    (frame,) = pack([first, second])
    assert len(frame.data) == MAX_PAYLOAD_BYTES
    assert len(pack([first, message(2, MAX_PAYLOAD_BYTES - head - half + 1)])) == 2


def test_a_message_over_the_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="over the"):
        pack([message(1, MAX_PAYLOAD_BYTES + 1)])


# ---------------------------------------------------------------------------------------------
# Schedule
# ---------------------------------------------------------------------------------------------
def drain(schedule: Schedule, outcome: Callable[[int, int], Outcome]) -> list[tuple[int, int]]:
    order = []
    while (item := schedule.next()) is not None:
        order.append(item)
        schedule.finish(*item, outcome(*item))
    return order


def test_every_connection_gets_frame_k_before_anyone_gets_frame_k_plus_1() -> None:
    order = drain(Schedule(3, 2), lambda c, f: Outcome.DELIVERED)
    assert order == [(0, 0), (1, 0), (2, 0), (0, 1), (1, 1), (2, 1)]


def test_gone_and_unreachable_connections_get_no_later_frames() -> None:
    script = {0: Outcome.GONE, 1: Outcome.UNREACHABLE}
    schedule = Schedule(3, 3)
    order = drain(schedule, lambda c, f: script.get(c, Outcome.DELIVERED))
    assert [c for c, f in order if f > 0] == [2, 2]
    assert [t.pending for t in schedule.tallies] == [0, 0, 0]
    assert [(t.reached, t.unreachable) for t in schedule.tallies] == [(2, 1)] * 3
    assert first_failure(schedule.tallies) is None


def test_a_client_error_skips_that_frame_only() -> None:
    schedule = Schedule(1, 2)
    order = drain(schedule, lambda c, f: Outcome.CLIENT_ERROR if f == 0 else Outcome.DELIVERED)
    assert order == [(0, 0), (0, 1)]
    assert first_failure(schedule.tallies) is None


@pytest.mark.parametrize(
    ("tallies", "expected"),
    [
        ([FrameTally(0, 2), FrameTally(0, 2)], None),
        ([FrameTally(0, 1, 1)], None),  # one misbehaving client is not the record's failure
        ([FrameTally(0, 0, 2), FrameTally(0, 0, 2)], (0, Failure.UNREACHABLE)),
        ([FrameTally(0, 2), FrameTally(1, 1)], (1, Failure.TIME)),
        ([FrameTally(0, 2), FrameTally(0, 0, 0, 1)], (1, Failure.WORKER)),
        ([FrameTally(0, 0)], None),  # no connections at all
    ],
)
def test_first_failure_names_the_frame_and_the_reason(
    tallies: list[FrameTally], expected: tuple[int, Failure] | None
) -> None:
    assert first_failure(tallies) == expected


def test_merging_worker_tallies_keeps_per_frame_failures() -> None:
    healthy = [FrameTally(0, 5), FrameTally(0, 5)]
    slow = [FrameTally(0, 3), FrameTally(2, 1)]
    crashed = [FrameTally(0, 0, 0, 1), FrameTally(0, 0, 0, 1)]
    assert first_failure(merge([healthy, healthy], 2)) is None
    assert merge([healthy, slow], 2) == [FrameTally(0, 8), FrameTally(2, 6)]
    assert first_failure(merge([healthy, slow], 2)) == (1, Failure.TIME)
    assert first_failure(merge([healthy, crashed], 2)) == (0, Failure.WORKER)
    unreachable_here = [FrameTally(0, 0, 4), FrameTally(0, 0, 4)]
    assert first_failure(merge([healthy, unreachable_here], 2)) is None  # others were reached
    with pytest.raises(ValueError, match="expected 2"):
        merge([healthy, [FrameTally(0)]], 2)


# ---------------------------------------------------------------------------------------------
# Rate limiter
# ---------------------------------------------------------------------------------------------
def test_rate_limiter_allows_the_burst_then_paces_at_the_rate() -> None:
    now = [0.0]
    limiter = RateLimiter(rate=100, burst=5, clock=lambda: now[0])
    assert [limiter.take() for _ in range(5)] == [0.0] * 5
    assert limiter.take() == pytest.approx(0.01)
    assert limiter.take() == pytest.approx(0.01)  # asking again takes nothing
    now[0] = 0.01
    assert limiter.take() == 0.0
    assert limiter.take() == pytest.approx(0.01)
    now[0] = 10.0  # idle for a long time: the burst is back, not a backlog of credit
    assert [limiter.take() for _ in range(5)] == [0.0] * 5
    assert limiter.take() == pytest.approx(0.01)


def test_rate_limiter_holds_the_long_run_rate() -> None:
    now = [0.0]
    limiter = RateLimiter(rate=1000, burst=50, clock=lambda: now[0])
    starts = []
    while len(starts) < 5000:
        wait = limiter.take()
        if wait:
            now[0] += wait
        else:
            starts.append(now[0])
    assert starts[:50] == [0.0] * 50
    assert (5000 - 50) / (max(starts) - min(starts)) == pytest.approx(1000, rel=0.01)


# ---------------------------------------------------------------------------------------------
# Delivery with a scripted poster
# ---------------------------------------------------------------------------------------------
@dataclass
class Scripted:
    """Answers per connection from a script of statuses (or 'hang'), then 200; records posts."""

    scripts: dict[str, list[int | str]] = field(default_factory=dict)
    latency: float = 0.0
    posts: list[tuple[str, int, float, float]] = field(default_factory=list)
    tasks_seen: int = 0

    async def __call__(self, connection_id: str, frame: int, timeout: float) -> tuple[int, str]:
        loop = asyncio.get_running_loop()
        started = loop.time()
        self.posts.append((connection_id, frame, started, timeout))
        self.tasks_seen = max(self.tasks_seen, len(asyncio.all_tasks()))
        script = self.scripts.get(connection_id, [])
        step = script.pop(0) if script else 200
        if step == "hang":
            await asyncio.sleep(timeout)
            raise transport.TransportError("TimeoutError")
        if step == "reset":
            raise transport.TransportError("ClientOSError")
        if self.latency:
            await asyncio.sleep(self.latency)
        codes = {410: "GoneException", 429: "LimitExceededException", 403: "ForbiddenException"}
        return int(step), codes.get(int(step), "")

    def frames_to(self, connection_id: str) -> list[int]:
        return [f for c, f, _, _ in self.posts if c == connection_id]


@dataclass
class Deleted:
    ids: list[str] = field(default_factory=list)

    def __call__(self, connection_id: str) -> bool:
        self.ids.append(connection_id)
        return True


def run(
    poster: Scripted,
    ids: list[str],
    frames: int,
    *,
    budget: float = math.inf,
    concurrency: int = 8,
    attempts: int = 4,
    rate: float = 1e6,
    attempt_timeout: float = engine.ATTEMPT_TIMEOUT_SECONDS,
    deleted: Deleted | None = None,
) -> engine.Result:
    logged: list[dict[str, Any]] = []

    async def go() -> engine.Result:
        loop = asyncio.get_running_loop()
        if isinstance(poster, VirtualTime):
            loop.time = lambda: poster.now  # type: ignore[method-assign]
        deadline = loop.time() + budget
        return await engine.deliver(
            ids,
            frames,
            poster,
            engine.Settings(
                concurrency,
                rate,
                engine.RetryPolicy(attempts, base_delay=0.001, max_delay=0.004),
                attempt_timeout=attempt_timeout,
            ),
            deadline=deadline,
            delete_row=deleted or Deleted(),
            log_failure=lambda message, extra: logged.append(extra),
        )

    result = asyncio.run(go())
    result.stats.logged = logged  # type: ignore[attr-defined]
    return result


def test_every_connection_gets_every_frame_in_order() -> None:
    poster = Scripted(scripts={"c1": [429, 503, "reset"]})
    ids = [f"c{n}" for n in range(10)]
    result = run(poster, ids, 3)
    for cid in ids:
        assert poster.frames_to(cid) == ([0, 0, 0, 0, 1, 2] if cid == "c1" else [0, 1, 2])
    assert first_failure(result.tallies) is None
    assert result.stats.retries == 3
    assert result.stats.errors == {"LimitExceededException": 1, "503": 1, "ClientOSError": 1}


def test_gone_deletes_exactly_that_row_and_posts_nothing_more_to_it() -> None:
    poster = Scripted(scripts={"gone": [410]})
    deleted = Deleted()
    result = run(poster, ["a", "gone", "b"], 3, deleted=deleted)
    assert deleted.ids == ["gone"]
    assert poster.frames_to("gone") == [0]
    assert result.stats.rows_deleted == 1
    assert first_failure(result.tallies) is None


def test_server_errors_exhaust_the_attempts_and_skip_that_clients_later_frames() -> None:
    poster = Scripted(scripts={"bad": [500] * 10})
    result = run(poster, ["bad", "good"], 2, attempts=3)
    assert poster.frames_to("bad") == [0, 0, 0]
    assert poster.frames_to("good") == [0, 1]
    assert first_failure(result.tallies) is None  # one client's trouble is not the record's
    assert result.stats.logged[0]["error_code"] == "retries exhausted"  # type: ignore[attr-defined]


def test_forbidden_is_not_retried_and_fails_when_it_is_everyone() -> None:
    poster = Scripted(scripts={"a": [403] * 5, "b": [403] * 5})
    result = run(poster, ["a", "b"], 2)
    assert len(poster.posts) == 2
    assert first_failure(result.tallies) == (0, Failure.UNREACHABLE)


def test_payload_too_large_skips_the_frame_not_the_connection() -> None:
    poster = Scripted(scripts={"a": [413]})
    result = run(poster, ["a"], 2)
    assert poster.frames_to("a") == [0, 1]
    assert first_failure(result.tallies) is None


def test_a_hung_client_does_not_hold_back_the_healthy_ones() -> None:
    poster = Scripted(scripts={"hung": ["hang"] * 10}, latency=0.002)
    ids = ["hung"] + [f"c{n}" for n in range(30)]
    started = time.monotonic()
    result = run(poster, ids, 3, concurrency=4, attempts=2, attempt_timeout=1.0)
    healthy_done = max(s for c, _, s, _ in poster.posts if c != "hung") - poster.posts[0][2]
    assert healthy_done < 0.9  # every healthy post started before the hung one's first timeout
    assert all(poster.frames_to(c) == [0, 1, 2] for c in ids[1:])
    assert poster.frames_to("hung") == [0, 0]
    assert first_failure(result.tallies) is None
    assert time.monotonic() - started < 3.5


def test_nothing_starts_or_stays_in_flight_past_the_deadline() -> None:
    poster = Scripted(scripts={f"c{n}": ["hang"] for n in range(4)}, latency=0.01)
    budget = 0.3
    result = run(poster, [f"c{n}" for n in range(40)], 2, budget=budget, concurrency=4)
    first = poster.posts[0][2]
    assert all(start + timeout <= first + budget + 0.01 for _, _, start, timeout in poster.posts)
    assert first_failure(result.tallies) == (0, Failure.TIME)


class VirtualTime(Scripted):
    """Each post costs ``tick`` seconds of the loop's clock and no real time, so a budget is a
    number of posts whatever the machine's load."""

    tick: float = 0.001
    now: float = 0.0

    async def __call__(self, connection_id: str, frame: int, timeout: float) -> tuple[int, str]:
        self.now += self.tick
        self.posts.append((connection_id, frame, self.now, timeout))
        await asyncio.sleep(0)
        return 200, ""


def test_progress_on_every_retry_under_a_short_budget() -> None:
    """40 connections x 10 records, a budget for ~120 of the 400 posts: Lambda's retries
    (re-sending from the first failed record) must move the checkpoint forward every time."""
    ids = [f"c{n:02d}" for n in range(40)]
    remaining = 10  # frames still to deliver (each record is its own frame here)
    checkpoints = []
    received: dict[str, list[int]] = defaultdict(list)
    for _attempt in range(20):
        poster = VirtualTime()
        result = run(
            poster, ids, remaining, budget=0.12 + engine.MIN_ATTEMPT_SECONDS, concurrency=8
        )
        offset = 10 - remaining
        for cid, frame, _, _ in poster.posts:
            received[cid].append(offset + frame)
        failure = first_failure(result.tallies)
        if failure is None:
            break
        assert failure[1] is Failure.TIME
        remaining -= failure[0]
        checkpoints.append(10 - remaining)
    else:
        pytest.fail(f"no completion after 20 retries; checkpoints {checkpoints}")
    assert len(checkpoints) >= 2, checkpoints  # the budget really was too short
    assert checkpoints == sorted(set(checkpoints)), checkpoints  # strictly forward
    assert checkpoints[0] > 0
    for cid in ids:  # every record reached everyone, each client's first copies in order
        firsts = list(dict.fromkeys(received[cid]))
        assert firsts == list(range(10)), cid


def test_posts_are_paced_by_the_rate() -> None:
    poster = Scripted()
    run(poster, [f"c{n}" for n in range(60)], 1, rate=200, concurrency=16)
    starts = sorted(s for _, _, s, _ in poster.posts)
    measured = (len(starts) - 10) / (starts[-1] - starts[0])  # the first 10 are the burst
    assert 100 < measured <= 200 * 1.05  # never faster than the rate; slower only on a busy box


def test_tasks_stay_bounded_by_the_concurrency_not_the_audience() -> None:
    poster = Scripted()
    run(poster, [f"c{n}" for n in range(3000)], 1, concurrency=16)
    assert len(poster.posts) == 3000
    assert (
        poster.tasks_seen <= 16 + 1
    )  # one per post in flight and the main one, none per connection


class CallbackSender:
    """A ``Sender`` (the wire client's shape): answers through ``done`` from the event loop."""

    def __init__(self, answers: dict[str, list[int]] | None = None, fail_at: int = 0) -> None:
        self.answers = answers or {}
        self.fail_at = fail_at
        self.posts: list[tuple[str, int]] = []
        self.tasks_seen = 0

    def send(self, connection_id: str, slot: int, timeout: float, done: transport.Done) -> None:
        self.posts.append((connection_id, slot))
        if len(self.posts) == self.fail_at:
            raise RuntimeError("a bug in the transport")
        self.tasks_seen = max(self.tasks_seen, len(asyncio.all_tasks()))
        script = self.answers.get(connection_id, [])
        status = script.pop(0) if script else 200
        asyncio.get_running_loop().call_later(0.001, done, status, "")


def deliver_with(sender: CallbackSender, ids: list[str], frames: int) -> engine.Result:
    async def go() -> engine.Result:
        loop = asyncio.get_running_loop()
        return await engine.deliver(
            ids,
            frames,
            sender,
            engine.Settings(8, 1e6, engine.RetryPolicy(3, base_delay=0.001, max_delay=0.002)),
            deadline=loop.time() + 30,
            delete_row=lambda connection_id: True,
            log_failure=lambda message, extra: None,
        )

    return asyncio.run(go())


def test_a_callback_sender_delivers_in_order_with_no_task_per_post() -> None:
    sender = CallbackSender({"c3": [503, 429]})
    ids = [f"c{n}" for n in range(50)]
    result = deliver_with(sender, ids, 3)
    for cid in ids:
        expected = [0, 0, 0, 1, 2] if cid == "c3" else [0, 1, 2]
        assert [slot for c, slot in sender.posts if c == cid] == expected
    assert first_failure(result.tallies) is None
    assert result.stats.retries == 2
    assert sender.tasks_seen == 1  # deliver's own: posts are callbacks, not tasks


def test_a_transport_bug_fails_the_delivery_instead_of_hanging_it() -> None:
    with pytest.raises(RuntimeError, match="a bug in the transport"):
        deliver_with(CallbackSender(fail_at=20), [f"c{n}" for n in range(50)], 2)


# ---------------------------------------------------------------------------------------------
# Workers
# ---------------------------------------------------------------------------------------------
def test_segment_count_follows_the_table_size_within_the_bounds() -> None:
    assert segment_count(10_001, 10_000, 10) == 2
    assert segment_count(100_000, 10_000, 10) == 10
    assert segment_count(1_000_000, 10_000, 10) == 10
    assert segment_count(35_000, 10_000, 50) == 4


def test_rounds_keep_each_worker_event_under_the_limit() -> None:
    frames = [b'{"x":"' + b"y" * 100_000 + b'"}'] * 120
    spans = rounds([frames], limit=1_000_000)
    assert [len(s) for s in spans][:2] == [9, 9]
    assert [i for s in spans for i in s] == list(range(120))
    # Every audience's frames travel in the same event: two audiences, half as many per round.
    small = [b'{"x":"' + b"y" * 50_000 + b'"}'] * 120
    spans = rounds([frames, small], limit=1_000_000)
    assert [len(s) for s in spans][:2] == [6, 6]
    assert [i for s in spans for i in s] == list(range(120))


def fake_worker(script: dict[int, Any]) -> Iterator[Any]:
    def invoke(event: dict[str, Any]) -> dict[str, Any]:
        job = WorkerJob.from_event(event)
        answer = script[job.segment]
        if isinstance(answer, Exception):
            raise answer
        return {
            "tallies": [t.as_dict() for t in answer],
            "stats": {"outcomes": {"delivered": 1}},
            "connections": 10,
        }

    return invoke  # type: ignore[return-value]


def test_run_workers_merges_segments_and_fails_records_of_a_crashed_worker() -> None:
    ok = [FrameTally(0, 10), FrameTally(0, 10)]
    warnings: list[Any] = []

    def run_three(segments: dict[int, Any]) -> Any:
        return run_workers(
            fake_worker(segments),  # type: ignore[arg-type]
            [[b"{}", b"{}"]],
            3,
            roles={"dispatcher": 0},
            rate=900,
            deadline_epoch=time.time() + 5,
            max_attempts=4,
            warn=lambda m, e: warnings.append(e),
        )

    run_ok = run_three({0: ok, 1: ok, 2: ok})
    assert first_failure(run_ok.tallies) is None
    assert run_ok.connections == 30
    crashed = run_three({0: ok, 1: RuntimeError("Task timed out"), 2: ok})
    assert first_failure(crashed.tallies) == (0, Failure.WORKER)
    assert crashed.failed_workers == 1
    assert warnings[0]["segment"] == 1


def test_worker_job_round_trips_and_rejects_other_events() -> None:
    frames = (("{}", '{"a":"é"}'), ("{}", '{"b":1}'))
    job = WorkerJob(1, 4, frames, {"dispatcher": 0, "viewer": 1}, 2000.0, 123.5, 3)
    assert WorkerJob.from_event(json.loads(json.dumps(job.to_event()))) == job
    assert job.frame_count == 2
    with pytest.raises(ValueError, match="not a fan-out worker event"):
        WorkerJob.from_event({"Records": []})
    with pytest.raises(ValueError, match=r"not in 0\.\.3"):
        WorkerJob.from_event(WorkerJob(4, 4, (), {}, 1.0, 1.0, 1).to_event())
    with pytest.raises(ValueError, match="audience"):
        WorkerJob.from_event(WorkerJob(0, 4, frames, {"viewer": 2}, 1.0, 1.0, 1).to_event())
    with pytest.raises(ValueError, match="same number of frames"):
        WorkerJob.from_event(WorkerJob(0, 4, (("{}",), ()), {}, 1.0, 1.0, 1).to_event())
