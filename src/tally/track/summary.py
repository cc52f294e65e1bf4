"""A run's score as a value: totals and per-file numbers, from analysed results or a JSON report.

This is what history records and what comparisons and gates read. It holds each file's
missing lines too, so that a comparison can say which lines are newly uncovered.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tally.analysis.analyzer import Analyses
from tally.analysis.results import Numbers
from tally.exceptions import DataError
from tally.types import LineNo

__all__ = ["FileScore", "Summary", "pc", "summary_from_json", "summary_of"]


def pc(done: int, total: int) -> float:
    """`done` of `total` as a percentage; 100 when there is nothing to do (coverage.py's)."""
    return 100.0 * done / total if total else 100.0


@dataclass(frozen=True)
class FileScore:
    """One file's numbers, and its missing lines."""

    statements: int
    missing: int
    branches: int = 0
    partial: int = 0  # branch lines with a way not taken
    missing_branches: int = 0
    missing_lines: tuple[LineNo, ...] = ()

    @property
    def covered(self) -> int:
        """Statements that ran."""
        return self.statements - self.missing

    @property
    def line_pc(self) -> float:
        return pc(self.covered, self.statements)

    @property
    def total_pc(self) -> float:
        """coverage.py's one number: statements and branch ways together, worked out as
        every report works it out (Numbers.pc_covered)."""
        numbers = Numbers(
            n_statements=self.statements,
            n_missing=self.missing,
            n_branches=self.branches,
            n_missing_branches=self.missing_branches,
        )
        return numbers.pc_covered


@dataclass(frozen=True)
class Summary:
    """A run's totals and its files' numbers. `has_branches` says whether branches were
    measured (a branch percentage means nothing otherwise)."""

    files: Mapping[str, FileScore]
    has_branches: bool = False
    at: str = ""  # ISO 8601 time of the run, when known
    label: str = ""  # where it came from: a data file, a report, a recorded run
    totals: FileScore = field(init=False)

    def __post_init__(self) -> None:
        scores = list(self.files.values())
        total = FileScore(
            statements=sum(s.statements for s in scores),
            missing=sum(s.missing for s in scores),
            branches=sum(s.branches for s in scores),
            partial=sum(s.partial for s in scores),
            missing_branches=sum(s.missing_branches for s in scores),
        )
        object.__setattr__(self, "totals", total)

    @property
    def line_pc(self) -> float:
        """Percent of statements that ran."""
        return self.totals.line_pc

    @property
    def branch_pc(self) -> float | None:
        """Percent of branch ways taken; None when branches weren't measured."""
        if not self.has_branches:
            return None
        t = self.totals
        return pc(t.branches - t.missing_branches, t.branches)

    @property
    def total_pc(self) -> float:
        """The percentage `tally report` shows (statements and branches together)."""
        return self.totals.total_pc


def summary_of(results: Analyses, *, label: str = "", at: str = "") -> Summary:
    """The summary of analysed results."""
    files = {}
    for analysis in results.files:
        nums = analysis.numbers
        files[analysis.name] = FileScore(
            statements=nums.n_statements,
            missing=nums.n_missing,
            branches=nums.n_branches,
            partial=nums.n_partial_branches,
            missing_branches=nums.n_missing_branches,
            missing_lines=tuple(sorted(analysis.missing)),
        )
    return Summary(files, has_branches=results.has_arcs, at=at, label=label)


def summary_from_json(path: str) -> Summary:
    """The summary in a JSON report of coverage.py's format (tally's or coverage.py's)."""
    try:
        with open(path, encoding="utf-8") as handle:
            doc = json.load(handle)
    except OSError as err:
        raise DataError(f"can't read {path}: {err.strerror}") from None
    except ValueError as err:
        raise DataError(f"{path} is not a JSON report: {err}") from None
    try:
        return _from_report(doc, path)
    except (KeyError, TypeError, ValueError, AttributeError):
        raise DataError(
            f"{path} is JSON but not a coverage JSON report (coverage.py's format: "
            "meta, files, totals); write one with `tally json`"
        ) from None


def _from_report(doc: Mapping[str, Any], path: str) -> Summary:
    meta = doc["meta"]
    files: dict[str, FileScore] = {}
    for name, entry in doc["files"].items():
        numbers = entry["summary"]
        files[name] = FileScore(
            statements=int(numbers["num_statements"]),
            missing=int(numbers["missing_lines"]),
            branches=int(numbers.get("num_branches", 0)),
            partial=int(numbers.get("num_partial_branches", 0)),
            missing_branches=int(numbers.get("missing_branches", 0)),
            missing_lines=_lines(entry.get("missing_lines", ())),
        )
    return Summary(
        files,
        has_branches=bool(meta.get("branch_coverage")),
        at=str(meta.get("timestamp", "")),
        label=os.path.basename(path),
    )


def _lines(lines: Iterable[Any]) -> tuple[LineNo, ...]:
    return tuple(sorted(int(n) for n in lines))
