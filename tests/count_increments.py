"""Count the work a count-engine run does: `python tests/count_increments.py TALLY-ARGS...`.

Runs `tally TALLY-ARGS` (e.g. `run --count -m pytest`) and prints, at save, the total of
all counter increments the instrumented code made, the exceptions its guards recorded and
the number of counters. Two runs of one suite, with and without `--branch`, compare what
branch counting adds to the hot path without the timing noise of a shared machine.
"""

from __future__ import annotations

import sys

from tally.collect import counting
from tally.measurement import Measurement

_measurement = counting.CountEngine.measurement


def _counted(self: counting.CountEngine) -> Measurement:
    measured = _measurement(self)
    files = self._files.values()
    increments = sum(sum(f.banked) for f in files)
    cuts = sum(sum(f.cuts.values()) for f in files)
    slots = sum(len(f.banked) for f in files)
    print(f"\nincrements={increments} guard_cuts={cuts} counters={slots}", file=sys.stderr)
    return measured


counting.CountEngine.measurement = _counted  # type: ignore[method-assign, assignment]

if __name__ == "__main__":
    from tally.cli.main import main

    sys.exit(main(sys.argv[1:]))
