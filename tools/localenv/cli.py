"""The whole stack on the embedded emulator: bring it up, use it like a person would, take it down.

    python -m tools.localenv up          # emulator, demo table, boto3 layer, terraform apply
    python -m tools.localenv down        # destroy / stop what `up` started, nothing else
    python -m tools.localenv status      # is it up, and where
    python -m tools.localenv board       # the live incident board's URL (served by `up`)
    python -m tools.localenv listen --user alice --role dispatcher
    python -m tools.localenv token --user alice --role viewer --ttl 3600
    python -m tools.localenv incident --id INC-1 --urgency high --status open --title "Fire"
    python -m tools.localenv alerts      # the alerts the Notifier published (local SQS queue)
    python -m tools.localenv invoke --function notifier --event events/stream-insert.json

LOCAL_STATE_DIR (default ``.local/``) holds the emulator's and the board server's pid and log, the
record of what `up` created and ``logs/up-<step>.log``; EMULATOR_PORT (or ``up --port``) picks the
emulator's port on 127.0.0.1, BOARD_PORT the board's (default 4580, else a free one).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import sys
import webbrowser
from collections.abc import Callable, Sequence
from pathlib import Path

from tools.localenv import board, clients, commands, emulator, stack, tokens
from tools.localenv.config import LocalEnv
from tools.localenv.layer import LayerError
from tools.localenv.log import log
from tools.localenv.progress import Progress, shown, tail
from tools.localenv.resources import ResourceError
from tools.localenv.terraform import TerraformError
from tools.localenv.venv import VenvError

# Every failure domain of the tooling: reported as "error: <message>", exit status 1.
ERRORS = (
    stack.StackError,
    commands.CommandError,
    emulator.EmulatorError,
    LayerError,
    ResourceError,
    board.BoardError,
    TerraformError,
    tokens.TokenError,
    VenvError,
)


def cmd_up(config: LocalEnv, args: argparse.Namespace) -> int:
    steps = Progress(config.log_dir)
    build_args = [*(["--arch", args.arch] if args.arch else [])]
    build_args += ["--python", args.python] if args.python else []
    print(f"Bringing the local stack up (full logs in {shown(config.log_dir)}/):", file=sys.stderr)
    try:
        state = stack.up(config, build=not args.no_build, build_args=build_args, progress=steps)
    except ERRORS as exc:
        print(f"error: {exc}", file=sys.stderr)
        if steps.failed is not None:
            print(
                f"The end of {steps.failed.log_file}:\n{tail(steps.failed.log_file)}",
                file=sys.stderr,
            )
        return 1
    print(stack.summary(state, steps.total(), config.log_dir))
    return 0


def cmd_board(config: LocalEnv, args: argparse.Namespace) -> int:
    state = stack.require_stack(config)
    if board.running(config.state_dir) is None:
        server = board.start(config.state_dir, config.root / "clients", config.board_port)
        state.board_base_url = server.base_url
        state.save(config.state_file)
    url = stack.board_link(state)
    print(url)
    if args.open:
        webbrowser.open(url)
    return 0


def cmd_down(config: LocalEnv, _: argparse.Namespace) -> int:
    done = stack.down(config)
    print("\n".join(done) if done else "nothing to take down (no stack recorded by 'make up')")
    return 0


def cmd_status(config: LocalEnv, _: argparse.Namespace) -> int:
    try:
        state = stack.require_stack(config)
    except stack.StackError as exc:
        emu = emulator.running(config.state_dir)
        extra = f" (an emulator is running at {emu.endpoint})" if emu else ""
        print(f"{exc}{extra}")
        return 1
    print(stack.describe(state))
    return 0


def cmd_listen(config: LocalEnv, args: argparse.Namespace) -> int:
    state = stack.require_stack(config)
    areas = commands.parse_areas(args.areas)
    subscription = commands.parse_filter(args.filter)
    url = commands.connect_url(state, args.user, args.role, areas=areas, subscription=subscription)
    scope = f", areas {','.join(areas)}" if areas else ""
    label = f"{args.user} ({args.role}{scope}) at {state.ws_url}"
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(commands.listen(url, label, subscription))
    return 0


def cmd_token(config: LocalEnv, args: argparse.Namespace) -> int:
    state = stack.require_stack(config)
    areas = commands.parse_areas(args.areas)
    print(commands.token(state, args.user, args.role, args.ttl, areas=areas))
    return 0


def cmd_incident(config: LocalEnv, args: argparse.Namespace) -> int:
    state = stack.require_stack(config)
    if args.urgency and args.urgency not in commands.URGENCIES:
        log(
            f"note: urgency {args.urgency!r} is not one of {', '.join(commands.URGENCIES)}: "
            "the functions will treat this write as malformed"
        )
    fields = {"urgency": args.urgency, "status": args.status, "title": args.title}
    item = commands.incident_update(state, args.id, fields)
    print(json.dumps(item, indent=2, sort_keys=True, default=str))
    return 0


def cmd_alerts(config: LocalEnv, args: argparse.Namespace) -> int:
    state = stack.require_stack(config)
    count = 0
    sqs = clients.sqs(state.endpoint)
    for envelope in commands.read_alerts(sqs, state.alerts_queue_url, args.wait):
        print(commands.format_alert(envelope), flush=True)
        count += 1
    print(f"({count} alert{'s' if count != 1 else ''}; each is shown once)")
    return 0


def cmd_invoke(config: LocalEnv, args: argparse.Namespace) -> int:
    state = stack.require_stack(config)
    event_path = Path(args.event)
    try:
        event = json.loads(event_path.read_text())
    except FileNotFoundError:
        raise commands.CommandError(f"event file {event_path} does not exist") from None
    result, logs = commands.invoke(state, args.function, event)
    print(json.dumps(result, indent=2, sort_keys=True, default=str))
    print("--- logs ---")
    print(logs.rstrip() or "(no log output)")
    return 1 if "FunctionError" in result else 0


Command = Callable[[LocalEnv, argparse.Namespace], int]


AREAS_HELP = (
    "area patterns for the token's areas claim, comma-separated: north,harbour or north/* or * "
    "(empty: no claim, the stack's default areas)"
)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="python -m tools.localenv", description=(__doc__ or "").splitlines()[0]
    )
    sub = top.add_subparsers(dest="command", required=True)
    p = sub.add_parser("up", help="bring the stack up on the emulator (or converge it)")
    p.add_argument("--port", type=int, default=None, help="emulator port (EMULATOR_PORT, 4566)")
    p.add_argument("--no-build", action="store_true", help="skip python -m tools.build")
    p.add_argument("--arch", default=None, help="Lambda architecture of the zips (build.py)")
    p.add_argument("--python", default=None, help="Lambda Python version of the zips (build.py)")
    p.set_defaults(func=cmd_up)
    p = sub.add_parser("board", help="print the URL of the board (serving it again if need be)")
    p.add_argument("--open", action="store_true", help="also open it in the default browser")
    p.set_defaults(func=cmd_board)
    sub.add_parser("down", help="destroy and stop what 'up' started").set_defaults(func=cmd_down)
    sub.add_parser("status", help="show whether the stack is up").set_defaults(func=cmd_status)
    p = sub.add_parser(
        "listen",
        help="connect to the WebSocket, sync, and print every message (reconnects and catches up)",
    )
    p.add_argument("--user", required=True)
    p.add_argument("--role", required=True)
    p.add_argument("--areas", default="", help=AREAS_HELP)
    p.add_argument(
        "--filter",
        default="",
        help='subscribe to this filter (JSON), e.g. \'{"area":["north"],"urgency":["high"]}\'',
    )
    p.set_defaults(func=cmd_listen)
    p = sub.add_parser("token", help="print a JWT the local $connect authorizer accepts")
    p.add_argument("--user", required=True)
    p.add_argument("--role", required=True)
    p.add_argument("--ttl", type=int, default=tokens.DEFAULT_TTL_S, help="lifetime in seconds")
    p.add_argument("--areas", default="", help=AREAS_HELP)
    p.set_defaults(func=cmd_token)
    p = sub.add_parser("incident", help="create or update an incident in the demo table")
    p.add_argument("--id", required=True)
    p.add_argument("--urgency", default=None, help="low, medium, high or critical")
    p.add_argument("--status", default=None, help="e.g. open, escalated, resolved")
    p.add_argument("--title", default=None)
    p.set_defaults(func=cmd_incident)
    p = sub.add_parser("alerts", help="show (and consume) the alerts the Notifier published")
    p.add_argument("--wait", type=float, default=5.0, help="seconds to wait for the first alert")
    p.set_defaults(func=cmd_alerts)
    p = sub.add_parser("invoke", help="invoke a deployed function with an event file")
    p.add_argument("--function", required=True, help="connect, disconnect, broadcaster, notifier")
    p.add_argument("--event", required=True, help="path to an event JSON file")
    p.set_defaults(func=cmd_invoke)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    config = LocalEnv.from_environ(os.environ)
    if getattr(args, "port", None) is not None:
        config = dataclasses.replace(config, port=args.port)
    func: Command = args.func
    try:
        return func(config, args)
    except ERRORS as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
