"""A run's score as a value: totals and per-file numbers, from analysed results or a JSON report.

This is what history records and what comparisons and gates read. It holds each file's
missing lines too, so that a comparison can say which lines are newly uncovered.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from tally.analysis.analyzer import Analyses
from tally.analysis.results import Numbers
from tally.exceptions import DataError
from tally.types import LineNo

__all__ = ["FileScore", "Summary", "summary_from_json", "summary_of"]


@dataclass(frozen=True)
class FileScore:
    """One file's numbers, counted as every report counts them, and its missing lines."""

    numbers: Numbers
    missing_lines: tuple[LineNo, ...] = ()


@dataclass(frozen=True)
class Summary:
    """A run's totals and its files' numbers. `has_branches` says whether branches were
    measured (a branch percentage means nothing otherwise)."""

    files: Mapping[str, FileScore]
    has_branches: bool = False
    at: str = ""  # ISO 8601 time of the run, when known
    label: str = ""  # where it came from: a data file, a report, a recorded run
    totals: Numbers = field(init=False)

    def __post_init__(self) -> None:
        total = sum((score.numbers for score in self.files.values()), Numbers())
        object.__setattr__(self, "totals", total)

    @property
    def line_pc(self) -> float:
        """Percent of statements that ran."""
        return self.totals.pc_statements

    @property
    def branch_pc(self) -> float | None:
        """Percent of branch ways taken; None when branches weren't measured."""
        return self.totals.pc_branches if self.has_branches else None

    @property
    def total_pc(self) -> float:
        """The percentage `tally report` shows (statements and branches together)."""
        return self.totals.pc_covered


def summary_of(results: Analyses, *, label: str = "", at: str = "") -> Summary:
    """The summary of analysed results."""
    files = {}
    for analysis in results.files:
        # History keeps no excluded count: without it here, a score read back from
        # history equals the score recorded.
        numbers = replace(analysis.numbers, n_excluded=0)
        files[analysis.name] = FileScore(numbers, tuple(sorted(analysis.missing)))
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
        counted = Numbers(
            n_files=1,
            n_statements=int(numbers["num_statements"]),
            n_missing=int(numbers["missing_lines"]),
            n_branches=int(numbers.get("num_branches", 0)),
            n_partial_branches=int(numbers.get("num_partial_branches", 0)),
            n_missing_branches=int(numbers.get("missing_branches", 0)),
        )
        files[name] = FileScore(counted, _lines(entry.get("missing_lines", ())))
    return Summary(
        files,
        has_branches=bool(meta.get("branch_coverage")),
        at=str(meta.get("timestamp", "")),
        label=os.path.basename(path),
    )


def _lines(lines: Iterable[Any]) -> tuple[LineNo, ...]:
    return tuple(sorted(int(n) for n in lines))
