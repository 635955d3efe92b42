"""``python -m tools.bench [--quick] [--only NAME ...] [--out docs/benchmarks/fanout.md]``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tools.bench import contenders, report, scenarios
from tools.paths import ROOT


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="three small scenarios (smoke)")
    parser.add_argument("--only", nargs="*", default=None, help="scenario names to run")
    parser.add_argument(
        "--readme-from",
        type=Path,
        default=None,
        help="only rewrite README.md's table from an earlier results .json",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="results file (.md and .json); default docs/benchmarks/fanout[-quick].md",
    )
    args = parser.parse_args(argv)
    if args.readme_from is not None:
        return (
            0
            if report.update_readme(json.loads(args.readme_from.read_text()), ROOT / "README.md")
            else 1
        )
    chosen: tuple[scenarios.Scenario, ...] = scenarios.QUICK if args.quick else scenarios.FULL
    if args.only:
        chosen = tuple(s for s in chosen if s.name in args.only)
    run = {
        "machine": report.machine(),
        "quick": args.quick,
        "latency_ms": scenarios.LATENCY * 1000,
        "fanout_rate": contenders.FANOUT_RATE,
        "scenarios": [],
    }
    for scenario in chosen:
        print(f"running {scenario.name}: {scenario.title} ...", file=sys.stderr, flush=True)
        result = scenarios.run_scenario(scenario)
        run["scenarios"].append(result)
        print("\n".join(report.rows(result)), flush=True)
        note = report.areas_note(run, result)  # against 1x10k, which runs before areas10k
        if note:
            print(note, flush=True)
    print("\n".join(report.targets(run)), flush=True)
    default = "fanout-quick.md" if args.quick else "fanout.md"
    out = args.out or ROOT / "docs" / "benchmarks" / default
    report.write(run, out)
    print(f"results written to {out} and {out.with_suffix('.json')}", file=sys.stderr)
    if not args.quick and not args.only and args.out is None:
        report.update_readme(run, ROOT / "README.md")
        print("README.md performance table updated", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
