"""The whole stack on the embedded emulator: bring it up, use it like a person would, take it down.

    python scripts/devstack.py up          # emulator, demo table, boto3 layer, terraform apply
    python scripts/devstack.py down        # destroy / stop what `up` started, nothing else
    python scripts/devstack.py status      # is it up, and where
    python scripts/devstack.py listen --user alice --role dispatcher
    python scripts/devstack.py incident --id INC-1 --urgency high --status open --title "Fire"
    python scripts/devstack.py alerts      # the alerts the Notifier published (local SQS queue)
    python scripts/devstack.py invoke --function notifier --event events/stream-insert.json

`up` applies the same root module as every other environment, with `envs/local.tfvars`, the
`envs/local.s3.tfbackend` backend (a state bucket in the emulator's S3) and a few `-var`s that only
make sense here (the demo table's stream, the boto3 layer, the emulator's management endpoint, the
local alerts queue). The provider reaches the emulator through the standard AWS_ENDPOINT_URL
settings: nothing in the root module knows about the emulator.

What `up` started is recorded in ``<state dir>/devstack.json`` so that `down` removes exactly that.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import util as importlib_util
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import emulator

ROOT = Path(__file__).resolve().parent.parent
STATE_FILE = emulator.STATE_DIR / "devstack.json"
ENV_NAME = "local"
TFVARS = ROOT / "envs" / f"{ENV_NAME}.tfvars"
BACKEND_FILE = ROOT / "envs" / f"{ENV_NAME}.s3.tfbackend"
# TF_DATA_DIR=.terraform/<env> like every environment; an emulator with its own state directory
# (LOCAL_STATE_DIR) gets its own Terraform working directory next to it, so two local stacks on
# one machine never share a backend configuration.
TF_DATA_DIR = (
    ROOT / ".terraform" / ENV_NAME
    if emulator.STATE_DIR.resolve() == (ROOT / ".local").resolve()
    else emulator.STATE_DIR / "terraform"
)
EMULATOR_VENV = ROOT / ".venv-emulator"
LAYER_DIR = ROOT / ".cache" / "layers"

INCIDENTS_TABLE = "Incidents"
INCIDENTS_KEY = "incidentId"
ALERTS_QUEUE = "realtime-local-alerts-inbox"
LAYER_NAME = "local-boto3"
# What the Lambda Python runtime ships (https://docs.aws.amazon.com/lambda/latest/dg/lambda-python.html)
# and the emulator's interpreter lacks: boto3 and s3transfer. botocore and its own dependencies
# (jmespath, python-dateutil, six, urllib3) are there already: ministack requires botocore, pinned
# to the same version as our boto3. Shipping a second botocore (31 MB unpacked) would only slow
# every cold start, since the emulator unpacks each function's layers anew.
LAYER_PACKAGES = ("boto3", "s3transfer")
FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
URGENCIES = ("low", "medium", "high", "critical")


class StackError(RuntimeError):
    """Something `up`/`down` could not do; the message says what to do about it."""


# ---------------------------------------------------------------------------
# Recorded state
# ---------------------------------------------------------------------------
@dataclass
class StackState:
    """What `up` brought up, and which parts of it it created (and `down` may remove)."""

    port: int
    endpoint: str
    emulator_pid: int
    started_emulator: bool
    incidents_table: str = INCIDENTS_TABLE
    incidents_stream_arn: str = ""
    alerts_queue_url: str = ""
    alerts_queue_arn: str = ""
    layer_arn: str = ""
    state_bucket: str = ""
    created: list[str] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    ws_url: str = ""
    applied: bool = False

    def save(self) -> None:
        STATE_FILE.parent.mkdir(parents=True, exist_ok=True)
        STATE_FILE.write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls) -> StackState | None:
        try:
            return cls(**json.loads(STATE_FILE.read_text()))
        except (FileNotFoundError, ValueError, TypeError):
            return None


def _log(message: str) -> None:
    print(f"[devstack] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# AWS clients against the emulator
# ---------------------------------------------------------------------------
def client(service: str, endpoint: str, **kwargs: Any) -> Any:  # noqa: ANN401 - boto3 clients are untyped
    import boto3  # noqa: PLC0415 - the tooling imports boto3 only when it talks to the emulator
    from botocore.config import Config  # noqa: PLC0415

    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=emulator.REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",  # noqa: S106 - the emulator's fixed local credentials
        config=Config(retries={"max_attempts": 3, "mode": "standard"}, **kwargs),
    )


def ws_url(port: int, api_id: str, stage: str) -> str:
    """The emulator's WebSocket URL for a stage (also its management API base, over http)."""
    return f"ws://{emulator.HOST}:{port}/_aws/execute-api/{api_id}/{stage}"


