"""The JSON report: coverage.py's format 3 (meta, files, totals), plus execution counts.

Every key coverage.py 7.x writes is here, in its order, so what reads coverage.py's JSON
reads tally's: per file the executed, missing and excluded lines, the executed and missing
branches, a summary, and the same again per function and per class. When counts were
measured, each file also has `counts` ({line: times run} for its statements) and, with
branches, `arc_counts` ([from, to, times taken] per branch arm).
"""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass
from typing import Any

from tally.analysis.analyzer import Analyses
from tally.analysis.results import FileAnalysis, Numbers, display_covered

__all__ = ["JsonOptions", "JsonReport"]

FORMAT = 3


@dataclass(frozen=True)
class JsonOptions:
    """The `[json]` options, and the report precision."""

    pretty_print: bool = False
    precision: int = 0
    show_contexts: bool = False


class JsonReport:
    """Renders analysed results as coverage.py's JSON."""

    what = "JSON report"

    def __init__(self, options: JsonOptions) -> None:
        self.options = options

    def render(self, results: Analyses) -> str:
        """The report's text."""
        from tally.version import __version__

        branches = results.has_arcs
        report: dict[str, Any] = {
            "meta": {
                "format": FORMAT,
                "version": __version__,
                "timestamp": datetime.datetime.now().isoformat(),
                "branch_coverage": branches,
                "show_contexts": self.options.show_contexts,
                "tally_counts": results.has_counts,
            },
            "files": {},
        }
        for analysis in sorted(results.files, key=lambda a: a.name):
            report["files"][analysis.name] = self.file_entry(analysis, branches)
        report["totals"] = self.summary(results.total, branches)
        if self.options.pretty_print:
            return json.dumps(report, indent=4) + "\n"
        return json.dumps(report)

    def file_entry(self, analysis: FileAnalysis, branches: bool) -> dict[str, Any]:
        """One file's entry: its lines, branches, summary, functions and classes."""
        entry = self.lines_entry(analysis, branches)
        for kind, section in (("function", "functions"), ("class", "classes")):
            entry[section] = {
                name: self.lines_entry(part, branches, start=region.start if region else 1)
                for name, region, part in analysis.by_region(kind)
            }
        if analysis.counts is not None:
            counts = analysis.counts
            entry["counts"] = {str(n): counts.get(n, 0) for n in sorted(analysis.statements)}
            if analysis.branches is not None and analysis.branches.counts:
                entry["arc_counts"] = [
                    [a, b, c] for (a, b), c in sorted(analysis.branches.counts.items())
                ]
        return entry

    def lines_entry(
        self, analysis: FileAnalysis, branches: bool, start: int | None = None
    ) -> dict[str, Any]:
        """Executed/missing/excluded lines, summary, and with branches the arcs."""
        entry: dict[str, Any] = {
            "executed_lines": sorted(analysis.executed),
            "summary": self.summary(analysis.numbers, branches),
            "missing_lines": sorted(analysis.missing),
            "excluded_lines": sorted(analysis.excluded),
        }
        if start is not None:
            entry["start_line"] = start
        if self.options.show_contexts:
            # coverage.py's contexts_by_lineno: lines that ran only outside any test have [""].
            found = analysis.contexts or {key: [""] for key in analysis.executed}
            entry["contexts"] = {str(n): found[n] for n in sorted(found)}
        if branches:
            taken = analysis.branches.taken if analysis.branches else {}
            missing = analysis.branches.missing if analysis.branches else {}
            entry["executed_branches"] = _arc_list(taken)
            entry["missing_branches"] = _arc_list(missing)
        return entry

    def summary(self, nums: Numbers, branches: bool) -> dict[str, Any]:
        """coverage.py's summary block of `nums`."""
        precision = self.options.precision
        statements_pc = _percent(nums.n_executed, nums.n_statements)
        summary: dict[str, Any] = {
            "covered_lines": nums.n_executed,
            "num_statements": nums.n_statements,
            "percent_covered": nums.pc_covered,
            "percent_covered_display": display_covered(nums.pc_covered, precision),
            "missing_lines": nums.n_missing,
            "excluded_lines": nums.n_excluded,
            "percent_statements_covered": statements_pc,
            "percent_statements_covered_display": display_covered(statements_pc, precision),
        }
        if branches:
            branches_pc = _percent(nums.n_executed_branches, nums.n_branches)
            summary.update(
                num_branches=nums.n_branches,
                num_partial_branches=nums.n_partial_branches,
                covered_branches=nums.n_executed_branches,
                missing_branches=nums.n_missing_branches,
                percent_branches_covered=branches_pc,
                percent_branches_covered_display=display_covered(branches_pc, precision),
            )
        return summary


def _percent(part: int, whole: int) -> float:
    return 100.0 * part / whole if whole else 100.0


def _arc_list(arcs: dict[int, list[int]]) -> list[list[int]]:
    return [[start, end] for start in sorted(arcs) for end in sorted(arcs[start])]
