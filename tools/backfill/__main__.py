"""``python -m tools.backfill``: see tools.backfill.cli."""

from tools.backfill.cli import main

raise SystemExit(main())