def management_endpoint_template(port: int) -> str:
    """The root's `management_endpoint_override`: WS_CALLBACK_URL, {api_id}/{stage} left open."""
    return f"http://{emulator.HOST}:{port}/_aws/execute-api/{{api_id}}/{{stage}}"


# ---------------------------------------------------------------------------
# The emulator's own interpreter: ministack and nothing from the dev environment
# ---------------------------------------------------------------------------
def _ministack_requirement() -> str:
    for line in (ROOT / "requirements-dev.txt").read_text().splitlines():
        if line.strip().lower().startswith("ministack=="):
            return line.strip()
    raise StackError("requirements-dev.txt pins no ministack version (no 'ministack==' line)")


def ensure_emulator_venv() -> Path:
    """A virtual environment holding only ministack: the interpreter the local Lambdas run on.

    ministack runs Python functions on the interpreter that runs it, so from the dev venv every
    function could import boto3, Powertools and pytest: a zip that forgot to vendor a dependency
    would still work locally and break on AWS. Here they see their zip, their layers and what
    ministack itself needs (botocore), as close to the Lambda runtime as the emulator allows.
    """
    python = EMULATOR_VENV / "bin" / "python"
    stamp = EMULATOR_VENV / ".installed"
    requirement = _ministack_requirement()
    if python.exists() and stamp.exists() and stamp.read_text().strip() == requirement:
        return python
    _log(f"creating {EMULATOR_VENV.name} with {requirement} (the local Lambdas' interpreter)")
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", "--clear", str(EMULATOR_VENV)], check=True)
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, requirement], check=True)
    stamp.write_text(requirement + "\n")
    return python


# ---------------------------------------------------------------------------
# The boto3 layer
# ---------------------------------------------------------------------------
def _package_paths(name: str) -> list[Path]:
    spec = importlib_util.find_spec(name)
    if spec is None or spec.origin is None:
        raise StackError(f"cannot build the boto3 layer: package {name!r} is not installed here")
    origin = Path(spec.origin)
    return [origin.parent] if origin.name == "__init__.py" else [origin]


def build_layer_zip() -> Path:
    """A reproducible zip of boto3 and its dependencies under ``python/``, from this interpreter."""
    entries: list[tuple[str, Path]] = []
    for name in LAYER_PACKAGES:
        for path in _package_paths(name):
            if path.is_file():
                entries.append((f"python/{path.name}", path))
                continue
            for file in sorted(path.rglob("*")):
                if file.is_file() and "__pycache__" not in file.parts and file.suffix != ".pyc":
                    rel = file.relative_to(path.parent).as_posix()
                    entries.append((f"python/{rel}", file))
    entries.sort()
    digest = hashlib.sha256()
    for arcname, path in entries:
        digest.update(arcname.encode())
        digest.update(path.read_bytes())
    LAYER_DIR.mkdir(parents=True, exist_ok=True)
    target = LAYER_DIR / f"{LAYER_NAME}-{digest.hexdigest()[:16]}.zip"
    if target.exists():
        return target
    tmp = target.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for arcname, path in entries:
            info = zipfile.ZipInfo(arcname, date_time=FIXED_ZIP_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, path.read_bytes())
    tmp.replace(target)
    return target


def ensure_layer(endpoint: str, created: list[str]) -> str:
    """Publish the boto3 layer unless a version with the same content exists; its version ARN."""
    archive = build_layer_zip()
    data = archive.read_bytes()
    sha = base64.b64encode(hashlib.sha256(data).digest()).decode()
    lam = client("lambda", endpoint)
    versions = lam.list_layer_versions(LayerName=LAYER_NAME).get("LayerVersions", [])
    for version in versions:
        if version.get("Description", "").endswith(sha):
            return version["LayerVersionArn"]
    published = lam.publish_layer_version(
        LayerName=LAYER_NAME,
        Description=f"boto3 for the local emulator only; sha256 {sha}",
        Content={"ZipFile": data},
        CompatibleRuntimes=["python3.11", "python3.12", "python3.13"],
    )
    _log(f"published layer {published['LayerVersionArn']} ({len(data) / 1e6:.1f} MB)")
    created.append(f"layer:{published['LayerVersionArn']}")
    return published["LayerVersionArn"]


