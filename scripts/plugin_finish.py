"""How long `pytest --tally` takes to finish once its last test is done: saving, the
reports, fail-under, --tally-no-regression and [tally] record_history, on a real suite.

    python scripts/plugin_finish.py --python VENV/bin/python --dir PROJECT --source SRC \
        [--runs 5] -- PYTEST_ARGS...

Each run is a fresh pytest process with four reports (term-missing, html, xml, json),
--tally-fail-under, --tally-no-regression and record_history, its data and history in a
directory of this script's own (one run first records the history the others compare
with). A plugin of this script's notes when the last test finished and when pytest
unconfigures; the difference is the finish time. Prints each run's and the median.
The tally measured is whichever `import tally` finds (PYTHONPATH picks a checkout).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

TIMER = '''\
"""Notes when the last test finished and when pytest unconfigures (plugin_finish.py)."""
import os
import time

import pytest

_last = [0.0]


def pytest_runtest_logfinish(nodeid, location):
    _last[0] = time.perf_counter()


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    if getattr(config, "workerinput", None) is None:
        with open(os.environ["FINISH_TIMES"], "a") as out:
            out.write(f"{time.perf_counter() - _last[0]:.4f}\\n")
'''


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", required=True, help="the project venv's python")
    parser.add_argument("--dir", required=True, help="the project's directory")
    parser.add_argument("--source", required=True, help="what --tally measures")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("pytest_args", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    pytest_args = [a for a in args.pytest_args if a != "--"]
    with tempfile.TemporaryDirectory(prefix="plugin-finish-") as work:
        out = Path(work)
        (out / "finish_timer.py").write_text(TIMER)
        rc = out / "tally.ini"
        rc.write_text(
            textwrap.dedent(f"""\
            [run]
            data_file = {out}/.coverage
            [tally]
            record_history = true
            history_file = {out}/history.sqlite
            """)
        )
        times = out / "times.txt"
        env = {
            **os.environ,
            "FINISH_TIMES": str(times),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(out), os.environ.get("PYTHONPATH")])),
        }
        command = [
            args.python,
            "-m",
            "pytest",
            "-p",
            "finish_timer",
            f"--tally={args.source}",
            f"--tally-config={rc}",
            "--tally-report=term-missing",
            f"--tally-report=html:{out}/html",
            f"--tally-report=xml:{out}/coverage.xml",
            f"--tally-report=json:{out}/coverage.json",
            "--tally-fail-under=1",
            "--tally-no-regression",
            *pytest_args,
        ]
        for run in range(args.runs + 1):
            # The first run records the history the others compare with: nothing to
            # compare with yet, so no --tally-no-regression there.
            asked = [a for a in command if run or a != "--tally-no-regression"]
            done = subprocess.run(
                asked, cwd=args.dir, env=env, capture_output=True, text=True, check=False
            )
            if done.returncode != 0:
                sys.stderr.write(done.stdout[-3000:] + done.stderr[-3000:])
                return 1
            if run == 0:
                times.unlink()
        seconds = [float(line) for line in times.read_text().split()]
    for n, value in enumerate(seconds, 1):
        print(f"run {n}: {value * 1000:.0f} ms")
    print(f"median finish: {statistics.median(seconds) * 1000:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
