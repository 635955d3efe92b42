"""The plumbing every tool shares: configuration, emulator bookkeeping, root-module copy, runner."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from testing.waits import wait_until
from tools import terraform_rc
from tools.localenv import cli, emulator, process, terraform
from tools.localenv.config import DEFAULT_PORT, ROOT, LocalEnv
from tools.localenv.rootmodule import copy_root_module

pytestmark = pytest.mark.unit


def test_configuration_comes_from_the_environment_given_not_the_process_one(tmp_path):
    config = LocalEnv.from_environ(
        {"LOCAL_STATE_DIR": str(tmp_path), "EMULATOR_PORT": "4791"}, root=ROOT
    )
    assert config.state_dir == tmp_path
    assert config.port == 4791
    assert config.state_file == tmp_path / "devstack.json"
    # another state directory, another Terraform working directory: two stacks never share one
    assert config.tf_data_dir == tmp_path / "terraform"

    default = LocalEnv.from_environ({}, root=tmp_path)
    assert default.state_dir == tmp_path / ".local"
    assert default.port is None
    assert default.tf_data_dir == tmp_path / ".terraform" / "local"
    assert DEFAULT_PORT == 4566


def test_emulator_sdk_environment_points_at_the_endpoint_in_the_stacks_region():
    env = emulator.Emulator(port=4791, pid=1).sdk_env()
    assert env == {
        "AWS_ENDPOINT_URL": "http://127.0.0.1:4791",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
    }


def test_no_emulator_is_found_or_stopped_in_an_empty_state_directory(tmp_path):
    assert emulator.running(tmp_path) is None
    assert emulator.stop(tmp_path) is False
    files = emulator.files(tmp_path)
    files.pid_file.write_text("not a pid\n")
    assert emulator.running(tmp_path) is None
    assert emulator.stop(tmp_path) is False
    assert not files.pid_file.exists()  # a stale record is forgotten


def test_a_port_in_use_is_refused_with_the_next_one_suggested(tmp_path):
    import socket  # noqa: PLC0415

    with socket.socket() as busy:
        busy.bind((process.HOST, 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(emulator.EmulatorError, match=f"EMULATOR_PORT={port + 1}"):
            emulator.start(tmp_path, port)
    assert emulator.running(tmp_path) is None


def test_the_root_module_copy_has_one_file_list_and_a_local_backend(tmp_path):
    (tmp_path / "root").mkdir()
    root = tmp_path / "root"
    for name in ("main.tf", "backend.tf", "mine_override.tf", "notes.md", ".terraform.lock.hcl"):
        (root / name).write_text(f"# {name}\n")
    for directory in ("modules/a", "envs", ".terraform"):
        (root / directory).mkdir(parents=True)
        (root / directory / "x.tf").write_text("# x\n")

    dest = copy_root_module(root, tmp_path / "copy", {"extra_override.tf": "# extra\n"})

    files = sorted(str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file())
    assert files == [
        ".terraform.lock.hcl",
        "backend.tf",
        "backend_override.tf",
        "envs/x.tf",
        "extra_override.tf",
        "main.tf",
        "modules/a/x.tf",
    ]
    assert 'backend "local" {}' in (dest / "backend_override.tf").read_text()


def test_the_real_root_module_copies_with_every_root_file(tmp_path):
    dest = copy_root_module(ROOT, tmp_path / "stack")
    for name in ("main.tf", "variables.tf", "outputs.tf", "versions.tf", "providers.tf"):
        assert (dest / name).read_text() == (ROOT / name).read_text()
    assert (dest / "modules").is_dir() and (dest / "envs" / "local.tfvars").is_file()


def test_terraform_environment_adds_the_mirror_config_only_when_asked(tmp_path):
    rc = tmp_path / "cache" / "terraform.rc"
    sdk = emulator.sdk_env("http://127.0.0.1:1")

    plain = terraform.terraform_env({"PATH": "/bin"}, sdk, tmp_path / "data", rc)
    assert "TF_CLI_CONFIG_FILE" not in plain
    assert plain["TF_DATA_DIR"] == str(tmp_path / "data")
    assert plain["AWS_ENDPOINT_URL"] == "http://127.0.0.1:1"
    assert plain["TF_INPUT"] == "0"
    assert not rc.exists()  # online: nobody writes it

    mirrored = terraform.terraform_env({"TF_PLUGIN_DIR": "/m"}, sdk, tmp_path, rc)
    assert mirrored["TF_CLI_CONFIG_FILE"] == str(rc)
    assert rc.read_text() == terraform_rc.render("/m")  # written without make, as make writes it
    assert 'path    = "/m"' in rc.read_text()
    own = tmp_path / "own.rc"
    own.write_text("")
    explicit = {"TF_PLUGIN_DIR": "/m", "TF_CLI_CONFIG_FILE": str(own)}
    given = terraform.terraform_env(explicit, sdk, tmp_path, rc)
    assert given["TF_CLI_CONFIG_FILE"] == str(own)
    # a configuration file that does not exist configures nothing: the mirror's is used
    missing = {"TF_PLUGIN_DIR": "/m", "TF_CLI_CONFIG_FILE": str(tmp_path / "none.rc")}
    assert terraform.terraform_env(missing, sdk, tmp_path, rc)["TF_CLI_CONFIG_FILE"] == str(rc)


def fake_terraform(tmp_path: Path, script: str) -> str:
    binary = tmp_path / "terraform"
    binary.write_text(f"#!/bin/sh\n{script}\n")
    binary.chmod(binary.stat().st_mode | stat.S_IXUSR)
    return str(binary)


def test_the_runner_returns_output_and_names_the_failing_command(tmp_path):
    ok = fake_terraform(tmp_path, 'echo "$@"; echo warn >&2')
    proc = terraform.run(["show", "-json"], chdir=tmp_path, env=os.environ, capture=True, binary=ok)
    assert proc.stdout == f"-chdir={tmp_path} show -no-color -json\n"
    assert proc.stderr == "warn\n"

    failing = fake_terraform(tmp_path, "echo broken >&2; exit 3")
    with pytest.raises(terraform.TerraformError, match=r"'terraform plan' failed \(exit 3\)"):
        terraform.run(["plan"], chdir=tmp_path, env=os.environ, capture=True, binary=failing)
    proc = terraform.run(
        ["plan"], chdir=tmp_path, env=os.environ, capture=True, check=False, binary=failing
    )
    assert proc.returncode == 3


def test_a_missing_terraform_is_reported_with_where_to_look(tmp_path):
    with pytest.raises(terraform.TerraformError, match="not on PATH"):
        terraform.run(["init"], chdir=tmp_path, env={}, binary=str(tmp_path / "none"))


def test_status_without_a_stack_says_so_and_exits_1(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LOCAL_STATE_DIR", str(tmp_path))
    assert cli.main(["status"]) == 1
    assert capsys.readouterr().out == "the local stack is not up: run 'make up' first\n"
    assert cli.main(["down"]) == 0
    assert "nothing to take down" in capsys.readouterr().out
    assert cli.main(["incident", "--id", "INC-1"]) == 1
    assert "error: the local stack is not up" in capsys.readouterr().err


def test_wait_until_returns_the_first_truthy_value_or_names_what_it_waited_for():
    answers = iter([None, [], ["row"]])
    assert wait_until(lambda: next(answers), 5, "a row", interval=0) == ["row"]
    with pytest.raises(AssertionError, match="timed out after 0 s waiting for nothing"):
        wait_until(lambda: None, 0, "nothing", interval=0)
