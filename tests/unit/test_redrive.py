"""tools.redrive against moto (SQS, DynamoDB Streams) and a fake Lambda client."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from testing.fake_lambda import FakeLambda
from tools import tfoutputs
from tools.localenv import resources
from tools.redrive import cli, dead_letters, outputs, replay, stream
from tools.redrive.run import Clients, Target, redrive

pytestmark = pytest.mark.unit

FUNCTION = "realtime-test-notifier"


@dataclass
class World:
    stream_arn: str
    shard_id: str
    sequences: list[str]
    queue_url: str
    sqs: Any
    streams: Any

    def park(self, first: int, last: int, **extra: Any) -> None:
        """Send the on-failure message Lambda would for records first..last (indexes)."""
        body = {
            "requestContext": {
                "functionArn": f"arn:aws:lambda:us-east-1:123456789012:function:{FUNCTION}",
                "condition": "RetryAttemptsExhausted",
            },
            "responseContext": {"functionError": "Unhandled"},
            "version": "1.0",
            "DDBStreamBatchInfo": {
                "shardId": self.shard_id,
                "startSequenceNumber": self.sequences[first],
                "endSequenceNumber": self.sequences[last],
                "batchSize": last - first + 1,
                "streamArn": self.stream_arn,
                **extra,
            },
        }
        self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=json.dumps(body))

    def queued(self) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )

    def visible(self) -> int:
        return int(
            self.sqs.get_queue_attributes(
                QueueUrl=self.queue_url, AttributeNames=["ApproximateNumberOfMessages"]
            )["Attributes"]["ApproximateNumberOfMessages"]
        )


@pytest.fixture
def world(aws_env: None) -> World:
    dynamodb = boto3.client("dynamodb")
    stream_arn = resources.ensure_incidents_table(dynamodb, [])  # the local stack's demo table
    for i in range(5):
        dynamodb.put_item(
            TableName="Incidents",
            Item={"incidentId": {"S": f"INC-{i}"}, "urgency": {"S": "high"}},
        )
    streams = boto3.client("dynamodbstreams")
    shard_id = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0][
        "ShardId"
    ]
    iterator = streams.get_shard_iterator(
        StreamArn=stream_arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    sequences = [
        r["dynamodb"]["SequenceNumber"]
        for r in streams.get_records(ShardIterator=iterator)["Records"]
    ]
    sqs = boto3.client("sqs")
    queue_url = sqs.create_queue(QueueName="realtime-test-notifier-dlq")["QueueUrl"]
    return World(stream_arn, shard_id, sequences, queue_url, sqs, streams)


def ok(function: str, event: dict[str, Any]) -> dict[str, Any]:
    return {"batchItemFailures": []}


def run(world: World, lam: FakeLambda, **kwargs: Any) -> tuple[Any, list[str]]:
    lines: list[str] = []
    clients = Clients(sqs=world.sqs, streams=world.streams, lambda_=lam)  # type: ignore[arg-type]
    target = Target("notifier", world.queue_url, FUNCTION)
    report = redrive(clients, [target], progress=lines.append, **{"dry_run": False, **kwargs})
    return report, lines


def test_replays_exactly_the_parked_records_then_deletes_the_message(world: World) -> None:
    world.park(1, 3)
    lam = FakeLambda(ok)
    report, lines = run(world, lam)
    ((function, event),) = lam.calls
    assert function == FUNCTION
    assert [r["dynamodb"]["SequenceNumber"] for r in event["Records"]] == world.sequences[1:4]
    first = event["Records"][0]
    # Shaped like what the event source mapping delivers, so the handler cannot tell.
    assert first["eventSourceARN"] == world.stream_arn
    assert isinstance(first["dynamodb"]["ApproximateCreationDateTime"], int)
    assert first["dynamodb"]["NewImage"]["incidentId"] == {"S": "INC-1"}
    assert report.ok and report.records_replayed == 3 and len(report.replayed) == 1
    assert world.queued() == 0
    assert any("message deleted" in line for line in lines)


def test_a_replay_the_function_fails_keeps_the_message(world: World) -> None:
    world.park(0, 1)
    failing = FakeLambda(
        lambda f, e: {"batchItemFailures": [{"itemIdentifier": world.sequences[1]}]}
    )
    report, lines = run(world, failing)
    assert not report.ok and report.replayed == []
    assert world.sequences[1] in report.failed[0]
    assert world.visible() == 1  # released at the end of the pass, ready for the next run
    assert any("FAILED" in line for line in lines)


def test_a_function_that_raises_keeps_the_message(world: World) -> None:
    world.park(0, 0)

    def boom(function: str, event: dict[str, Any]) -> None:
        raise RuntimeError("endpoint down")

    report, _ = run(world, FakeLambda(boom))
    assert "Unhandled" in report.failed[0] and "endpoint down" in report.failed[0]
    assert world.visible() == 1


def test_after_the_fault_is_fixed_a_second_run_delivers_and_deletes(world: World) -> None:
    world.park(2, 4)
    fixed = {"yet": False}

    def function(name: str, event: dict[str, Any]) -> dict[str, Any]:
        if not fixed["yet"]:
            raise RuntimeError("still broken")
        return {"batchItemFailures": []}

    lam = FakeLambda(function)
    first, _ = run(world, lam)
    fixed["yet"] = True
    second, _ = run(world, lam)
    assert first.failed and second.ok
    assert [len(event["Records"]) for _, event in lam.calls] == [3, 3]
    assert world.queued() == 0


def test_dry_run_invokes_nothing_and_leaves_every_message(world: World) -> None:
    world.park(0, 1)
    world.park(3, 4)
    lam = FakeLambda(ok)
    report, lines = run(world, lam, dry_run=True)
    assert lam.calls == []
    assert len(report.would_replay) == 2 and report.ok
    assert world.visible() == 2
    assert sum("would replay 2 of 2 record(s)" in line for line in lines) == 2


class TrimmedStreams:
    """A stream whose records before ``horizon`` are past the 24 h retention."""

    def __init__(self, real: Any, horizon: str) -> None:
        self.real, self.horizon = real, horizon

    def get_shard_iterator(self, **kwargs: Any) -> Any:
        if kwargs.get("ShardIteratorType") == "AT_SEQUENCE_NUMBER" and int(
            kwargs["SequenceNumber"]
        ) < int(self.horizon):
            raise ClientError(
                {"Error": {"Code": "TrimmedDataAccessException", "Message": "trimmed"}},
                "GetShardIterator",
            )
        if kwargs.get("ShardIteratorType") == "TRIM_HORIZON":
            kwargs = {**kwargs, "ShardIteratorType": "AT_SEQUENCE_NUMBER"}
            kwargs["SequenceNumber"] = self.horizon
        return self.real.get_shard_iterator(**kwargs)

    def get_records(self, **kwargs: Any) -> Any:
        return self.real.get_records(**kwargs)


def test_records_past_retention_are_reported_with_their_sequence_numbers(world: World) -> None:
    world.park(0, 3)
    world.streams = TrimmedStreams(world.streams, horizon=world.sequences[2])
    lam = FakeLambda(ok)
    report, lines = run(world, lam)
    # What is still retained is replayed; what is not is reported, and the message stays.
    ((_, event),) = lam.calls
    assert [r["dynamodb"]["SequenceNumber"] for r in event["Records"]] == world.sequences[2:4]
    assert report.lost == [f"notifier {world.shard_id} {world.sequences[0]}..<{world.sequences[2]}"]
    assert any("LOST" in line and world.sequences[0] in line for line in lines)
    assert world.visible() == 1 and not report.ok


def test_discard_lost_deletes_a_message_whose_records_are_gone(world: World) -> None:
    world.park(0, 1)
    world.streams = TrimmedStreams(world.streams, horizon=world.sequences[4])
    lam = FakeLambda(ok)
    report, _ = run(world, lam, discard_lost=True)
    assert lam.calls == []  # nothing left to replay
    assert report.lost == [f"notifier {world.shard_id} {world.sequences[0]}..{world.sequences[1]}"]
    assert world.queued() == 0


def test_an_unreadable_message_is_reported_and_kept(world: World) -> None:
    world.sqs.send_message(QueueUrl=world.queue_url, MessageBody='{"not": "a batch"}')
    report, _ = run(world, FakeLambda(ok))
    assert "DDBStreamBatchInfo" in report.unreadable[0]
    assert world.visible() == 1


def test_progress_counts_every_message_on_long_runs(world: World) -> None:
    for _ in range(12):  # more than one ReceiveMessage page
        world.park(0, 0)
    report, lines = run(world, FakeLambda(ok))
    assert len(report.replayed) == 12
    assert [line for line in lines if line.startswith("[notifier 12]")]
    assert lines[-1] == "[notifier] 12 dead-letter message(s): 12 deleted, 0 left in the queue"


# -- pure parts ----------------------------------------------------------------------------------
def test_parse_rejects_a_batch_whose_range_is_reversed() -> None:
    body = json.dumps(
        {
            "DDBStreamBatchInfo": {
                "shardId": "s",
                "startSequenceNumber": "20",
                "endSequenceNumber": "10",
                "streamArn": "arn",
            }
        }
    )
    with pytest.raises(dead_letters.DeadLetterFormatError, match="after"):
        dead_letters.parse(body)


def test_split_keeps_stream_order_under_the_payload_limit() -> None:
    records = [{"n": i, "pad": "x" * 100} for i in range(10)]
    parts = replay.split(records, limit=300)
    assert [r["n"] for part in parts for r in part] == list(range(10))
    assert all(len(json.dumps(part)) <= 300 + 2 for part in parts) and len(parts) > 1


TF_OUTPUTS = {
    "dead_letter_queue_urls": {"value": {"broadcaster": "https://q/b", "notifier": "https://q/n"}},
    "function_names": {"value": {"broadcaster": "rt-broadcaster", "notifier": "rt-notifier"}},
}


def test_targets_come_from_terraform_outputs() -> None:
    assert outputs.targets(TF_OUTPUTS, "notifier") == [
        Target("notifier", "https://q/n", "rt-notifier")
    ]
    assert [t.name for t in outputs.targets(TF_OUTPUTS)] == ["broadcaster", "notifier"]
    with pytest.raises(outputs.OutputsError, match="no stream mappings"):
        outputs.targets({"dead_letter_queue_urls": {"value": None}})


def test_cli_reads_env_outputs_through_terraform_in_its_working_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / ".terraform" / "dev").mkdir(parents=True)
    seen: list[tuple[list[str], Path, dict[str, str]]] = []

    def runner(command: Any, cwd: Path, env: Any) -> str:
        seen.append((list(command), cwd, dict(env)))
        return json.dumps(TF_OUTPUTS)

    calls: list[Any] = []

    def fake_redrive_clients() -> Any:
        calls.append("clients")
        return Clients(sqs=_EmptySqs(), streams=None, lambda_=None)  # type: ignore[arg-type]

    status = cli.main(
        ["--env", "dev", "--function", "broadcaster", "--dry-run", "--root", str(tmp_path)],
        clients=fake_redrive_clients,
        io=tfoutputs.Io(runner=runner),
    )
    assert status == 0
    assert seen == [
        (
            ["terraform", "output", "-json"],
            tmp_path,
            {"TF_DATA_DIR": str(tmp_path / ".terraform/dev")},
        )
    ]
    assert "would replay: 0 batch(es)" in capsys.readouterr().out


def test_cli_without_an_initialised_env_says_what_to_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = cli.main(["--env", "prod", "--root", str(tmp_path)], clients=_no_clients)
    assert status == 2
    assert "make init ENV=prod" in capsys.readouterr().err


def _no_clients() -> Clients:
    raise AssertionError("no AWS client may be created on a configuration error")


class _EmptySqs:
    def receive_message(self, **kwargs: Any) -> dict[str, Any]:
        return {"Messages": []}


# -- a third reader: DynamoDB Streams throttles it ------------------------------------------------
class ThrottlingStreams:
    """The real (moto) stream, answering LimitExceededException to the first ``throttles`` calls
    of ``operation``: what DynamoDB Streams does to a reader beyond the shard's two."""

    def __init__(self, real: Any, operation: str, throttles: int) -> None:
        self.real, self.operation, self.left = real, operation, throttles
        self.calls: list[str] = []

    def _maybe_throttle(self, operation: str) -> None:
        self.calls.append(operation)
        if operation == self.operation and self.left > 0:
            self.left -= 1
            raise ClientError(
                {"Error": {"Code": "LimitExceededException", "Message": "Rate exceeded"}},
                operation,
            )

    def get_shard_iterator(self, **kwargs: Any) -> Any:
        self._maybe_throttle("GetShardIterator")
        return self.real.get_shard_iterator(**kwargs)

    def get_records(self, **kwargs: Any) -> Any:
        self._maybe_throttle("GetRecords")
        return self.real.get_records(**kwargs)


