"""``python -m tools.localenv``: see tools.localenv.cli."""

import sys

from tools.localenv.cli import main

sys.exit(main())
