"""``python -m tools.redrive``: see tools.redrive.cli."""

from tools.redrive.cli import main

raise SystemExit(main())
