"""tools.localenv.process: the one way the local environment runs a background server (the
emulator, the board's web server), its pid, port and log recorded in a state directory."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tools.localenv import process

pytestmark = pytest.mark.unit


class Failed(process.ProcessError):
    pass


def start(files: process.ProcessFiles, script: str, ready, timeout_s: float = 15.0):
    port = process.free_port()
    command = [sys.executable, "-c", script, str(port)]
    return process.start(
        files,
        command,
        port,
        ready,
        process.Server,
        what="the test server",
        error=Failed,
        timeout_s=timeout_s,
    )


SERVE = (
    "import sys, http.server\n"
    "http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), http.server.SimpleHTTPRequestHandler)"
    ".serve_forever()\n"
)


def test_a_started_server_is_recorded_found_and_stopped(tmp_path: Path) -> None:
    files = process.ProcessFiles(tmp_path / "state", "web")
    server = start(files, SERVE, process.port_open)
    assert files.recorded() == (server.pid, server.port)
    assert process.running(files, process.port_open, process.Server) == server
    # alive but not answering
    assert process.running(files, lambda port: False, process.Server) is None
    assert process.stop(files) is True
    assert not process.pid_alive(server.pid)
    assert not files.pid_file.exists() and not files.port_file.exists()
    assert process.running(files, process.port_open, process.Server) is None
    assert process.stop(files) is False


def test_a_server_that_exits_while_starting_is_reported_with_its_log(tmp_path: Path) -> None:
    files = process.ProcessFiles(tmp_path, "web")
    with pytest.raises(Failed, match=r"(?s)the test server exited with status 3.*web\.log.*boom"):
        start(files, "import sys; print('boom', flush=True); sys.exit(3)", process.port_open)
    assert files.recorded() is None


def test_a_server_that_never_answers_is_stopped_and_forgotten(tmp_path: Path) -> None:
    files = process.ProcessFiles(tmp_path, "web")
    with pytest.raises(Failed, match=r"the test server did not answer on 127\.0\.0\.1:\d+ within"):
        start(
            files, "import time; print('waiting', flush=True); time.sleep(60)", lambda p: False, 0.5
        )
    assert files.recorded() is None
    assert "waiting" in files.log_file.read_text()
