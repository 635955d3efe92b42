"""tools.backfill's pure parts: finding the tables in terraform outputs, the backoff, the progress
bar and the command line's errors."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from realtime_common.state import IncidentState, StateWriteError, Written
from tools import tfoutputs
from tools.backfill import cli, target
from tools.backfill.progress import Bar
from tools.backfill.write import Backoff, put_with_backoff

pytestmark = pytest.mark.unit

STREAM = (
    "arn:aws:dynamodb:eu-west-1:123456789012:table/Incidents-prod/stream/2026-01-01T00:00:00.000"
)
OUTPUTS: dict[str, Any] = {
    "state_table_name": {"value": "realtime-prod-state"},
    "incident_state": {"value": {"retention_seconds": 3600, "closed_statuses": ["Closed"]}},
    "incidents_stream_arn": {"value": STREAM},
}


def test_the_incidents_table_comes_from_the_bound_stream() -> None:
    assert target.from_outputs(OUTPUTS) == target.Target(
        "Incidents-prod", IncidentState("realtime-prod-state", 3600, frozenset({"closed"}))
    )
    assert target.from_outputs(OUTPUTS, "Other").incidents_table == "Other"


@pytest.mark.parametrize(
    ("outputs", "message"),
    [
        ({**OUTPUTS, "incidents_stream_arn": {"value": None}}, "bind the stream first"),
        ({**OUTPUTS, "incidents_stream_arn": {"value": "arn:aws:dynamodb:x"}}, "not a DynamoDB"),
        ({k: v for k, v in OUTPUTS.items() if k != "state_table_name"}, "apply this version"),
        ({**OUTPUTS, "incident_state": {"value": {"retention_seconds": "x"}}}, "not readable"),
    ],
)
def test_outputs_that_do_not_say_where_fail_with_what_to_do(
    outputs: dict[str, Any], message: str
) -> None:
    with pytest.raises(target.TargetError, match=message):
        target.from_outputs(outputs)


def test_table_of_stream() -> None:
    assert target.table_of_stream(STREAM) == "Incidents-prod"
    with pytest.raises(target.TargetError, match="stream ARN"):
        target.table_of_stream("arn:aws:dynamodb:eu-west-1:123456789012:table/Incidents-prod")


def test_backoff_retries_throttling_with_growing_capped_waits() -> None:
    waits: list[float] = []
    attempts = []

    def put(client: Any, table: str, item: Any) -> Written:
        attempts.append(1)
        if len(attempts) < 5:
            raise StateWriteError("throttled", "ThrottlingException")
        return Written.STORED

    backoff = Backoff(attempts=5, base=1.0, cap=4.0, sleep=waits.append, jitter=lambda: 0.5)
    assert put_with_backoff(None, "t", {}, backoff, put=put) is Written.STORED  # type: ignore[arg-type]
    assert waits == [0.5, 1.0, 2.0, 2.0]


def test_backoff_gives_up_after_its_attempts_and_never_retries_other_errors() -> None:
    def throttled(client: Any, table: str, item: Any) -> Written:
        raise StateWriteError("throttled", "ProvisionedThroughputExceededException")

    waits: list[float] = []
    with pytest.raises(StateWriteError, match="throttled"):
        put_with_backoff(None, "t", {}, Backoff(attempts=3, sleep=waits.append), put=throttled)  # type: ignore[arg-type]
    assert len(waits) == 2

    def denied(client: Any, table: str, item: Any) -> Written:
        raise StateWriteError("denied", "AccessDeniedException")

    with pytest.raises(StateWriteError, match="denied"):
        put_with_backoff(None, "t", {}, Backoff(sleep=waits.append), put=denied)  # type: ignore[arg-type]
    assert len(waits) == 2


class Pipe(io.StringIO):
    def isatty(self) -> bool:
        return False


def test_progress_bar_on_a_pipe_prints_a_line_every_few_seconds() -> None:
    now = [0.0]
    stream = Pipe()
    bar = Bar(stream, total=200, every=5.0, clock=lambda: now[0])
    bar.show({"scanned": 50, "written": 50})
    now[0] = 1.0
    bar.show({"scanned": 100, "written": 100})  # too soon: nothing
    bar.show({"scanned": 300, "written": 300}, final=True)
    lines = stream.getvalue().splitlines()
    assert lines == [
        "[########......................]  25% scanned 50 written 50",
        "[##############################] 100% scanned 300 written 300",
    ]


def test_cli_usage_errors_exit_2(tmp_path: Path) -> None:
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({**OUTPUTS, "incidents_stream_arn": {"value": None}}))
    err = io.StringIO()
    code = cli.main(["--outputs", str(outputs)], client=_no_client, io=streams(err))
    assert code == 2 and "TABLE=" in err.getvalue()
    err = io.StringIO()
    code = cli.main(
        ["--env", "nowhere", "--root", str(tmp_path)], client=_no_client, io=streams(err)
    )
    assert code == 2 and "make init ENV=nowhere" in err.getvalue()
    with pytest.raises(SystemExit):
        cli.parse_args(["--env", "dev", "--segments", "0"])


def streams(err: io.StringIO) -> tfoutputs.Io:
    return tfoutputs.Io(out=io.StringIO(), err=err)


def _no_client() -> Any:
    raise AssertionError("no AWS client for a usage error")


def test_env_local_without_a_running_stack_says_to_make_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOCAL_STATE_DIR", str(tmp_path))
    err = io.StringIO()
    assert cli.main(["--env", "local"], client=_no_client, io=streams(err)) == 2
    assert "make up" in err.getvalue()
