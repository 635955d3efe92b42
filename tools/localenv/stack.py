"""The whole stack on the embedded emulator: up, down and status.

`up` applies the same root module as every other environment, with ``envs/local.tfvars``, the
``envs/local.s3.tfbackend`` backend (a state bucket in the emulator's S3) and a few ``-var``s that
only make sense here (the demo table's stream, the boto3 layer, the emulator's management endpoint,
the local alerts queue). The provider reaches the emulator through the standard AWS_ENDPOINT_URL
settings: nothing in the root module knows about the emulator.

What `up` started is recorded in ``<state dir>/devstack.json`` so that `down` removes exactly that.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tools.localenv import (
    board,
    clients,
    commands,
    emulator,
    layer,
    process,
    resources,
    terraform,
    tokens,
    venv,
)
from tools.localenv.config import DEFAULT_PORT, LocalEnv
from tools.localenv.log import log, to_file
from tools.localenv.progress import Progress, shown
from tools.localenv.state import StackState


class StackError(RuntimeError):
    """Something `up`/`down` could not do; the message says what to do about it."""


def ws_url(port: int, api_id: str, stage: str) -> str:
    """The emulator's WebSocket URL for a stage (also its management API base, over http)."""
    return f"ws://{process.HOST}:{port}/_aws/execute-api/{api_id}/{stage}"


def management_endpoint_template(port: int) -> str:
    """The root's `management_endpoint_override`: WS_CALLBACK_URL, {api_id}/{stage} left open."""
    return f"http://{process.HOST}:{port}/_aws/execute-api/{{api_id}}/{{stage}}"


# ---------------------------------------------------------------------------
# Terraform, as `up` runs it
# ---------------------------------------------------------------------------
def terraform_vars(config: LocalEnv, state: StackState) -> list[str]:
    """The ``-var-file`` and the local-only ``-var``s of the local stack."""
    subscriptions = [{"protocol": "sqs", "endpoint": state.alerts_queue_arn, "filter_policy": None}]
    return [
        f"-var-file={config.tfvars.relative_to(config.root)}",
        f"-var=incidents_stream_arn={state.incidents_stream_arn}",
        f"-var=lambda_layer_arns={json.dumps([state.layer_arn])}",
        f"-var=management_endpoint_override={management_endpoint_template(state.port)}",
        f"-var=alert_subscriptions={json.dumps(subscriptions)}",
    ]


def stack_terraform_env(config: LocalEnv, emu: emulator.Emulator) -> dict[str, str]:
    return terraform.terraform_env(
        os.environ, emu.sdk_env(), config.tf_data_dir, config.terraform_rc
    )


def run_terraform(
    config: LocalEnv,
    args: list[str],
    env: Mapping[str, str],
    *,
    capture: bool = False,
    log_file: Path | None = None,
) -> str:
    """Terraform in the checkout's root module; its stdout when ``capture``."""
    proc = terraform.run(args, chdir=config.root, env=env, capture=capture, log_file=log_file)
    return proc.stdout or ""


def terraform_init(config: LocalEnv, emu: emulator.Emulator, log_file: Path | None = None) -> None:
    # The backend file points at the default port; the port in use goes on the command line.
    backend = config.backend_file.relative_to(config.root)
    args = ["init", "-input=false", "-reconfigure", f"-backend-config={backend}"]
    args.append(f'-backend-config=endpoints={{s3="{emu.endpoint}"}}')
    run_terraform(config, args, stack_terraform_env(config, emu), log_file=log_file)


def terraform_outputs(config: LocalEnv, emu: emulator.Emulator) -> dict[str, Any]:
    env = stack_terraform_env(config, emu)
    raw = json.loads(run_terraform(config, ["output", "-json"], env, capture=True))
    return {name: item.get("value") for name, item in raw.items()}


def terraform_setup(config: LocalEnv) -> tuple[dict[str, str], list[str]]:
    """Environment and ``-var`` arguments of the running stack, as `up` applied it."""
    state = require_stack(config)
    emu = emulator.running(config.state_dir)
    if emu is None:
        raise StackError("the local emulator is not running: run 'make up' first")
    return stack_terraform_env(config, emu), terraform_vars(config, state)


