import sys

from tools.build.cli import main

sys.exit(main())
