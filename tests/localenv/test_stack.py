"""The local-stack tooling without an emulator: layer zip, Terraform inputs, recorded state."""

from __future__ import annotations

import json
import zipfile
from importlib.metadata import requires, version

import pytest

from tools.localenv import commands, emulator, layer, resources, stack
from tools.localenv.config import ROOT, LocalEnv
from tools.localenv.state import StackState
from tools.reprozip import FIXED_DATE

pytestmark = pytest.mark.unit

STREAM_ARN = (
    "arn:aws:dynamodb:us-east-1:000000000000:table/Incidents/stream/2026-01-01T00:00:00.000"
)


def test_layer_zip_is_reproducible_and_holds_boto3_under_python(tmp_path):
    first = layer.build_layer_zip(tmp_path / "a")
    second = layer.build_layer_zip(tmp_path / "b")

    assert first.name == second.name
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
    assert {info.date_time for info in infos} == {FIXED_DATE}


def test_an_unchanged_layer_is_not_built_again(tmp_path):
    first = layer.build_layer_zip(tmp_path)
    first.write_bytes(b"kept")  # the name says the content is the same: the file is reused
    assert layer.build_layer_zip(tmp_path).read_bytes() == b"kept"


def test_terraform_vars_are_what_the_root_module_expects(stack_state):
    state = stack_state(
        port=4633,
        endpoint="http://127.0.0.1:4633",
        incidents_stream_arn=STREAM_ARN,
        layer_arn="arn:aws:lambda:us-east-1:000000000000:layer:local-boto3:3",
        alerts_queue_arn="arn:aws:sqs:us-east-1:000000000000:realtime-local-alerts-inbox",
    )

    args = stack.terraform_vars(LocalEnv(), state)

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
    backend = LocalEnv().backend_file
    text = backend.read_text()
    assert resources.backend_setting(backend, "bucket") == "realtime-tfstate-local"
    assert resources.backend_setting(backend, "key").endswith(".tfstate")
    for setting in ("use_path_style", "skip_credentials_validation", "skip_requesting_account_id"):
        assert f"{setting}" in text and "true" in text.split(setting, 1)[1].splitlines()[0]
    assert 's3 = "http://127.0.0.1:4566"' in text  # make up overrides the port on the command line


def test_a_backend_setting_that_is_missing_is_named(tmp_path):
    backend = tmp_path / "x.s3.tfbackend"
    backend.write_text('bucket = "b"\n')
    with pytest.raises(resources.ResourceError, match=r"x\.s3\.tfbackend sets no key"):
        resources.backend_setting(backend, "key")


def test_recorded_state_round_trips_and_down_without_a_record_does_nothing(tmp_path, stack_state):
    config = LocalEnv(state_dir=tmp_path)
    assert stack.down(config) == []
    state = stack_state(
        emulator_pid=42,
        started_emulator=False,
        created=["incidents_table"],
        outputs={"api_id": "abc123"},
    )
    state.save(config.state_file)

    assert StackState.load(config.state_file) == state
    with pytest.raises(stack.StackError, match="make up"):
        stack.require_stack(config)


def test_the_local_plan_preview_plans_with_what_make_up_recorded(
    tmp_path, monkeypatch, stack_state
):
    """`make plan-preview ENV=local` plans with the environment and -vars of the running stack."""
    config = LocalEnv(state_dir=tmp_path)
    state = stack_state(
        port=4599,
        endpoint="http://127.0.0.1:4599",
        emulator_pid=1,
        incidents_stream_arn=STREAM_ARN,
        layer_arn="arn:aws:lambda:us-east-1:000000000000:layer:local-boto3:1",
        applied=True,
    )
    state.save(config.state_file)
    monkeypatch.setattr(emulator, "running", lambda _: emulator.Emulator(port=4599, pid=1))

    env, variables = stack.terraform_setup(config)

    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:4599"
    assert env["TF_DATA_DIR"] == str(tmp_path / "terraform")
    assert "-var-file=envs/local.tfvars" in variables
    assert f"-var=incidents_stream_arn={state.incidents_stream_arn}" in variables


def test_functions_resolve_by_role_or_name_and_unknown_ones_are_named(stack_state):
    state = stack_state(
        outputs={"function_names": {"notifier": "realtime-local-notifier"}},
    )
    assert commands.resolve_function(state, "notifier") == "realtime-local-notifier"
    assert commands.resolve_function(state, "realtime-local-notifier") == "realtime-local-notifier"
    with pytest.raises(commands.CommandError, match=r"notifier \(realtime-local-notifier\)"):
        commands.resolve_function(state, "broadcast")


def test_an_alert_is_shown_with_subject_attributes_and_body():
    envelope = {
        "Timestamp": "2026-11-27T14:48:04.000Z",
        "Subject": "Incident escalated: Smoke",
        "MessageAttributes": {"reason": {"Type": "String", "Value": "status_escalated"}},
        "Message": json.dumps({"reason": "status_escalated", "keys": {"incidentId": "INC-1"}}),
    }

    text = commands.format_alert(envelope)

    assert text.splitlines()[0] == "--- 2026-11-27T14:48:04.000Z  Incident escalated: Smoke"
    assert '"reason": "status_escalated"' in text.splitlines()[1]
    assert json.loads("\n".join(text.splitlines()[2:]))["keys"] == {"incidentId": "INC-1"}


def test_ws_url_is_the_emulators_path_style_endpoint():
    assert stack.ws_url(4566, "abc123", "prod") == (
        "ws://127.0.0.1:4566/_aws/execute-api/abc123/prod"
    )
    assert LocalEnv().tfvars.name == "local.tfvars"


def test_connect_url_carries_the_identity_in_the_query_string(stack_state):
    state = stack_state(ws_url="ws://h:1/_aws/a/prod")
    assert commands.connect_url(state, "al ice", "dispatcher") == (
        "ws://h:1/_aws/a/prod?userId=al+ice&role=dispatcher"
    )


def test_the_summary_names_every_endpoint_and_the_next_steps(stack_state):
    state = stack_state(
        outputs={"function_names": {"notifier": "n", "connect": "c"}, "api_id": "abc"},
    )
    lines = stack.describe(state).splitlines()
    assert lines[0] == "Local stack is up on the emulator at http://127.0.0.1:4566 (pid 7)."
    assert lines[1] == "  WebSocket URL       ws://127.0.0.1:4566/_aws/execute-api/abc/prod"
    assert lines[2].startswith("  board               ")
    assert lines[10] == "  functions           connect=c, notifier=n"
    assert lines[-1] == "  make incident ID=INC-1 STATUS=escalated && make alerts"


def test_the_emulators_botocore_is_the_one_our_boto3_layer_was_built_against():
    """The layer leaves botocore to the emulator's interpreter: the two pins must agree."""
    pins = dict(
        line.split("==", 1)
        for line in (ROOT / "requirements-dev.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    )
    ministack_botocore = [r for r in requires("ministack") or [] if r.startswith("botocore")]

    assert ministack_botocore == [f"botocore=={pins['botocore']}"]
    assert version("boto3").rsplit(".", 1)[0] == pins["botocore"].rsplit(".", 1)[0]
