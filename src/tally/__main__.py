"""`python -m tally`: the same command line as the `tally` script."""

from __future__ import annotations

import sys

from tally.cli.main import main

sys.exit(main())
