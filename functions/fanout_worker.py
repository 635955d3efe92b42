"""Fan-out worker: deliver the frames it is given to one parallel-Scan segment of connections.

Handler string: ``fanout_worker.handler``, invoked synchronously by the broadcaster
(``realtime_common.fanout.workers``) with ``{"fanoutWorker": {"version": 1, "segment",
"totalSegments", "frames", "rate", "deadlineEpoch", "maxAttempts"}}``. Answers with per-frame
tallies the broadcaster merges: ``{"tallies": [{"pending", "reached", "unreachable"}], "stats",
"connections"}``. Environment: ``CONNECTIONS_TABLE``, ``WS_CALLBACK_URL``, ``FANOUT_CONCURRENCY``,
``LOG_LEVEL``, ``POWERTOOLS_SERVICE_NAME``.
"""

from __future__ import annotations

import functools
import os
import time
from typing import TYPE_CHECKING, Any

from realtime_common import aws
from realtime_common.fanout import engine
from realtime_common.fanout.config import FanoutConfig
from realtime_common.fanout.table import row_deleter, scan_connection_ids
from realtime_common.fanout.workers import WorkerJob
from realtime_common.logs import make_logger

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from mypy_boto3_dynamodb import DynamoDBClient

    from realtime_common.fanout.sigv4 import CredentialsSource

logger = make_logger()


@functools.cache
def get_config() -> FanoutConfig:
    return FanoutConfig.from_env(os.environ)


def _warn(message: str, extra: dict[str, Any]) -> None:
    logger.warning(message, extra=extra)


def work(
    job: WorkerJob,
    cfg: FanoutConfig,
    *,
    dynamodb: DynamoDBClient,
    credentials: CredentialsSource,
    region: str,
    deadline: float,
) -> dict[str, Any]:
    """Scan the job's segment and deliver its frames; the answer for the broadcaster."""
    ids = list(
        scan_connection_ids(
            dynamodb,
            cfg.table,
            time.time(),
            segment=job.segment,
            total_segments=job.total_segments,
        )
    )
    deadline = min(deadline, time.monotonic() + job.deadline_epoch - time.time())
    result = engine.fan_out(
        ids,
        [frame.encode("utf-8") for frame in job.frames],
        engine.Settings(
            cfg.concurrency,
            job.rate,
            engine.RetryPolicy(max_attempts=job.max_attempts),
            transport=cfg.transport,
        ),
        callback_url=cfg.callback_url,
        credentials=credentials,
        region=region,
        deadline=deadline,
        delete_row=row_deleter(dynamodb, cfg.table, _warn),
        log_failure=_warn,
    )
    answer = {
        "tallies": [tally.as_dict() for tally in result.tallies],
        "stats": result.stats.as_dict(),
        "connections": len(ids),
    }
    logger.info(
        "fan-out segment finished",
        extra={"segment": job.segment, "total_segments": job.total_segments, **answer},
    )
    return answer


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    cfg = get_config()
    job = WorkerJob.from_event(event)
    remaining = context.get_remaining_time_in_millis() / 1000.0
    return work(
        job,
        cfg,
        dynamodb=aws.dynamodb_client(8),
        credentials=aws.credentials_source(),
        region=engine.region_of(cfg.callback_url, aws.region()),
        deadline=time.monotonic() + remaining - min(1.0, remaining / 10),
    )
