"""The Terraform CLI configuration that installs providers from a local mirror (TF_PLUGIN_DIR).

The one owner of that file: the Makefile runs ``python -m tools.terraform_rc`` (only the standard
library, so it runs before the virtual environment exists) and exports TF_CLI_CONFIG_FILE for
every terraform it starts; the tools (``tools.localenv.terraform.terraform_env``) write the same
file when run without make. Online, with TF_PLUGIN_DIR unset, nobody writes it.

    python -m tools.terraform_rc PLUGIN_DIR [--out .cache/terraform.rc]
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from tools.paths import ROOT

RELATIVE_PATH = Path(".cache") / "terraform.rc"  # under a checkout
DEFAULT_PATH = ROOT / RELATIVE_PATH


def render(plugin_dir: str) -> str:
    """Providers of registry.terraform.io from ``plugin_dir``, anything else as usual."""
    return (
        "provider_installation {\n"
        "  filesystem_mirror {\n"
        f'    path    = "{plugin_dir}"\n'
        '    include = ["registry.terraform.io/*/*"]\n'
        "  }\n"
        "  direct {\n"
        '    exclude = ["registry.terraform.io/*/*"]\n'
        "  }\n"
        "}\n"
    )


def write(path: Path, plugin_dir: str) -> bool:
    """Write the configuration for ``plugin_dir`` to ``path`` when it differs; True when written.

    Renamed into place: makes and tests running at once share the file and never read it torn.
    """
    text = render(plugin_dir)
    try:
        if path.read_text() == text:
            return False
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.{os.getpid()}")
    try:
        partial.write_text(text)
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    return True


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m tools.terraform_rc",
        description="Write the Terraform CLI configuration for a provider mirror (TF_PLUGIN_DIR).",
    )
    p.add_argument("plugin_dir", help="the mirror: the directory above registry.terraform.io/")
    p.add_argument("--out", type=Path, default=DEFAULT_PATH, help="where to write it")
    args = p.parse_args(argv)
    if not args.plugin_dir.strip():
        p.error("the plugin directory is empty: set TF_PLUGIN_DIR to a provider mirror")
    if write(args.out, args.plugin_dir):
        print(
            f"terraform: installing providers from {args.plugin_dir} ({args.out})", file=sys.stderr
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
