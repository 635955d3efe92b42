"""What a person sees of `make up`: a timed line per step, logs kept, offline advice, the board."""

from __future__ import annotations

import io
import urllib.request
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tools.localenv import board, cli, stack, terraform
from tools.localenv.log import log, to_file
from tools.localenv.progress import Progress, tail

pytestmark = pytest.mark.unit

# What terraform 1.11 prints when init cannot reach the registry (recorded offline).
OFFLINE_INIT = """\
Initializing provider plugins...
- Finding hashicorp/aws versions matching "~> 5.100"...
Error: Failed to query available provider packages

Could not retrieve the list of available versions for provider hashicorp/aws: could not connect
to registry.terraform.io: failed to request discovery document: Get
"https://registry.terraform.io/.well-known/terraform.json": dial tcp: lookup
registry.terraform.io on 127.0.0.53:53: server misbehaving
"""


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_each_step_is_one_line_with_its_timing_and_its_output_goes_to_its_log(tmp_path):
    out, clock = io.StringIO(), Clock()
    steps = Progress(tmp_path / "logs", stream=out, clock=clock)
    with steps.step("apply", "terraform apply") as step, to_file(step.log_file):
        log("plan: 43 to add")  # a tool's message lands in the log, not between the lines
        clock.now += 52.25
        step.done("43 added")
    with steps.step("board", "the live incident board"):
        clock.now += 0.5

    assert out.getvalue().splitlines() == [
        "  apply              43 added (52.2 s)",
        "  board              done (0.5 s)",
    ]
    assert (tmp_path / "logs" / "up-apply.log").read_text() == "[devstack] plan: 43 to add\n"
    assert steps.total() == pytest.approx(52.75)


def test_a_failing_step_names_its_log_and_the_tail_shows_its_end(tmp_path):
    out = io.StringIO()
    steps = Progress(tmp_path, stream=out, clock=Clock())
    with pytest.raises(RuntimeError), steps.step("terraform init", "providers") as step:
        step.log_file.write_text("".join(f"line {n}\n" for n in range(40)))
        raise RuntimeError("init failed")

    assert steps.failed is not None and steps.failed.name == "terraform init"
    assert out.getvalue() == (
        f"  terraform init     FAILED after 0.0 s (log: {tmp_path / 'up-terraform-init.log'})\n"
    )
    end = tail(steps.failed.log_file).splitlines()
    assert end[0] == "    line 25" and end[-1] == "    line 39" and len(end) == 15


def test_terraform_writes_no_colour_codes_unless_to_a_terminal():
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert terraform.color_args(["apply", "-input=false"], io.StringIO()) == [
        "apply",
        "-no-color",
        "-input=false",
    ]
    assert terraform.color_args(["apply"], Terminal()) == ["apply"]
    assert terraform.color_args(["output", "-json"], None) == ["output", "-no-color", "-json"]
    assert terraform.color_args(["fmt", "-check"], None) == ["fmt", "-check"]  # takes no -no-color


def test_an_offline_init_says_to_set_tf_plugin_dir(tmp_path):
    assert terraform.registry_failure(OFFLINE_INIT)
    assert not terraform.registry_failure("Error: Unsupported argument\n  on main.tf line 3")

    failing = tmp_path / "terraform"
    failing.write_text(f"#!/bin/sh\ncat <<'END'\n{OFFLINE_INIT}END\nexit 1\n")
    failing.chmod(0o755)
    log_file = tmp_path / "init.log"
    with pytest.raises(terraform.ProviderDownloadError) as error:
        terraform.run(["init"], chdir=tmp_path, env={}, binary=str(failing), log_file=log_file)
    message = str(error.value)
    assert "TF_PLUGIN_DIR=" in message and "make up" in message
    assert "registry.terraform.io/hashicorp/aws/<version>/<os_arch>/" in message
    assert str(log_file) in message
    assert "Failed to query available provider packages" in log_file.read_text()


def test_the_offline_advice_names_a_mirror_found_on_this_machine(tmp_path):
    mirror = tmp_path / "plugins"
    (mirror / "registry.terraform.io" / "hashicorp" / "aws").mkdir(parents=True)
    assert terraform.find_mirrors([str(tmp_path / "none"), str(mirror)]) == [mirror]
    assert f"    TF_PLUGIN_DIR={mirror} make up\n" in terraform.offline_hint([mirror])
    assert "find / -type d" in terraform.offline_hint([])


