"""Compare tally's executed statements (and counts vs trace, when given) with coverage.py's on
bench output: `python tests/crosscheck_bench.py OUT_DIR` where OUT_DIR/<workload>/{coverage,
tally-count}/.coverage come from one bench run."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import coverage

import tally
from tally.analysis.source import analyze_source, join_regex, read_source
from tally.config.options import DEFAULT_EXCLUDE

REGEX = join_regex(DEFAULT_EXCLUDE)


def compare(workload: Path, tool: str) -> tuple[int, int, list[str]]:
    ours = tally.CoverageData(str(workload / tool / ".coverage"))
    theirs = coverage.CoverageData(str(workload / "coverage" / ".coverage"))
    theirs.read()
    total = same = 0
    notes: list[str] = []
    for path in sorted(set(theirs.measured_files()) | set(ours.measured_files())):
        try:
            facts = analyze_source(read_source(path), path, REGEX)
        except Exception as exc:
            notes.append(f"{path}: {exc}")
            continue
        a = facts.first_lines(ours.lines(path) or []) & facts.statements
        b = facts.first_lines(theirs.lines(path) or []) & facts.statements
        total += len(a | b)
        same += len(a & b)
        if a != b:
            notes.append(
                f"{path}: only tally {sorted(a - b)[:8]} only coverage {sorted(b - a)[:8]}"
            )
    return same, total, notes


def report(
    compare: Callable[[Path, str], tuple[int, int, list[str]]],
    what: str,
    default_tool: str,
    shown: int,
) -> None:
    """Print `compare`'s agreement for each workload of the bench output named on the
    command line (`OUT_DIR [TOOL]`), with the first `shown` notes."""
    out = Path(sys.argv[1])
    tool = sys.argv[2] if len(sys.argv) > 2 else default_tool
    for workload in sorted(p for p in out.iterdir() if (p / tool / ".coverage").exists()):
        same, total, notes = compare(workload, tool)
        print(f"{workload.name}: {same}/{total} {what} agree ({100 * same / max(total, 1):.2f}%)")
        for note in notes[:shown]:
            print("   ", note)


if __name__ == "__main__":
    report(compare, "executed statements", "tally-count", 6)
