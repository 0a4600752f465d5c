"""`python -m nst.paper`: the figure runner's command line (`nst.paper.cli`)."""

import sys

from .cli import main

sys.exit(main())
