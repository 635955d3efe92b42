"""The whole stack on the embedded emulator: up, down and status.

`up` applies the same root module as every other environment, with ``envs/local.tfvars``, the
``envs/local.s3.tfbackend`` backend (a state bucket in the emulator's S3) and a few ``-var``s that
only make sense here (the demo table's stream, the boto3 layer, the emulator's management endpoint,
the local alerts queue). The provider reaches the emulator through the standard AWS_ENDPOINT_URL
settings: nothing in the root module knows about the emulator.

What `up` started is recorded in ``<state dir>/devstack.json`` so that `down` removes exactly that.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tools.localenv import clients, emulator, layer, resources, terraform, venv
from tools.localenv.config import DEFAULT_PORT, LocalEnv
from tools.localenv.log import log
from tools.localenv.state import StackState


class StackError(RuntimeError):
    """Something `up`/`down` could not do; the message says what to do about it."""


def ws_url(port: int, api_id: str, stage: str) -> str:
    """The emulator's WebSocket URL for a stage (also its management API base, over http)."""
    return f"ws://{emulator.HOST}:{port}/_aws/execute-api/{api_id}/{stage}"


def management_endpoint_template(port: int) -> str:
    """The root's `management_endpoint_override`: WS_CALLBACK_URL, {api_id}/{stage} left open."""
    return f"http://{emulator.HOST}:{port}/_aws/execute-api/{{api_id}}/{{stage}}"


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
    config: LocalEnv, args: list[str], env: Mapping[str, str], *, capture: bool = False
) -> str:
    """Terraform in the checkout's root module; its stdout when ``capture``."""
    return terraform.run(args, chdir=config.root, env=env, capture=capture).stdout or ""


def terraform_init(config: LocalEnv, emu: emulator.Emulator) -> None:
    # The backend file points at the default port; the port in use goes on the command line.
    backend = config.backend_file.relative_to(config.root)
    args = ["init", "-input=false", "-reconfigure", f"-backend-config={backend}"]
    args.append(f'-backend-config=endpoints={{s3="{emu.endpoint}"}}')
    run_terraform(config, args, stack_terraform_env(config, emu))


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


def build_functions(root: Path) -> None:
    build = root / "scripts" / "build.py"
    if not build.exists():
        raise StackError("scripts/build.py is missing: the Lambda zips cannot be built")
    subprocess.run([sys.executable, str(build)], check=True, cwd=root)  # noqa: S603


# ---------------------------------------------------------------------------
# up / down / status
# ---------------------------------------------------------------------------
def up(config: LocalEnv, *, build: bool = True) -> StackState:
    """Bring the stack up, or converge the one that is up. Returns what is running.

    The port is ``config.port`` when set, else the port of this state directory's running
    emulator, else DEFAULT_PORT.
    """
    previous = StackState.load(config.state_file)
    if not config.tfvars.exists():
        raise StackError(f"{config.tfvars.relative_to(config.root)} is missing")
    if build:
        build_functions(config.root)

    current = emulator.running(config.state_dir)
    port = config.port
    if port is None:
        port = current.port if current else DEFAULT_PORT
    if current is not None and current.port != port:
        raise StackError(
            f"the emulator is already running on port {current.port} (pid {current.pid}); "
            f"run 'make down' first or use EMULATOR_PORT={current.port}"
        )
    if current is None:
        python = venv.ensure_emulator_venv(config.emulator_venv, config.requirements)
        remove_worker_dirs(config.state_dir)
        try:
            emu = emulator.start(config.state_dir, port, python=str(python))
        except emulator.EmulatorError as exc:
            raise StackError(str(exc)) from None
        started = True
        log_file = emulator.EmulatorFiles(config.state_dir).log_file
        log(f"emulator started at {emu.endpoint} (pid {emu.pid}, log {log_file})")
        previous = None  # a new emulator holds nothing of the last run
    else:
        emu = current
        same_run = previous is not None and previous.emulator_pid == emu.pid
        started = bool(previous and same_run and previous.started_emulator)
        if not same_run:
            previous = None
        log(f"reusing the emulator at {emu.endpoint} (pid {emu.pid})")
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
    bucket = resources.backend_setting(config.backend_file, "bucket")
    state.state_bucket = resources.ensure_state_bucket(clients.s3(emu.endpoint), bucket, created)
    ddb = clients.dynamodb(emu.endpoint)
    state.incidents_stream_arn = resources.ensure_incidents_table(ddb, created)
    queue = resources.ensure_alerts_queue(clients.sqs(emu.endpoint), created)
    state.alerts_queue_url, state.alerts_queue_arn = queue
    archive = layer.build_layer_zip(config.layer_dir)
    state.layer_arn = layer.ensure_layer(clients.lambda_(emu.endpoint), archive, created)
    state.save(config.state_file)

    terraform_init(config, emu)
    apply = ["apply", "-input=false", "-auto-approve", *terraform_vars(config, state)]
    run_terraform(config, apply, stack_terraform_env(config, emu))
    state.applied = True
    state.outputs = terraform_outputs(config, emu)
    state.ws_url = ws_url(port, state.outputs["api_id"], state.outputs["stage_name"])
    state.save(config.state_file)
    return state


def down(config: LocalEnv) -> list[str]:
    """Destroy and stop what `up` started, and nothing else. Returns what was done."""
    state = StackState.load(config.state_file)
    done: list[str] = []
    if state is None:
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
    config.state_file.unlink(missing_ok=True)
    return done


def require_stack(config: LocalEnv) -> StackState:
    """The running stack, or a StackError telling the person to run `make up`."""
    state = StackState.load(config.state_file)
    emu = emulator.running(config.state_dir)
    if state is None or not state.applied or emu is None or emu.pid != state.emulator_pid:
        raise StackError("the local stack is not up: run 'make up' first")
    return state


def describe(state: StackState) -> str:
    """The summary `make up` and `make status` print."""
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
