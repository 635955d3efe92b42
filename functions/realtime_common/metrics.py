"""The stack's CloudWatch metrics: names, dimensions and the emitter every function uses.

Metrics are written in the CloudWatch embedded metric format (EMF): one JSON document printed to
the function's log at the end of each invocation, which CloudWatch Logs turns into metrics. No
``PutMetricData`` call is made, so emitting costs the invocation nothing but a log line.
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html)

The contract, which the alarms and the dashboard (monitoring.tf) and docs/operations.md read:

* Namespace: ``POWERTOOLS_METRICS_NAMESPACE``, one per deployment (Terraform sets
  ``<project>-<environment>`` unless ``monitoring.namespace`` says otherwise).
* Dimensions: ``function`` (``broadcaster``, ``notifier``, ``connect``) and ``environment``
  (``ENVIRONMENT``), always both and nothing else; ``ConnectionsRefused`` is also emitted once
  more with a third dimension, ``reason``, from the fixed set :data:`REFUSAL_REASONS`. Never a
  connection id, user id or incident id: every distinct value is a separate, billed metric.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from enum import StrEnum

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import (
    AmazonCloudWatchEMFProvider,
)

from realtime_common import config

NAMESPACE_VARIABLE = "POWERTOOLS_METRICS_NAMESPACE"
ENVIRONMENT_VARIABLE = "ENVIRONMENT"

FUNCTION_DIMENSION = "function"
ENVIRONMENT_DIMENSION = "environment"
REASON_DIMENSION = "reason"


class Metric(StrEnum):
    """Every metric name the stack emits (all in the deployment's namespace)."""

    # Broadcaster, per invocation (summed over the batch's fan-out).
    POSTS_DELIVERED = "PostsDelivered"  # post_to_connection calls that succeeded
    CONNECTIONS_GONE = "ConnectionsGone"  # posts answered 410 Gone
    CONNECTIONS_REMOVED = "ConnectionsRemoved"  # Connections rows deleted after a 410
    POSTS_THROTTLED = "PostsThrottled"  # posts answered 429 (LimitExceededException)
    POSTS_RETRIED = "PostsRetried"  # retry attempts made (429, 5xx, network errors)
    FANOUT_DURATION = "FanoutDuration"  # milliseconds from the scan's start to the last post
    CONNECTIONS_PER_BATCH = "ConnectionsPerBatch"  # connections the batch was fanned out to
    # Broadcaster and notifier: records reported in batchItemFailures.
    RECORDS_FAILED = "RecordsFailed"
    # Notifier.
    ALERTS_PUBLISHED = "AlertsPublished"  # SNS publishes made
    DUPLICATE_ALERTS_SUPPRESSED = "DuplicateAlertsSuppressed"  # replays the idempotency stopped
    # Connect.
    CONNECTIONS_REFUSED = "ConnectionsRefused"  # $connect answered 4xx (also per reason)


# Why $connect refused a connection: the only values the ``reason`` dimension takes.
REFUSAL_REASONS = ("bad_request", "no_identity", "invalid_user_id", "no_role", "role_not_allowed")


class MetricsError(ValueError):
    """A metric was emitted outside the contract above."""


def make_metrics(function: str, env: Mapping[str, str]) -> AmazonCloudWatchEMFProvider:
    """The EMF emitter of one function, with the contract's two dimensions as defaults.

    ``env`` is the process environment (``os.environ``); a missing namespace or environment
    raises :class:`realtime_common.config.ConfigError` naming the variable. Powertools' own
    ``service`` dimension is turned off (``service=""``): the alarms name their dimensions
    exactly, and a third one would make them match nothing. Use ``provider.log_metrics`` on the
    handler to print the document when the invocation ends, raised or not.
    """
    namespace = config.required_str(env, NAMESPACE_VARIABLE)
    environment = config.required_str(env, ENVIRONMENT_VARIABLE)
    return AmazonCloudWatchEMFProvider(
        namespace=namespace,
        service="",
        default_dimensions={FUNCTION_DIMENSION: function, ENVIRONMENT_DIMENSION: environment},
    )


@functools.cache
def emitter(function: str) -> AmazonCloudWatchEMFProvider:
    """The emitter of ``function`` (its ``function`` dimension), built once per execution
    environment from the process environment; tests reset it with ``emitter.cache_clear()``."""
    return make_metrics(function, os.environ)


def count(provider: AmazonCloudWatchEMFProvider, metric: Metric, value: float = 1) -> None:
    """Add ``value`` to a count metric (values of one invocation are summed in one document)."""
    provider.add_metric(name=metric.value, unit=MetricUnit.Count, value=value)


def record_fanout(
    provider: AmazonCloudWatchEMFProvider,
    *,
    delivered: int,
    gone: int,
    removed: int,
    throttled: int,
    retried: int,
    connections: int,
    duration_ms: float,
) -> None:
    """The broadcaster's fan-out of one batch, emitted once per invocation.

    Every value is emitted, zeros too: an alarm or a dashboard sum over a period then reads 0,
    not "no data", when the fan-out ran and nothing went wrong.
    """
    for metric, value in (
        (Metric.POSTS_DELIVERED, delivered),
        (Metric.CONNECTIONS_GONE, gone),
        (Metric.CONNECTIONS_REMOVED, removed),
        (Metric.POSTS_THROTTLED, throttled),
        (Metric.POSTS_RETRIED, retried),
        (Metric.CONNECTIONS_PER_BATCH, connections),
    ):
        count(provider, metric, value)
    provider.add_metric(
        name=Metric.FANOUT_DURATION.value, unit=MetricUnit.Milliseconds, value=duration_ms
    )


def record_failed_records(provider: AmazonCloudWatchEMFProvider, failed: int) -> None:
    """Records a stream batch reported failed (``len(batchItemFailures)``), zero included."""
    count(provider, Metric.RECORDS_FAILED, failed)


def record_refusal(provider: AmazonCloudWatchEMFProvider, reason: str) -> None:
    """One refused ``$connect``: the total, and (printed now) the count for its reason."""
    if reason not in REFUSAL_REASONS:
        raise MetricsError(f"refusal reason {reason!r} is not one of {REFUSAL_REASONS}")
    count(provider, Metric.CONNECTIONS_REFUSED)
    # A second dimension set needs its own document, printed now. (Powertools' single_metric
    # would add its ``service`` dimension from POWERTOOLS_SERVICE_NAME; this provider does not.)
    by_reason = AmazonCloudWatchEMFProvider(
        namespace=provider.namespace,
        service="",
        default_dimensions={**provider.default_dimensions, REASON_DIMENSION: reason},
    )
    count(by_reason, Metric.CONNECTIONS_REFUSED)
    by_reason.flush_metrics()


def flush(provider: AmazonCloudWatchEMFProvider) -> None:
    """Print what the invocation emitted (nothing when it emitted nothing) and start afresh."""
    if provider.metric_set:
        provider.flush_metrics()
    else:
        provider.clear_metrics()
