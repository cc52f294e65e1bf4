"""Compare the branch arcs tally took with coverage.py's on bench output:
`python tests/crosscheck_branches.py OUT_DIR [TALLY_TOOL]`, where OUT_DIR/<workload>/
{coverage-branch,TALLY_TOOL}/.coverage come from one bench run (TALLY_TOOL defaults to
tally-branch-count).

For every file either measured, coverage.py analyses both data files (its analysis, not
tally's, so the comparison is coverage.py's own rules), and tally analyses its own. Each
branch arc (an arc from a line with more than one way on) counts as agreeing when coverage.py
took it on both data files or on neither, and tally's report calls it missing exactly when
coverage.py's does."""

from __future__ import annotations

from pathlib import Path

import coverage
from crosscheck_bench import report

from tally.analysis.analyzer import analyze_data
from tally.config.options import DEFAULT_EXCLUDE, DEFAULT_PARTIAL, DEFAULT_PARTIAL_ALWAYS
from tally.data.sqlite import CoverageData

Arc = tuple[int, int]


def branch_facts(data_file: Path, cwd: Path) -> dict[str, tuple[set[Arc], set[Arc]]]:
    """coverage.py's view of a data file: per file, (branch arcs possible, branch arcs
    missing)."""
    cov = coverage.Coverage(data_file=str(data_file), config_file=False)
    cov.load()
    found: dict[str, tuple[set[Arc], set[Arc]]] = {}
    for path in cov.get_data().measured_files():
        try:
            analysis = cov._analyze(path)  # the per-file analysis its reports use
        except Exception:  # a file without source: skipped by both
            continue
        exits = {line for line, n in analysis.exit_counts.items() if n > 1}
        possible = {arc for arc in analysis.arc_possibilities if arc[0] in exits}
        missing = {(a, b) for a, ends in analysis.missing_branch_arcs().items() for b in ends}
        found[path] = (possible, missing)
    return found


def tally_missing(data_file: Path, cwd: Path) -> dict[str, set[Arc]]:
    """tally's own report of the missing branches in its data file."""
    results = analyze_data(
        CoverageData(str(data_file)),
        exclude=DEFAULT_EXCLUDE,
        partial=DEFAULT_PARTIAL + DEFAULT_PARTIAL_ALWAYS,
        ignore_errors=True,
        cwd=str(cwd),
    )
    return {
        a.path: {(line, end) for line, ends in a.branches.missing.items() for end in ends}
        for a in results.files
        if a.branches is not None
    }


def compare(workload: Path, tool: str) -> tuple[int, int, list[str]]:
    theirs = branch_facts(workload / "coverage-branch" / ".coverage", workload)
    ours = branch_facts(workload / tool / ".coverage", workload)
    own = tally_missing(workload / tool / ".coverage", workload)
    total = same = 0
    notes: list[str] = []
    for path in sorted(set(theirs) | set(ours)):
        possible, missing = theirs.get(path, (set(), set()))
        possible_ours, missing_ours = ours.get(path, (possible, possible))
        if not possible:
            possible = possible_ours
        if path not in theirs:
            missing = possible
        own_missing = own.get(path, possible)
        differ = sorted(
            arc
            for arc in possible
            if len({arc in missing, arc in missing_ours, arc in own_missing}) > 1
        )
        total += len(possible)
        same += len(possible) - len(differ)
        if differ:
            shown = [
                f"{a}->{b} " + ("tally took" if (a, b) in missing else "coverage took")
                for a, b in differ[:6]
            ]
            notes.append(f"{path}: {', '.join(shown)}")
    return same, total, notes


if __name__ == "__main__":
    report(compare, "branch arcs", "tally-branch-count", 12)
