"""The local-stack tooling without an emulator: layer zip, Terraform inputs, recorded state."""

from __future__ import annotations

import json
import zipfile
from importlib.metadata import requires, version
from pathlib import Path

import pytest

import devstack

pytestmark = pytest.mark.unit


def test_layer_zip_is_reproducible_and_holds_boto3_under_python(tmp_path, monkeypatch):
    monkeypatch.setattr(devstack, "LAYER_DIR", tmp_path / "a")
    first = devstack.build_layer_zip()
    monkeypatch.setattr(devstack, "LAYER_DIR", tmp_path / "b")
    second = devstack.build_layer_zip()

    assert first.read_bytes() == second.read_bytes()
    with zipfile.ZipFile(first) as zf:
        infos = zf.infolist()
    names = [info.filename for info in infos]
    assert names == sorted(names)
    assert "python/boto3/__init__.py" in names
    assert "python/s3transfer/__init__.py" in names
    # botocore comes from the emulator's interpreter (ministack pins it to boto3's version)
    assert not [n for n in names if n.startswith("python/botocore/")]
    assert all(name.startswith("python/") for name in names)
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert {info.date_time for info in infos} == {devstack.FIXED_ZIP_TIME}


def test_terraform_vars_are_what_the_root_module_expects():
    state = devstack.StackState(
        port=4633,
        endpoint="http://127.0.0.1:4633",
        emulator_pid=1,
        started_emulator=True,
        incidents_stream_arn="arn:aws:dynamodb:us-east-1:000000000000:table/Incidents/stream/2026-01-01T00:00:00.000",
        layer_arn="arn:aws:lambda:us-east-1:000000000000:layer:local-boto3:3",
        alerts_queue_arn="arn:aws:sqs:us-east-1:000000000000:realtime-local-alerts-inbox",
    )

    args = devstack.terraform_vars(state)

    assert args[0] == "-var-file=envs/local.tfvars"
    values = dict(arg.removeprefix("-var=").split("=", 1) for arg in args[1:])
    assert values["incidents_stream_arn"] == state.incidents_stream_arn
    assert json.loads(values["lambda_layer_arns"]) == [state.layer_arn]
    assert values["management_endpoint_override"] == (
        "http://127.0.0.1:4633/_aws/execute-api/{api_id}/{stage}"
    )
    assert json.loads(values["alert_subscriptions"]) == [
        {"protocol": "sqs", "endpoint": state.alerts_queue_arn, "filter_policy": None}
    ]


def test_local_backend_keeps_state_in_the_emulators_s3_with_path_style():
    text = devstack.BACKEND_FILE.read_text()
    assert devstack.backend_setting("bucket") == "realtime-tfstate-local"
    assert devstack.backend_setting("key").endswith(".tfstate")
    for setting in ("use_path_style", "skip_credentials_validation", "skip_requesting_account_id"):
        assert f"{setting}" in text and "true" in text.split(setting, 1)[1].splitlines()[0]
    assert 's3 = "http://127.0.0.1:4566"' in text  # make up overrides the port on the command line


def test_recorded_state_round_trips_and_down_without_a_record_does_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(devstack, "STATE_FILE", tmp_path / "devstack.json")
    assert devstack.down() == []
    state = devstack.StackState(
        port=4566,
        endpoint="http://127.0.0.1:4566",
        emulator_pid=42,
        started_emulator=False,
        created=["incidents_table"],
        outputs={"api_id": "abc123"},
    )
    state.save()

    assert devstack.StackState.load() == state
    with pytest.raises(devstack.StackError, match="make up"):
        devstack.require_stack()


def test_functions_resolve_by_role_or_name_and_unknown_ones_are_named():
    state = devstack.StackState(
        port=1,
        endpoint="",
        emulator_pid=1,
        started_emulator=False,
        outputs={"function_names": {"notifier": "realtime-local-notifier"}},
    )
    assert devstack.resolve_function(state, "notifier") == "realtime-local-notifier"
    assert devstack.resolve_function(state, "realtime-local-notifier") == "realtime-local-notifier"
    with pytest.raises(devstack.StackError, match=r"notifier \(realtime-local-notifier\)"):
        devstack.resolve_function(state, "broadcast")


def test_an_alert_is_shown_with_subject_attributes_and_body():
    envelope = {
        "Timestamp": "2026-11-27T14:48:04.000Z",
        "Subject": "Incident escalated: Smoke",
        "MessageAttributes": {"reason": {"Type": "String", "Value": "status_escalated"}},
        "Message": json.dumps({"reason": "status_escalated", "keys": {"incidentId": "INC-1"}}),
    }

    text = devstack.format_alert(envelope)

    assert text.splitlines()[0] == "--- 2026-11-27T14:48:04.000Z  Incident escalated: Smoke"
    assert '"reason": "status_escalated"' in text.splitlines()[1]
    assert json.loads("\n".join(text.splitlines()[2:]))["keys"] == {"incidentId": "INC-1"}


def test_ws_url_is_the_emulators_path_style_endpoint():
    assert devstack.ws_url(4566, "abc123", "prod") == (
        "ws://127.0.0.1:4566/_aws/execute-api/abc123/prod"
    )
    assert Path(devstack.TFVARS).name == "local.tfvars"


def test_the_emulators_botocore_is_the_one_our_boto3_layer_was_built_against():
    """The layer leaves botocore to the emulator's interpreter: the two pins must agree."""
    pins = dict(
        line.split("==", 1)
        for line in (devstack.ROOT / "requirements-dev.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    )
    ministack_botocore = [r for r in requires("ministack") or [] if r.startswith("botocore")]

    assert ministack_botocore == [f"botocore=={pins['botocore']}"]
    assert version("boto3").rsplit(".", 1)[0] == pins["botocore"].rsplit(".", 1)[0]
