"""realtime_common.metrics: the contract's names and dimensions, and the broadcaster's helper."""

from __future__ import annotations

import pytest

from realtime_common import metrics
from realtime_common.config import ConfigError
from testing import emf

pytestmark = pytest.mark.unit

ENV = {"POWERTOOLS_METRICS_NAMESPACE": "realtime-dev", "ENVIRONMENT": "dev"}


def test_fanout_metrics_are_one_document_with_every_value_zeros_included(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "realtime")  # must not become a dimension
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    emitter = metrics.make_metrics("broadcaster", ENV)
    metrics.record_fanout(
        emitter,
        delivered=40,
        gone=2,
        removed=2,
        throttled=0,
        retried=3,
        connections=42,
        duration_ms=812.5,
    )
    metrics.record_failed_records(emitter, 0)
    metrics.flush(emitter)
    (document,) = emf.documents(capsys.readouterr().out)
    assert emf.namespace(document) == "realtime-dev"
    assert emf.dimensions(document) == {"environment": "dev", "function": "broadcaster"}
    assert emf.metrics(document) == {
        "PostsDelivered": 40.0,
        "ConnectionsGone": 2.0,
        "ConnectionsRemoved": 2.0,
        "PostsThrottled": 0.0,
        "PostsRetried": 3.0,
        "ConnectionsPerBatch": 42.0,
        "FanoutDuration": 812.5,
        "RecordsFailed": 0.0,
    }
    assert emf.units(document)["FanoutDuration"] == "Milliseconds"


def test_flush_prints_nothing_when_nothing_was_emitted(
    capsys: pytest.CaptureFixture[str],
) -> None:
    metrics.flush(metrics.make_metrics("broadcaster", ENV))
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("missing", ["POWERTOOLS_METRICS_NAMESPACE", "ENVIRONMENT"])
def test_missing_configuration_names_the_variable(missing: str) -> None:
    env = {k: v for k, v in ENV.items() if k != missing}
    with pytest.raises(ConfigError, match=missing):
        metrics.make_metrics("notifier", env)


def test_a_refusal_reason_outside_the_fixed_set_is_rejected() -> None:
    with pytest.raises(metrics.MetricsError, match="user-42"):
        metrics.record_refusal(metrics.make_metrics("connect", ENV), "user-42")


def test_metric_names_are_unique_and_cloudwatch_shaped() -> None:
    names = [m.value for m in metrics.Metric]
    assert len(names) == len(set(names))
    assert all(name.isalnum() and name[0].isupper() for name in names)
