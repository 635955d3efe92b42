"""``python -m tools.plan_preview``: the command line of :mod:`tools.plan_preview.cli`."""

import sys

from tools.plan_preview.cli import main

sys.exit(main())
