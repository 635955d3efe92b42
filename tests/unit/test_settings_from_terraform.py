"""Each function's environment as Terraform sets it with its variables' defaults, fed to the
Python readers: Terraform owns defaults, ranges and allowed values, the readers require what it
sets and check that it parses, and this test is where the two meet, so neither can drift alone.

The environments come from the Terraform itself: ``terraform console`` evaluates, in a copy of
the root module, every function's handler and environment (main.tf's ``local.functions`` and the
environment module.function gets: ``local.common_environment`` merged with
``local.function_environment``). Values only known after apply (names and ARNs of resources)
get stand-ins of the right shape. Nothing here restates a default: a changed default in
variables.tf reaches the readers as it is, and a function added to Terraform without readers
listed below fails the test.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from broadcaster import BroadcastConfig
from connection_manager import ConnectConfig
from notifier import NotifierConfig
from realtime_common import metrics, state
from realtime_common.auth.settings import AuthorizerConfig
from realtime_common.config import log_level
from realtime_common.fanout.config import FanoutConfig
from realtime_common.sync.config import SyncConfig
from subscribe import SubscribeConfig
from testing import terraform_defaults
from tools.build.artifacts import ARTIFACTS
from tools.localenv.rootmodule import copy_root_module
from tools.localenv.terraform import run, terraform_env
from tools.paths import ROOT

pytestmark = pytest.mark.unit

# The fewest variables a plan of the root module needs (the $connect authorizer has no default
# key source); every setting under test keeps its default.
VARIABLES = {
    "environment": "dev",
    "authorizer": '{issuer = "https://issuer.example.com/", audience = ["app"],'
    ' jwks_url = "https://issuer.example.com/.well-known/jwks.json"}',
}
# Names and ARNs of resources, known only after apply: stand-ins of the shape the readers check.
KNOWN_AFTER_APPLY = {
    "CONNECTIONS_TABLE": "realtime-dev-connections",
    "STATE_TABLE": "realtime-dev-state",
    "IDEMPOTENCY_TABLE": "realtime-dev-idempotency",
    "WS_CALLBACK_URL": "https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com/prod",
    "CONNECT_ROUTE_ARN": "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/$connect",
    "SNS_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:realtime-dev-alerts",
}
EXPRESSION = (
    "{for name, f in local.functions : name => {handler = f.handler, environment = "
    "merge(local.common_environment, local.function_environment[name])}}"
)

Reader = Callable[[Mapping[str, str]], object]


def _metrics(env: Mapping[str, str]) -> object:
    return metrics.make_metrics("test", env)


# Per handler, every reader of the environment its module runs at a cold start.
READERS: dict[str, tuple[Reader, ...]] = {
    "authorizer.handler": (AuthorizerConfig.from_env, log_level),
    "connection_manager.on_connect": (ConnectConfig.from_env, _metrics, log_level),
    "connection_manager.on_disconnect": (ConnectConfig.from_env, _metrics, log_level),
    "broadcaster.handler": (
        BroadcastConfig.from_env,
        state.incident_state,
        _metrics,
        log_level,
    ),
    "fanout_worker.handler": (FanoutConfig.from_env, log_level),
    "subscribe.handler": (SubscribeConfig.from_env, log_level),
    "notifier.handler": (NotifierConfig.from_env, _metrics, log_level),
    "sync.handler": (SyncConfig.from_env, log_level),
}
# Read by the Lambda runtime's libraries, not by our readers.
READ_BY_POWERTOOLS = frozenset({"POWERTOOLS_SERVICE_NAME"})


class RecordingEnv(dict[str, str]):
    """An environment that remembers which variables were read."""

    def __init__(self, values: Mapping[str, str]) -> None:
        super().__init__(values)
        self.read: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:
        self.read.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> str:
        self.read.add(key)
        return super().__getitem__(key)


_LINE = re.compile(r'^\s*("(?:[^"\\]|\\.)*"|[A-Za-z0-9_-]+)\s*=\s*(.*?)\s*$')


def parse_console(text: str) -> dict[str, Any]:
    """``terraform console``'s rendering of nested maps and objects of strings: a string is
    itself, a value known only after apply is None."""
    root: dict[str, Any] = {}
    stack = [root]
    for line in text.splitlines():
        stripped = line.strip()
        if stripped in ("{", "tomap({") and stack == [root] and not root:
            continue
        if stripped in ("}", "})"):
            stack.pop()
            continue
        match = _LINE.match(line)
        if match is None:
            raise AssertionError(f"unexpected line in terraform console's output: {line!r}")
        key = json.loads(match[1]) if match[1].startswith('"') else match[1]
        value = match[2]
        if value in ("{", "tomap({"):
            stack[-1][key] = child = {}
            stack.append(child)
        elif value == "(known after apply)":
            stack[-1][key] = None
        elif value.startswith('"'):
            stack[-1][key] = json.loads(value.replace("$${", "${").replace("%%{", "%{"))
        else:
            raise AssertionError(f"{key}: a value that is not a string: {value}")
    return root


@pytest.fixture(scope="module")
def functions(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Per function: its handler and its environment (None for values known after apply)."""
    if shutil.which("terraform") is None:
        pytest.fail("terraform is not on PATH (see the README's prerequisites)")
    work = tmp_path_factory.mktemp("settings")
    root = copy_root_module(ROOT, work / "root")
    artifacts = work / "build"
    artifacts.mkdir()
    for artifact in ARTIFACTS:  # filebase64sha256 needs the zips to exist, not their content
        (artifacts / artifact.file_name).write_bytes(b"")
    env = terraform_env(os.environ, {}, work / ".terraform")
    run(["init", "-input=false"], chdir=root, env=env, capture=True)  # local backend, no state
    variables = {**VARIABLES, "artifacts_dir": str(artifacts)}
    console = subprocess.run(  # noqa: S603 - terraform from PATH, our own arguments
        [
            str(shutil.which("terraform")),
            f"-chdir={root}",
            "console",
            "-no-color",
            *[f"-var={name}={value}" for name, value in variables.items()],
        ],
        input=EXPRESSION + "\n",
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=600,
    )
    assert console.returncode == 0, console.stderr[-3000:]
    return parse_console(console.stdout)