def build_functions(root: Path, log_file: Path, build_args: Sequence[str] = ()) -> str:
    """``python -m tools.build``, its output in ``log_file``; the first line of what it built."""
    with log_file.open("a") as out:
        proc = subprocess.run(  # noqa: S603 - this interpreter, our own package
            [sys.executable, "-m", "tools.build", *build_args],
            check=False,
            cwd=root,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    if proc.returncode != 0:
        raise StackError(f"building the Lambda zips failed (exit {proc.returncode})")
    lines = [line for line in log_file.read_text().splitlines() if line.strip()]
    zips = sum(1 for line in lines if " bytes " in line)
    return f"{zips} Lambda zips in build/" if zips else "built"


# ---------------------------------------------------------------------------
# up / down / status
# ---------------------------------------------------------------------------
def up(  # noqa: PLR0915 - one statement list, step after step, reads best as one
    config: LocalEnv,
    *,
    build: bool = True,
    build_args: Sequence[str] = (),
    progress: Progress | None = None,
) -> StackState:
    """Bring the stack up, or converge the one that is up. Returns what is running.

    The port is ``config.port`` when set, else the port of this state directory's running
    emulator, else DEFAULT_PORT. Each step prints one line on ``progress`` (a quiet one, logging
    to the state directory, when None) and logs its tools' full output to ``config.log_dir``.
    """
    steps = progress or Progress(config.log_dir, stream=io.StringIO())
    previous = StackState.load(config.state_file)
    if not config.tfvars.exists():
        raise StackError(f"{config.tfvars.relative_to(config.root)} is missing")
    current = emulator.running(config.state_dir)
    port = config.port
    if port is None:
        port = current.port if current else DEFAULT_PORT
    if current is not None and current.port != port:
        raise StackError(
            f"the emulator is already running on port {current.port} (pid {current.pid}); "
            f"run 'make down' first or use EMULATOR_PORT={current.port}"
        )
    # Before anything slow: an offline machine without TF_PLUGIN_DIR would fail at init.
    terraform.check_provider_source(os.environ, config.tf_data_dir, Path.home())

    if current is None:
        with steps.step("venv", "the emulator's interpreter") as step, to_file(step.log_file):
            python = venv.ensure_emulator_venv(
                config.emulator_venv, config.requirements, step.log_file
            )
            step.done(f"{config.emulator_venv.name} ready")
    if build:
        with steps.step("build", "Lambda zips (python -m tools.build)") as step:
            step.done(build_functions(config.root, step.log_file, build_args))

    with steps.step("emulator", f"on {process.HOST}:{port}") as step, to_file(step.log_file):
        if current is None:
            remove_worker_dirs(config.state_dir)
            try:
                emu = emulator.start(config.state_dir, port, python=str(python))
            except emulator.EmulatorError as exc:
                raise StackError(str(exc)) from None
            started = True
            log_file = emulator.files(config.state_dir).log_file
            step.done(f"started at {emu.endpoint} (pid {emu.pid}, log {shown(log_file)})")
            previous = None  # a new emulator holds nothing of the last run
        else:
            emu = current
            same_run = previous is not None and previous.emulator_pid == emu.pid
            started = bool(previous and same_run and previous.started_emulator)
            if not same_run:
                previous = None
            step.done(f"reusing {emu.endpoint} (pid {emu.pid})")
            warn_if_not_isolated(emu.pid, config.emulator_venv)

    created = list(previous.created) if previous else []
    state = StackState(
        port=port,
        endpoint=emu.endpoint,
        emulator_pid=emu.pid,
        started_emulator=started,
        created=created,
    )
    state.save(config.state_file)  # from here on `down` knows what to clean up, even on failure
    with steps.step("outside resources", "state bucket, Incidents table, alerts queue") as step:
        bucket = resources.backend_setting(config.backend_file, "bucket")
        s3 = clients.s3(emu.endpoint)
        state.state_bucket = resources.ensure_state_bucket(s3, bucket, created)
        ddb = clients.dynamodb(emu.endpoint)
        state.incidents_stream_arn = resources.ensure_incidents_table(ddb, created)
        queue = resources.ensure_alerts_queue(clients.sqs(emu.endpoint), created)
        state.alerts_queue_url, state.alerts_queue_arn = queue
        step.done(f"demo table {state.incidents_table}, with its stream")
    with steps.step("layer", "boto3 for the local functions") as step, to_file(step.log_file):
        archive = layer.build_layer_zip(config.layer_dir)
        known = len(created)
        state.layer_arn = layer.ensure_layer(clients.lambda_(emu.endpoint), archive, created)
        step.done("published" if len(created) > known else "unchanged")
    state.save(config.state_file)

    with steps.step("terraform init", "providers and the emulator's S3 backend") as step:
        terraform_init(config, emu, step.log_file)
        mirror = os.environ.get("TF_PLUGIN_DIR")
        step.done(f"provider from {mirror}" if mirror else "provider from the registry")
    with steps.step("apply", "terraform apply") as step:
        apply = ["apply", "-input=false", "-auto-approve", *terraform_vars(config, state)]
        run_terraform(config, apply, stack_terraform_env(config, emu), log_file=step.log_file)
        state.applied = True
        state.outputs = terraform_outputs(config, emu)
        state.ws_url = ws_url(port, state.outputs["api_id"], state.outputs["stage_name"])
        step.done(apply_summary(step.log_file))
    state.save(config.state_file)
    with steps.step("authorizer", "the HS256 secret the $connect authorizer checks") as step:
        step.done(ensure_authorizer_secret(emu.endpoint, state))
    state.save(config.state_file)
    with steps.step("board", "the live incident board") as step, to_file(step.log_file):
        serving = board.running(config.state_dir)
        try:
            server = board.start(config.state_dir, config.root / "clients", config.board_port)
        except board.BoardError as exc:
            raise StackError(str(exc)) from None
        state.board_base_url = server.base_url
        verb = "still served" if serving == server else "served"
        step.done(f"{verb} at {server.base_url} (pid {server.pid})")
    state.save(config.state_file)
    return state


def ensure_authorizer_secret(endpoint: str, state: StackState) -> str:
    """Record what the deployed authorizer checks and put its secret in SSM when missing.

    The authorizer reads the secret at its first invocation, so putting it after the apply is in
    time. Without the stack's own authorizer (turned off in envs/local.tfvars) clients fall back
    to the query-string identity and nothing is stored.
    """
    function = (state.outputs.get("function_names") or {}).get("authorizer")
    issuer = tokens.deployed_issuer(clients.lambda_(endpoint), function) if function else None
    state.authorizer = issuer.to_state() if issuer else {}
    if issuer is None:
        return "none deployed: clients connect with query-string identity"
    name = issuer.secret_parameter
    put = tokens.ensure_secret(clients.ssm(endpoint), name, state.created)
    return f"{'generated into' if put else 'kept in'} SSM SecureString {name}"


def apply_summary(log_file: Path) -> str:
    """Terraform's "Apply complete! Resources: ..." line, without its decoration."""
    for line in reversed(log_file.read_text(errors="replace").splitlines()):
        if line.startswith("Apply complete!"):
            return line.removeprefix("Apply complete! ").rstrip(".")
    return "applied"


def down(config: LocalEnv) -> list[str]:
    """Destroy and stop what `up` started, and nothing else. Returns what was done."""
    state = StackState.load(config.state_file)
    done: list[str] = []
    if state is None:
        if board.stop(config.state_dir):
            done.append("stopped the board's web server")
        return done
    emu = emulator.running(config.state_dir)
    ours = emu is not None and emu.pid == state.emulator_pid
    if ours and state.started_emulator:
        # Everything up created lives in this in-memory emulator: stopping it removes it all.
        emulator.stop(config.state_dir)
        remove_worker_dirs(config.state_dir)
        done.append(f"stopped the emulator (pid {state.emulator_pid}) and everything in it")
    elif ours and emu is not None:
        if state.applied:
            destroy = ["destroy", "-input=false", "-auto-approve", *terraform_vars(config, state)]
            run_terraform(config, destroy, stack_terraform_env(config, emu))
            done.append("destroyed the stack (terraform destroy)")
        done.extend(delete_created(emu.endpoint, state))
    else:
        done.append("the emulator that ran the stack is gone; nothing left to remove")
    if board.stop(config.state_dir):
        done.append("stopped the board's web server")
    config.state_file.unlink(missing_ok=True)
    return done


def require_stack(config: LocalEnv) -> StackState:
    """The running stack, or a StackError telling the person to run `make up`."""
    state = StackState.load(config.state_file)
    emu = emulator.running(config.state_dir)
    if state is None or not state.applied or emu is None or emu.pid != state.emulator_pid:
        raise StackError("the local stack is not up: run 'make up' first")
    return state


# The identity the board served by `up` connects with: a token for it (commands.identity), valid
# for BOARD_TOKEN_TTL_S; `make board` prints a fresh link.
BOARD_USER = "board"
BOARD_ROLE = "viewer"
BOARD_TOKEN_TTL_S = 12 * 3600


def board_link(state: StackState) -> str:
    """The served board's URL, pre-filled with the WebSocket URL and a token (or identity)."""
    if not state.board_base_url:
        return "(not served: run 'make up')"
    url, token = commands.identity(state, BOARD_USER, BOARD_ROLE, BOARD_TOKEN_TTL_S)
    return board.board_url(state.board_base_url, url, token)


NEXT_STEPS = (
    ("make board", "this URL again (OPEN=1 opens it)"),
    ("make listen USER=alice ROLE=dispatcher", "print what a client receives"),
    ("make token USER=alice ROLE=viewer", "a token the stack accepts (TTL=3600 s)"),
    ("make incident ID=INC-1 URGENCY=high", "write an incident (STATUS=, TITLE=)"),
    ("make alerts", "what the Notifier published"),
    ("make status", "every endpoint"),
    ("make down", "stop it all"),
)


def summary(state: StackState, seconds: float, log_dir: Path) -> str:
    """What `make up` ends with: the two URLs and the next commands."""
    width = max(len(command) for command, _ in NEXT_STEPS)
    lines = [
        f"Local stack is up ({format_duration(seconds)}; logs in {shown(log_dir)}/).",
        f"  WebSocket URL  {state.ws_url}",
        f"  Board          {board_link(state)}",
        "",
        "Next:",
        *(f"  {command:<{width}}  {what}" for command, what in NEXT_STEPS),
    ]
    return "\n".join(lines)


def format_duration(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} m {rest:02d} s" if minutes else f"{seconds:.1f} s"


def describe(state: StackState) -> str:
    """The summary `make status` prints."""
    out = state.outputs
    functions = out.get("function_names") or {}
    lines = [
        f"Local stack is up on the emulator at {state.endpoint} (pid {state.emulator_pid}).",
        f"  WebSocket URL       {state.ws_url}",
        f"  board               {board_link(state)}",
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


def delete_created(endpoint: str, state: StackState) -> list[str]:
    """Delete what `up` created in an emulator it did not start; what was done."""
    done = []
    if "alerts_queue" in state.created and state.alerts_queue_url:
        done.append(resources.delete_queue(clients.sqs(endpoint), state.alerts_queue_url))
    if "incidents_table" in state.created:
        done.append(resources.delete_table(clients.dynamodb(endpoint), state.incidents_table))
    for item in state.created:
        if item.startswith("layer:"):
            lam = clients.lambda_(endpoint)
            done.append(resources.delete_layer_version(lam, item.removeprefix("layer:")))
    for item in state.created:
        if item.startswith("secret:"):
            name = item.removeprefix("secret:")
            done.append(resources.delete_parameter(clients.ssm(endpoint), name))
    if "state_bucket" in state.created and state.state_bucket:
        done.append(resources.delete_bucket(clients.s3(endpoint), state.state_bucket))
    return done


def warn_if_not_isolated(pid: int, emulator_venv: Path) -> None:
    """Say so when a reused emulator runs on another interpreter than .venv-emulator's."""
    try:
        interpreter = Path(os.fsdecode(Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]))
    except (OSError, IndexError):
        return  # no /proc: nothing to check
    expected = emulator_venv / "bin" / "python"
    if os.path.abspath(interpreter) != os.path.abspath(expected):
        log(
            f"warning: this emulator runs on {interpreter}, not {expected}: the functions can "
            "import whatever is installed there. 'make down' and 'make up' to isolate them."
        )


def remove_worker_dirs(state_dir: Path) -> None:
    """The emulator unpacks each function (and its layers) into its TMPDIR and leaves it there."""
    for path in state_dir.glob("ministack-lambda-*"):
        shutil.rmtree(path, ignore_errors=True)