def recording_backoff(waits: list[float], attempts: int = 8) -> stream.Backoff:
    # No jitter (the upper bound itself) and no real sleep: the waits are recorded.
    return stream.Backoff(attempts=attempts, sleep=waits.append, jitter=lambda low, high: high)


@pytest.mark.parametrize("operation", ["GetRecords", "GetShardIterator"])
def test_a_throttled_stream_read_backs_off_says_so_and_then_replays(
    world: World, operation: str
) -> None:
    world.park(1, 2)
    world.streams = ThrottlingStreams(world.streams, operation, throttles=3)
    waits: list[float] = []
    lam = FakeLambda(ok)
    report, lines = run(world, lam, backoff=recording_backoff(waits))
    # Exponential waits (0.5, 1, 2 s), then the read goes through and nothing is lost.
    assert waits == [0.5, 1.0, 2.0]
    ((_, event),) = lam.calls
    assert [r["dynamodb"]["SequenceNumber"] for r in event["Records"]] == world.sequences[1:3]
    assert report.ok and world.queued() == 0
    throttled = [line for line in lines if "LimitExceededException" in line]
    assert len(throttled) == 3
    assert all(operation in line and "third reader" in line for line in throttled)


def test_a_stream_that_keeps_throttling_keeps_the_message_and_says_why(world: World) -> None:
    world.park(0, 1)
    world.streams = ThrottlingStreams(world.streams, "GetRecords", throttles=100)
    waits: list[float] = []
    lam = FakeLambda(ok)
    report, lines = run(world, lam, backoff=recording_backoff(waits, attempts=4))
    assert lam.calls == []  # nothing replayed from a half-read batch
    assert len(waits) == 3  # attempts - 1 waits, then it gives up
    assert not report.ok and "throttled 4 times" in report.failed[0]
    assert world.visible() == 1  # kept for the next run
    assert any("stays in the queue" in line for line in lines)


def test_other_stream_errors_are_not_retried(world: World) -> None:
    class Broken(ThrottlingStreams):
        def get_records(self, **kwargs: Any) -> Any:
            raise ClientError({"Error": {"Code": "AccessDeniedException"}}, "GetRecords")

    world.park(0, 0)
    world.streams = Broken(world.streams, "GetRecords", throttles=0)
    waits: list[float] = []
    with pytest.raises(ClientError, match="AccessDenied"):
        run(world, FakeLambda(ok), backoff=recording_backoff(waits))
    assert waits == []


def test_backoff_is_capped_and_jittered_below_the_cap() -> None:
    seen: list[tuple[float, float]] = []

    def upper(low: float, high: float) -> float:
        seen.append((low, high))
        return high

    backoff = stream.Backoff(base=1, cap=5, jitter=upper)
    assert [backoff.delay(n) for n in range(1, 6)] == [1, 2, 4, 5, 5]
    assert all(low == 0 for low, _ in seen)  # full jitter: anywhere from 0 to the bound
