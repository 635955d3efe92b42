"""Every path and port of the local environment, in one object built once and passed in."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tools import terraform_rc
from tools.paths import ROOT

DEFAULT_PORT = 4566
ENV_NAME = "local"


@dataclass(frozen=True)
class LocalEnv:
    """Where the local stack lives: the checkout, its state directory and the emulator port.

    ``port`` is the port asked for (``--port`` or EMULATOR_PORT); None lets `up` reuse the
    running emulator's port, or take DEFAULT_PORT.
    """

    root: Path = ROOT
    state_dir: Path = ROOT / ".local"
    port: int | None = None
    board_port: int | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str], root: Path = ROOT) -> LocalEnv:
        """LOCAL_STATE_DIR (else ``<root>/.local``), EMULATOR_PORT and BOARD_PORT (else None)."""
        state_dir = Path(environ.get("LOCAL_STATE_DIR") or root / ".local")
        port = environ.get("EMULATOR_PORT")
        board_port = environ.get("BOARD_PORT")
        return cls(
            root=root,
            state_dir=state_dir,
            port=int(port) if port else None,
            board_port=int(board_port) if board_port else None,
        )

    @property
    def log_dir(self) -> Path:
        """The full output of each step of `up` (pip, the build, terraform)."""
        return self.state_dir / "logs"

    @property
    def state_file(self) -> Path:
        """What `up` created, so `down` removes exactly that."""
        return self.state_dir / "devstack.json"

    @property
    def tfvars(self) -> Path:
        return self.root / "envs" / f"{ENV_NAME}.tfvars"

    @property
    def backend_file(self) -> Path:
        return self.root / "envs" / f"{ENV_NAME}.s3.tfbackend"

    @property
    def tf_data_dir(self) -> Path:
        """TF_DATA_DIR=.terraform/local like every environment.

        An emulator with its own state directory (LOCAL_STATE_DIR) gets its own Terraform working
        directory next to it, so two local stacks on one machine never share a backend
        configuration.
        """
        if self.state_dir.resolve() == (self.root / ".local").resolve():
            return self.root / ".terraform" / ENV_NAME
        return self.state_dir / "terraform"

    @property
    def terraform_rc(self) -> Path:
        """The provider-mirror CLI configuration (``tools.terraform_rc``), for TF_PLUGIN_DIR."""
        return self.root / terraform_rc.RELATIVE_PATH

    @property
    def emulator_venv(self) -> Path:
        return self.root / ".venv-emulator"

    @property
    def layer_dir(self) -> Path:
        return self.root / ".cache" / "layers"

    @property
    def requirements(self) -> Path:
        return self.root / "requirements-dev.txt"
