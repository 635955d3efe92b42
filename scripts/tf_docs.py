"""Write the Inputs/Outputs tables of each Terraform module's README.md.

The tables use the terraform-docs markdown layout and live between
``<!-- BEGIN_TF_DOCS -->`` and ``<!-- END_TF_DOCS -->``; the prose above them
is hand-written. Reads ``variables.tf`` and ``outputs.tf`` as formatted by
``terraform fmt`` (top-level arguments indented two spaces).

    python scripts/tf_docs.py            # rewrite the tables
    python scripts/tf_docs.py --check    # exit 1 when a README is out of date
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODULE_DIRS = sorted(p for p in (ROOT / "modules").iterdir() if (p / "variables.tf").exists())
BEGIN = "<!-- BEGIN_TF_DOCS -->"
END = "<!-- END_TF_DOCS -->"
BLOCK_RE = re.compile(r'^(?:variable|output) "([^"]+)" \{$')
EMPTY = '""'
ATTR_RE = re.compile(r"^  ([a-z_]+)\s*=\s*(.*)$")


@dataclass
class Block:
    name: str
    attrs: dict[str, str]


def _balance(text: str) -> int:
    """Open minus closed brackets, ignoring those inside string literals."""
    depth = 0
    in_string = False
    escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "{[(":
            depth += 1
        elif ch in "}])":
            depth -= 1
    return depth


def parse_blocks(path: Path) -> list[Block]:
    blocks: list[Block] = []
    lines = path.read_text().splitlines()
    i = 0
    while i < len(lines):
        match = BLOCK_RE.match(lines[i])
        i += 1
        if not match:
            continue
        block = Block(name=match.group(1), attrs={})
        while i < len(lines) and lines[i] != "}":
            attr = ATTR_RE.match(lines[i])
            if attr:
                name, value = attr.group(1), attr.group(2)
                depth = _balance(value)
                i += 1
                while depth > 0 and i < len(lines):
                    value += "\n" + lines[i][2:]
                    depth += _balance(lines[i])
                    i += 1
                block.attrs[name] = value
            else:
                i += 1
        blocks.append(block)
    return blocks


def _string(value: str) -> str:
    """The text of a one-line HCL string literal."""
    return value.strip()[1:-1].replace('\\"', '"').replace("\\\\", "\\")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", "<br/>")


def _code(value: str) -> str:
    if "\n" in value:
        return f"<pre>{_cell(value)}</pre>"
    return f"`{_cell(value)}`"


def render(module_dir: Path) -> str:
    variables = parse_blocks(module_dir / "variables.tf")
    outputs = parse_blocks(module_dir / "outputs.tf")
    out = [
        "## Inputs",
        "",
        "| Name | Description | Type | Default | Required |",
        "|------|-------------|------|---------|:--------:|",
    ]
    for v in sorted(variables, key=lambda b: ("default" in b.attrs, b.name)):
        default = v.attrs.get("default")
        description = _cell(_string(v.attrs.get("description", EMPTY)))
        out.append(
            f'| <a name="input_{v.name}"></a> [{v.name}](#input_{v.name}) '
            f"| {description} "
            f"| {_code(v.attrs.get('type', 'any'))} "
            f"| {'n/a' if default is None else _code(default)} "
            f"| {'yes' if default is None else 'no'} |"
        )
    out += ["", "## Outputs", "", "| Name | Description |", "|------|-------------|"]
    for o in sorted(outputs, key=lambda b: b.name):
        description = _cell(_string(o.attrs.get("description", EMPTY)))
        out.append(
            f'| <a name="output_{o.name}"></a> [{o.name}](#output_{o.name}) | {description} |'
        )
    return "\n".join(out)


def update(readme: Path, tables: str) -> str:
    text = readme.read_text() if readme.exists() else f"# {readme.parent.name}\n\n{BEGIN}\n{END}\n"
    if BEGIN not in text or END not in text:
        text = text.rstrip() + f"\n\n{BEGIN}\n{END}\n"
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{tables}\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a README is out of date")
    args = parser.parse_args(argv)
    stale = []
    for module_dir in MODULE_DIRS:
        readme = module_dir / "README.md"
        wanted = update(readme, render(module_dir))
        current = readme.read_text() if readme.exists() else ""
        if wanted == current:
            continue
        if args.check:
            stale.append(str(readme.relative_to(ROOT)))
        else:
            readme.write_text(wanted)
            print(f"wrote {readme.relative_to(ROOT)}")
    if stale:
        print(f"out of date (run 'make module-docs'): {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