def environment(function: Mapping[str, Any]) -> dict[str, str]:
    """The function's environment, stand-ins for what is known only after apply."""
    unknown = {name for name, value in function["environment"].items() if value is None}
    assert unknown <= set(KNOWN_AFTER_APPLY), f"known only after apply: add stand-ins for {unknown}"
    return {
        name: KNOWN_AFTER_APPLY[name] if value is None else value
        for name, value in function["environment"].items()
    }


def test_every_function_terraform_deploys_has_its_readers_listed(
    functions: dict[str, dict[str, Any]],
) -> None:
    assert {f["handler"] for f in functions.values()} == set(READERS)


def test_each_function_reads_what_terraform_sets_with_the_default_variables(
    functions: dict[str, dict[str, Any]],
) -> None:
    common = frozenset.intersection(*(frozenset(f["environment"]) for f in functions.values()))
    for name, function in functions.items():
        env = RecordingEnv(environment(function))
        for reader in READERS[function["handler"]]:
            reader(env)  # a ConfigError names what Terraform does not set or what does not parse
        unread = set(env) - env.read - READ_BY_POWERTOOLS - common
        assert not unread, f"{name}: Terraform sets {sorted(unread)}, which nothing reads"


def test_the_tests_copies_of_the_defaults_are_what_terraform_sets(
    functions: dict[str, dict[str, Any]],
) -> None:
    """testing/terraform_defaults.py, the handler and fan-out tests' environments."""
    for function, copy in (
        ("broadcaster", terraform_defaults.BROADCASTER),
        ("broadcaster", terraform_defaults.INCIDENT_STATE),
        ("sync", terraform_defaults.INCIDENT_STATE),
        ("fanout-worker", terraform_defaults.FANOUT_DELIVERY),
        ("connect", terraform_defaults.CONNECT),
        ("disconnect", terraform_defaults.CONNECT),
        ("notifier", terraform_defaults.NOTIFIER),
        ("subscribe", terraform_defaults.FILTERS),
        ("authorizer", terraform_defaults.AUTHORIZER_AREAS),
    ):
        env = functions[function]["environment"]
        assert {name: env.get(name) for name in copy} == copy, function


def test_the_console_rendering_is_read_as_terraform_prints_it() -> None:
    text = (
        "{\n"
        '  "a-b" = {\n'
        "    environment = tomap({\n"
        '      "JSON" = "{\\"k\\":[\\"$${x}\\"]}"\n'
        '      "URL" = (known after apply)\n'
        "    })\n"
        '    handler = "m.handler"\n'
        "  }\n"
        "}\n"
    )
    assert parse_console(text) == {
        "a-b": {"environment": {"JSON": '{"k":["${x}"]}', "URL": None}, "handler": "m.handler"}
    }
    with pytest.raises(AssertionError, match="not a string"):
        parse_console('{\n  "N" = 3\n}\n')
