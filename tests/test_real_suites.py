"""The real-suite differential harness (scripts/realsuites.py, docs/harness.md) on its two
fastest projects: their own test suites run under coverage.py and under tally, each engine of
this Python, lines, branches and an exclude_lines that replaces the defaults; every file's
lines, arcs, regions and the totals must agree, or be listed with their reason.

The sdists come from the package index; they and the projects' venvs are kept under this
venv's folder, so a second run downloads nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from support import clean_env

HARNESS = Path(__file__).parent.parent / "scripts" / "realsuites.py"
FASTEST = "jaraco.functools,cachetools"


@pytest.mark.slow
def test_the_fastest_real_suites_agree_with_coverage_py() -> None:
    done = subprocess.run(
        [sys.executable, str(HARNESS), "--projects", FASTEST],
        capture_output=True,
        text=True,
        check=False,
        env=clean_env(),
        timeout=1200,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    rows = [line for line in done.stdout.splitlines() if line.startswith("| ")][1:]
    engines = 2 if sys.version_info >= (3, 12) else 1
    assert len(rows) == 2 * 3 * engines  # projects x variants x engines
    for row in rows:
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        assert cells[-2] == "0", row  # no difference left unexplained
        assert cells[5] == cells[6], row  # tally's total is coverage.py's
        assert "passed" in cells[7], row