def test_the_provider_source_is_checked_before_anything_slow(tmp_path):
    def unreachable() -> bool:
        return False

    def never_asked() -> bool:
        raise AssertionError("the registry must not be probed")

    data_dir, home = tmp_path / "tf", tmp_path / "home"
    with pytest.raises(terraform.ProviderDownloadError, match="TF_PLUGIN_DIR="):
        terraform.check_provider_source({}, data_dir, home, reachable=unreachable)
    terraform.check_provider_source({}, data_dir, home, reachable=lambda: True)

    # a mirror without the provider is named as such
    with pytest.raises(terraform.ProviderDownloadError, match=r"holds no registry\.terraform\.io"):
        terraform.check_provider_source(
            {"TF_PLUGIN_DIR": str(tmp_path)}, data_dir, home, reachable=never_asked
        )
    (tmp_path / "mirror" / "registry.terraform.io" / "hashicorp" / "aws").mkdir(parents=True)
    mirror = {"TF_PLUGIN_DIR": str(tmp_path / "mirror")}
    terraform.check_provider_source(mirror, data_dir, home, reachable=never_asked)
    # a provider installed by an earlier init needs no registry
    (data_dir / "providers" / "registry.terraform.io" / "hashicorp" / "aws").mkdir(parents=True)
    terraform.check_provider_source({}, data_dir, home, reachable=never_asked)


def test_the_board_url_carries_the_websocket_url_and_the_local_identity(stack_state):
    url = urlsplit(stack.board_link(stack_state()))
    assert (url.scheme, url.netloc, url.path) == ("http", "127.0.0.1:4580", "/board/index.html")
    [ws] = parse_qs(url.query)["url"]
    ws_url = urlsplit(ws)
    assert ws.startswith("ws://127.0.0.1:4566/_aws/execute-api/abc/prod?")
    assert parse_qs(ws_url.query) == {"userId": [stack.BOARD_USER], "role": [stack.BOARD_ROLE]}
    assert "not served" in stack.board_link(stack_state(board_base_url=""))


def test_up_ends_with_the_two_urls_and_the_next_commands(tmp_path, stack_state):
    lines = stack.summary(stack_state(), 112.4, tmp_path).splitlines()
    assert lines[0] == f"Local stack is up (1 m 52 s; logs in {tmp_path}/)."
    assert lines[1] == "  WebSocket URL  ws://127.0.0.1:4566/_aws/execute-api/abc/prod"
    assert lines[2] == f"  Board          {stack.board_link(stack_state())}"
    commands = [line.split()[1] for line in lines[5:]]
    assert commands == ["board", "listen", "token", "incident", "alerts", "status", "down"]
    assert len(lines) <= 12


def test_the_board_server_serves_clients_and_stops(tmp_path):
    site = tmp_path / "clients"
    (site / "board").mkdir(parents=True)
    (site / "board" / "index.html").write_text("<title>board</title>")
    server = board.start(tmp_path / "state", site, port=None)
    try:
        assert board.running(tmp_path / "state") == server
        assert board.start(tmp_path / "state", site) == server  # reused, not started twice
        page = f"{server.base_url}/board/index.html"
        with urllib.request.urlopen(page, timeout=5) as resp:  # noqa: S310 - http://127.0.0.1
            assert b"<title>board</title>" in resp.read()
        with pytest.raises(board.BoardError, match=f"BOARD_PORT={server.port + 1}"):
            board.choose_port(server.port)  # asked for a port in use: said so, with another
    finally:
        assert board.stop(tmp_path / "state")
    assert board.running(tmp_path / "state") is None
    assert not board.stop(tmp_path / "state")
    assert not Path(tmp_path / "state" / "board.pid").exists()


def test_a_failed_up_names_the_step_log_and_shows_its_end(tmp_path, monkeypatch, capsys):
    def failing_up(config, *, build, build_args, progress):
        with progress.step("apply", "terraform apply") as step:
            step.log_file.write_text("Plan: 43 to add\nError: creating Lambda function\n")
            message = f"'terraform apply' failed; its output is in {step.log_file}"
            raise terraform.TerraformError(message)

    monkeypatch.setattr(stack, "up", failing_up)
    monkeypatch.setenv("LOCAL_STATE_DIR", str(tmp_path))
    assert cli.main(["up", "--no-build"]) == 1

    err = capsys.readouterr().err.splitlines()
    log_file = tmp_path / "logs" / "up-apply.log"
    assert err[0] == f"Bringing the local stack up (full logs in {tmp_path / 'logs'}/):"
    assert err[1].startswith("  apply              FAILED after ")
    assert err[2] == f"error: 'terraform apply' failed; its output is in {log_file}"
    assert err[3:] == [
        f"The end of {log_file}:",
        "    Plan: 43 to add",
        "    Error: creating Lambda function",
    ]
