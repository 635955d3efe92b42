"""Fan-out worker: deliver the frames it is given to one parallel-Scan segment of connections.

Handler string: ``fanout_worker.handler``, invoked synchronously by the broadcaster
(``realtime_common.fanout.workers``) with ``{"fanoutWorker": {"version": 2, "segment",
"totalSegments", "frames", "roles", "rate", "deadlineEpoch", "maxAttempts"}}``: ``frames`` holds
one list of frames per audience (role-based views, computed once by the broadcaster) and
``roles`` each role's audience; a connection whose role has none gets nothing. Answers with
per-frame tallies the broadcaster merges: ``{"tallies": [{"pending", "reached",
"unreachable"}], "stats", "connections"}``. Environment: ``CONNECTIONS_TABLE``,
``WS_CALLBACK_URL``, ``FANOUT_CONCURRENCY``, ``LOG_LEVEL``, ``POWERTOOLS_SERVICE_NAME`` (the views
arrive as frames in the job, so the worker needs no ``ROLE_VIEWS``).
"""

from __future__ import annotations

import functools
import os
import time
from typing import TYPE_CHECKING, Any

from realtime_common import aws
from realtime_common.fanout import delivery, engine
from realtime_common.fanout.audience import split, warner
from realtime_common.fanout.config import FanoutConfig
from realtime_common.fanout.table import row_deleter, scan_connections
from realtime_common.fanout.workers import WorkerJob
from realtime_common.logs import make_logger

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from mypy_boto3_dynamodb import DynamoDBClient

    from realtime_common.fanout.sigv4 import CredentialsSource

logger = make_logger()
warn = warner(logger)


@functools.cache
def get_config() -> FanoutConfig:
    return FanoutConfig.from_env(os.environ)


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
    rows = scan_connections(
        dynamodb, cfg.table, time.time(), segment=job.segment, total_segments=job.total_segments
    )
    audience = split(rows, job.roles, warn)
    result = delivery.fan_out(
        audience.ids,
        [[frame.encode("utf-8") for frame in group] for group in job.frames],
        engine.Settings(
            cfg.concurrency, job.rate, engine.RetryPolicy(max_attempts=job.max_attempts)
        ),
        callback_url=cfg.callback_url,
        credentials=credentials,
        region=region,
        deadline=job.deadline(deadline),
        delete_row=row_deleter(dynamodb, cfg.table, warn),
        log_failure=warn,
        audiences=audience.audiences,
    )
    answer = {
        "tallies": [tally.as_dict() for tally in result.tallies],
        "stats": result.stats.as_dict(),
        "connections": len(audience.ids),
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
    return work(
        job,
        cfg,
        dynamodb=aws.dynamodb_client(8),
        credentials=aws.credentials_source(),
        region=delivery.region_of(cfg.callback_url, aws.region()),
        deadline=delivery.deadline_for(
            context.get_remaining_time_in_millis() / 1000.0, time.monotonic()
        ),
    )