# ---------------------------------------------------------------------------
# Resources outside the root module: state bucket, demo Incidents table, alerts queue
# ---------------------------------------------------------------------------
def backend_setting(name: str) -> str:
    match = re.search(rf'^\s*{name}\s*=\s*"([^"]+)"', BACKEND_FILE.read_text(), re.MULTILINE)
    if match is None:
        raise StackError(f"{BACKEND_FILE.relative_to(ROOT)} sets no {name}")
    return match.group(1)


def ensure_state_bucket(endpoint: str, created: list[str]) -> str:
    bucket = backend_setting("bucket")
    s3 = client("s3", endpoint, s3={"addressing_style": "path"})
    names = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    if bucket not in names:
        s3.create_bucket(Bucket=bucket)
        created.append("state_bucket")
    return bucket


def ensure_incidents_table(endpoint: str, created: list[str]) -> str:
    """The demo Incidents table (another team's in real life) with a NEW_AND_OLD_IMAGES stream."""
    ddb = client("dynamodb", endpoint)
    try:
        table = ddb.describe_table(TableName=INCIDENTS_TABLE)["Table"]
    except ddb.exceptions.ResourceNotFoundException:
        table = ddb.create_table(
            TableName=INCIDENTS_TABLE,
            AttributeDefinitions=[{"AttributeName": INCIDENTS_KEY, "AttributeType": "S"}],
            KeySchema=[{"AttributeName": INCIDENTS_KEY, "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )["TableDescription"]
        created.append("incidents_table")
    spec = table.get("StreamSpecification") or {}
    if not spec.get("StreamEnabled") or spec.get("StreamViewType") != "NEW_AND_OLD_IMAGES":
        raise StackError(
            f"table {INCIDENTS_TABLE} exists in the emulator without a NEW_AND_OLD_IMAGES stream; "
            "run 'make down' and 'make up' again"
        )
    return table["LatestStreamArn"]


def ensure_alerts_queue(endpoint: str, created: list[str]) -> tuple[str, str]:
    """The local-only SQS queue subscribed to the alerts topic, so `alerts` can show them."""
    sqs = client("sqs", endpoint)
    try:
        url = sqs.get_queue_url(QueueName=ALERTS_QUEUE)["QueueUrl"]
    except sqs.exceptions.QueueDoesNotExist:
        url = sqs.create_queue(QueueName=ALERTS_QUEUE)["QueueUrl"]
        created.append("alerts_queue")
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    return url, arn["QueueArn"]


# ---------------------------------------------------------------------------
# Terraform
# ---------------------------------------------------------------------------
def terraform_env(emu: emulator.Emulator) -> dict[str, str]:
    env = {**os.environ, **emu.sdk_env()}
    rc = ROOT / ".cache" / "terraform.rc"  # written by the Makefile when TF_PLUGIN_DIR is set
    if env.get("TF_PLUGIN_DIR") and "TF_CLI_CONFIG_FILE" not in env and rc.exists():
        env["TF_CLI_CONFIG_FILE"] = str(rc)  # so a bare `pytest` finds the provider mirror too
    env.update(
        {
            "TF_DATA_DIR": str(TF_DATA_DIR),
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
            "AWS_EC2_METADATA_DISABLED": "true",
        }
    )
    return env


def terraform(args: list[str], env: Mapping[str, str], *, capture: bool = False) -> str:
    if shutil.which("terraform") is None:
        raise StackError("terraform is not on PATH (see the README's prerequisites)")
    cmd = ["terraform", f"-chdir={ROOT}", *args]
    stdout = subprocess.PIPE if capture else sys.stderr  # stdout stays for the command's result
    proc = subprocess.run(cmd, check=False, env=dict(env), text=True, stdout=stdout)
    if proc.returncode != 0:
        raise StackError(f"'terraform {args[0]}' failed (exit {proc.returncode}); see above")
    return proc.stdout if capture else ""


def terraform_init(emu: emulator.Emulator) -> None:
    # The backend file points at the default port; the port in use goes on the command line.
    terraform(
        [
            "init",
            "-input=false",
            "-reconfigure",
            f"-backend-config={BACKEND_FILE.relative_to(ROOT)}",
            f'-backend-config=endpoints={{s3="{emu.endpoint}"}}',
        ],
        terraform_env(emu),
    )


def terraform_vars(state: StackState) -> list[str]:
    subscriptions = [{"protocol": "sqs", "endpoint": state.alerts_queue_arn, "filter_policy": None}]
    return [
        f"-var-file={TFVARS.relative_to(ROOT)}",
        f"-var=incidents_stream_arn={state.incidents_stream_arn}",
        f"-var=lambda_layer_arns={json.dumps([state.layer_arn])}",
        f"-var=management_endpoint_override={management_endpoint_template(state.port)}",
        f"-var=alert_subscriptions={json.dumps(subscriptions)}",
    ]


def terraform_outputs(emu: emulator.Emulator) -> dict[str, Any]:
    raw = json.loads(terraform(["output", "-json"], terraform_env(emu), capture=True))
    return {name: item.get("value") for name, item in raw.items()}


def build_functions() -> None:
    build = ROOT / "scripts" / "build.py"
    if not build.exists():
        raise StackError("scripts/build.py is missing: the Lambda zips cannot be built")
    subprocess.run([sys.executable, str(build)], check=True, cwd=ROOT)


# ---------------------------------------------------------------------------
# up / down / status
# ---------------------------------------------------------------------------
def up(port: int | None = None, *, build: bool = True) -> StackState:
    """Bring the stack up, or converge the one that is up. Returns what is running.

    ``port`` defaults to EMULATOR_PORT when set, else to the port of this checkout's running
    emulator, else 4566.
    """
    previous = StackState.load()
    if not TFVARS.exists():
        raise StackError(f"{TFVARS.relative_to(ROOT)} is missing")
    if build:
        build_functions()

    current = emulator.running()
    if port is None:
        explicit = os.environ.get("EMULATOR_PORT")
        port = current.port if current and not explicit else emulator.DEFAULT_PORT
    if current is not None and current.port != port:
        raise StackError(
            f"the emulator is already running on port {current.port} (pid {current.pid}); "
            f"run 'make down' first or use EMULATOR_PORT={current.port}"
        )
    if current is None:
        python = ensure_emulator_venv()
        _remove_worker_dirs()
        try:
            emu = emulator.start(port, python=str(python))
        except emulator.EmulatorError as exc:
            raise StackError(str(exc)) from None
        started = True
        _log(f"emulator started at {emu.endpoint} (pid {emu.pid}, log {emulator.LOG_FILE})")
        previous = None  # a new emulator holds nothing of the last run
    else:
        emu = current
        same_run = previous is not None and previous.emulator_pid == emu.pid
        started = bool(previous and same_run and previous.started_emulator)
        if not same_run:
            previous = None
        _log(f"reusing the emulator at {emu.endpoint} (pid {emu.pid})")
        _warn_if_not_isolated(emu.pid)

    created = list(previous.created) if previous else []
    state = StackState(
        port=port,
        endpoint=emu.endpoint,
        emulator_pid=emu.pid,
        started_emulator=started,
        created=created,
    )
    state.save()  # from here on `down` knows what to clean up, even if a later step fails
    state.state_bucket = ensure_state_bucket(emu.endpoint, created)
    state.incidents_stream_arn = ensure_incidents_table(emu.endpoint, created)
    state.alerts_queue_url, state.alerts_queue_arn = ensure_alerts_queue(emu.endpoint, created)
    state.layer_arn = ensure_layer(emu.endpoint, created)
    state.save()

    env = terraform_env(emu)
    terraform_init(emu)
    terraform(["apply", "-input=false", "-auto-approve", *terraform_vars(state)], env)
    state.applied = True
    state.outputs = terraform_outputs(emu)
    state.ws_url = ws_url(port, state.outputs["api_id"], state.outputs["stage_name"])
    state.save()
    return state


def down() -> list[str]:
    """Destroy and stop what `up` started, and nothing else. Returns what was done."""
    state = StackState.load()
    done: list[str] = []
    if state is None:
        return done
    emu = emulator.running()
    ours = emu is not None and emu.pid == state.emulator_pid
    if ours and state.started_emulator:
        # Everything up created lives in this in-memory emulator: stopping it removes it all.
        emulator.stop()
        _remove_worker_dirs()
        done.append(f"stopped the emulator (pid {state.emulator_pid}) and everything in it")
    elif ours and emu is not None:
        if state.applied:
            terraform(
                ["destroy", "-input=false", "-auto-approve", *terraform_vars(state)],
                terraform_env(emu),
            )
            done.append("destroyed the stack (terraform destroy)")
        done.extend(_delete_created(emu.endpoint, state))
    else:
        done.append("the emulator that ran the stack is gone; nothing left to remove")
    STATE_FILE.unlink(missing_ok=True)
    return done


def _warn_if_not_isolated(pid: int) -> None:
    """Say so when a reused emulator runs on another interpreter than .venv-emulator's."""
    try:
        interpreter = Path(os.fsdecode(Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]))
    except (OSError, IndexError):
        return  # no /proc: nothing to check
    expected = EMULATOR_VENV / "bin" / "python"
    if os.path.abspath(interpreter) != os.path.abspath(expected):
        _log(
            f"warning: this emulator runs on {interpreter}, not {expected}: the functions can "
            "import whatever is installed there. 'make down' and 'make up' to isolate them."
        )


def _remove_worker_dirs() -> None:
    """The emulator unpacks each function (and its layers) into its TMPDIR and leaves it there."""
    for path in emulator.STATE_DIR.glob("ministack-lambda-*"):
        shutil.rmtree(path, ignore_errors=True)


def _delete_created(endpoint: str, state: StackState) -> list[str]:
    done = []
    if "alerts_queue" in state.created and state.alerts_queue_url:
        client("sqs", endpoint).delete_queue(QueueUrl=state.alerts_queue_url)
        done.append(f"deleted queue {ALERTS_QUEUE}")
    if "incidents_table" in state.created:
        client("dynamodb", endpoint).delete_table(TableName=state.incidents_table)
        done.append(f"deleted table {state.incidents_table}")
    for item in state.created:
        if item.startswith("layer:"):
            arn = item.removeprefix("layer:")
            name, version = arn.rsplit(":", 2)[-2:]
            client("lambda", endpoint).delete_layer_version(
                LayerName=name, VersionNumber=int(version)
            )
            done.append(f"deleted layer version {arn}")
    if "state_bucket" in state.created and state.state_bucket:
        s3 = client("s3", endpoint, s3={"addressing_style": "path"})
        for obj in s3.list_objects_v2(Bucket=state.state_bucket).get("Contents", []):
            s3.delete_object(Bucket=state.state_bucket, Key=obj["Key"])
        s3.delete_bucket(Bucket=state.state_bucket)
        done.append(f"deleted bucket {state.state_bucket}")
    return done


def require_stack() -> StackState:
    """The running stack, or a StackError telling the person to run `make up`."""
    state = StackState.load()
    emu = emulator.running()
    if state is None or not state.applied or emu is None or emu.pid != state.emulator_pid:
        raise StackError("the local stack is not up: run 'make up' first")
    return state


def describe(state: StackState) -> str:
    out = state.outputs
    functions = out.get("function_names") or {}
    lines = [
        f"Local stack is up on the emulator at {state.endpoint} (pid {state.emulator_pid}).",
        f"  WebSocket URL       {state.ws_url}",
        f"  management API      {out.get('websocket_management_url')}",
        f"  Connections table   {out.get('connections_table_name')}",
        f"  Incidents table     {state.incidents_table} (demo)",
        f"  Incidents stream    {state.incidents_stream_arn}",
        f"  alerts topic        {out.get('alerts_topic_arn')}",
        f"  alerts queue        {state.alerts_queue_url} (local only)",
        f"  dead-letter queues  {out.get('dead_letter_queue_urls')}",
        "  functions           " + ", ".join(f"{k}={v}" for k, v in sorted(functions.items())),
        "",
        "Try it (two terminals):",
        "  make listen USER=alice ROLE=dispatcher",
        "  make incident ID=INC-1 URGENCY=low STATUS=open TITLE='Smoke at depot'",
        "  make incident ID=INC-1 STATUS=escalated && make alerts",
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# Person-facing commands
# ---------------------------------------------------------------------------
def connect_url(state: StackState, user: str, role: str) -> str:
    return f"{state.ws_url}?{urlencode({'userId': user, 'role': role})}"


async def _listen(url: str, label: str) -> int:
    import websockets  # noqa: PLC0415 - only the listener needs it
    from websockets.exceptions import ConnectionClosed, InvalidStatus  # noqa: PLC0415

    try:
        async with websockets.connect(url, open_timeout=30) as ws:
            print(f"connected as {label}; waiting for messages (Ctrl-C to stop)", flush=True)
            async for message in ws:
                stamp = datetime.now(UTC).strftime("%H:%M:%S.%f")[:-3]
                try:
                    body = json.dumps(json.loads(message), indent=2, sort_keys=True)
                except ValueError:
                    body = str(message)
                print(f"--- {stamp} ---\n{body}", flush=True)
    except InvalidStatus as exc:
        print(
            f"connection refused (HTTP {exc.response.status_code}): $connect did not accept "
            f"{label}; check the role against the allowed roles",
            file=sys.stderr,
        )
        return 1
    except ConnectionClosed as exc:
        print(f"connection closed by the server ({exc})", file=sys.stderr)
        return 1
    return 0


def set_incident_fields(
    ddb: Any,  # noqa: ANN401 - boto3 clients are untyped
    table: str,
    incident_id: str,
    values: Mapping[str, Any],
) -> dict[str, Any]:
    """UpdateItem setting only ``values`` (the stream carries old and new images); the new item."""
    from boto3.dynamodb.types import TypeSerializer  # noqa: PLC0415

    ser = TypeSerializer()
    return ddb.update_item(
        TableName=table,
        Key={INCIDENTS_KEY: {"S": incident_id}},
        UpdateExpression="SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(values))),
        ExpressionAttributeNames={f"#f{i}": name for i, name in enumerate(values)},
        ExpressionAttributeValues={
            f":v{i}": ser.serialize(v) for i, v in enumerate(values.values())
        },
        ReturnValues="ALL_NEW",
    )["Attributes"]


def incident_update(
    state: StackState, incident_id: str, fields: Mapping[str, str | None]
) -> dict[str, Any]:
    """Create or update one incident (only the given fields change); returns the new item."""
    from boto3.dynamodb.types import TypeDeserializer  # noqa: PLC0415

    values = {k: v for k, v in fields.items() if v}
    values["updatedAt"] = datetime.now(UTC).isoformat(timespec="milliseconds")
    ddb = client("dynamodb", state.endpoint)
    item = set_incident_fields(ddb, state.incidents_table, incident_id, values)
    de = TypeDeserializer()
    return {k: de.deserialize(v) for k, v in item.items()}


def read_alerts(
    state: StackState, wait_s: float, queue_url: str | None = None
) -> Iterator[dict[str, Any]]:
    """Receive and delete the alerts in the queue, waiting up to ``wait_s`` for the first one."""
    sqs = client("sqs", state.endpoint)
    url = queue_url or state.alerts_queue_url
    deadline = time.monotonic() + wait_s
    seen_any = False
    while True:
        remaining = deadline - time.monotonic()
        poll = 0 if seen_any else max(0, min(20, int(remaining)))
        batch = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=poll,
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        for message in batch:
            seen_any = True
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            yield json.loads(message["Body"])
        if not batch and (seen_any or time.monotonic() >= deadline):
            return


def format_alert(envelope: Mapping[str, Any]) -> str:
    attributes = {
        name: attr.get("Value") for name, attr in (envelope.get("MessageAttributes") or {}).items()
    }
    try:
        body = json.dumps(json.loads(envelope.get("Message", "")), indent=2, sort_keys=True)
    except ValueError:
        body = str(envelope.get("Message"))
    return (
        f"--- {envelope.get('Timestamp')}  {envelope.get('Subject') or '(no subject)'}\n"
        f"attributes: {json.dumps(attributes, sort_keys=True)}\n{body}"
    )


def resolve_function(state: StackState, name: str) -> str:
    functions: dict[str, str] = state.outputs.get("function_names") or {}
    if name in functions:
        return functions[name]
    if name in functions.values():
        return name
    known = ", ".join(f"{k} ({v})" for k, v in sorted(functions.items()))
    raise StackError(f"unknown function {name!r}; use one of: {known}")


def invoke(state: StackState, function: str, event: Any) -> tuple[dict[str, Any], str]:  # noqa: ANN401
    """Invoke a deployed function with an event; returns (response fields, log tail)."""
    lam = client("lambda", state.endpoint, read_timeout=120)
    resp = lam.invoke(
        FunctionName=resolve_function(state, function),
        Payload=json.dumps(event).encode(),
        LogType="Tail",
    )
    payload_raw = resp["Payload"].read()
    try:
        payload = json.loads(payload_raw) if payload_raw else None
    except ValueError:
        payload = payload_raw.decode(errors="replace")
    logs = base64.b64decode(resp.get("LogResult", "")).decode(errors="replace")
    result = {"StatusCode": resp.get("StatusCode"), "Payload": payload}
    if resp.get("FunctionError"):
        result["FunctionError"] = resp["FunctionError"]
    return result, logs


# ---------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------
def _cmd_up(args: argparse.Namespace) -> int:
    state = up(args.port, build=not args.no_build)
    print(describe(state))
    return 0


def _cmd_down(_: argparse.Namespace) -> int:
    done = down()
    print("\n".join(done) if done else "nothing to take down (no stack recorded by 'make up')")
    return 0


def _cmd_status(_: argparse.Namespace) -> int:
    try:
        state = require_stack()
    except StackError as exc:
        emu = emulator.running()
        extra = f" (an emulator is running at {emu.endpoint})" if emu else ""
        print(f"{exc}{extra}")
        return 1
    print(describe(state))
    return 0


def _cmd_listen(args: argparse.Namespace) -> int:
    state = require_stack()
    url = connect_url(state, args.user, args.role)
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(_listen(url, f"{args.user} ({args.role}) at {state.ws_url}"))
    return 0


def _cmd_incident(args: argparse.Namespace) -> int:
    state = require_stack()
    if args.urgency and args.urgency not in URGENCIES:
        _log(
            f"note: urgency {args.urgency!r} is not one of {', '.join(URGENCIES)}: "
            "the functions will treat this write as malformed"
        )
    item = incident_update(
        state, args.id, {"urgency": args.urgency, "status": args.status, "title": args.title}
    )
    print(json.dumps(item, indent=2, sort_keys=True, default=str))
    return 0


def _cmd_alerts(args: argparse.Namespace) -> int:
    state = require_stack()
    count = 0
    for envelope in read_alerts(state, args.wait):
        print(format_alert(envelope), flush=True)
        count += 1
    print(f"({count} alert{'s' if count != 1 else ''}; each is shown once)")
    return 0


def _cmd_invoke(args: argparse.Namespace) -> int:
    state = require_stack()
    event_path = Path(args.event)
    try:
        event = json.loads(event_path.read_text())
    except FileNotFoundError:
        raise StackError(f"event file {event_path} does not exist") from None
    result, logs = invoke(state, args.function, event)
    print(json.dumps(result, indent=2, sort_keys=True, default=str))
    print("--- logs ---")
    print(logs.rstrip() or "(no log output)")
    return 1 if "FunctionError" in result else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("up", help="bring the stack up on the emulator (or converge it)")
    p.add_argument("--port", type=int, default=None, help="emulator port (EMULATOR_PORT, 4566)")
    p.add_argument("--no-build", action="store_true", help="skip scripts/build.py")
    p.set_defaults(func=_cmd_up)
    sub.add_parser("down", help="destroy and stop what 'up' started").set_defaults(func=_cmd_down)
    sub.add_parser("status", help="show whether the stack is up").set_defaults(func=_cmd_status)
    p = sub.add_parser("listen", help="connect to the WebSocket and print every message")
    p.add_argument("--user", required=True)
    p.add_argument("--role", required=True)
    p.set_defaults(func=_cmd_listen)
    p = sub.add_parser("incident", help="create or update an incident in the demo table")
    p.add_argument("--id", required=True)
    p.add_argument("--urgency", default=None, help="low, medium, high or critical")
    p.add_argument("--status", default=None, help="e.g. open, escalated, resolved")
    p.add_argument("--title", default=None)
    p.set_defaults(func=_cmd_incident)
    p = sub.add_parser("alerts", help="show (and consume) the alerts the Notifier published")
    p.add_argument("--wait", type=float, default=5.0, help="seconds to wait for the first alert")
    p.set_defaults(func=_cmd_alerts)
    p = sub.add_parser("invoke", help="invoke a deployed function with an event file")
    p.add_argument("--function", required=True, help="connect, disconnect, broadcaster, notifier")
    p.add_argument("--event", required=True, help="path to an event JSON file")
    p.set_defaults(func=_cmd_invoke)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
