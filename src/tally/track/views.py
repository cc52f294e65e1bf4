"""Score-keeping output: comparisons, baseline status, history, gates and diff coverage, as
terminal text (coloured on a terminal unless NO_COLOR), Markdown for a pull request, or JSON.

Each function receives value objects (summaries, comparisons, runs) and returns the text;
the commands decide where it goes.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from tally.analysis.results import display_covered
from tally.track.diff import DiffCoverage
from tally.track.history import Run
from tally.track.policies import Comparison, FileChange, GoalProgress
from tally.track.summary import Summary

__all__ = [
    "Style",
    "render_comparison",
    "render_diff",
    "render_history",
    "render_status",
    "sparkline",
    "summary_json",
]

_BARS = "▁▂▃▄▅▆▇█"
_COLOUR = re.compile(r"\x1b\[[0-9;]*m")


@dataclass(frozen=True)
class Style:
    """How to write: the format, the precision of percentages, and colour."""

    format: str = "text"  # text, markdown or json
    precision: int = 1
    colour: bool = False

    @classmethod
    def for_stream(cls, fmt: str, precision: int, stream: TextIO = sys.stdout) -> Style:
        """Colour only for text on a terminal, and never with NO_COLOR set (no-color.org)."""
        tty = getattr(stream, "isatty", lambda: False)()
        colour = fmt == "text" and tty and "NO_COLOR" not in os.environ
        return cls(fmt, precision, bool(colour) and os.environ.get("TERM") != "dumb")

    def pc(self, value: float | None) -> str:
        return "n/a" if value is None else display_covered(value, self.precision) + "%"

    def delta(
        self, value: float | None, *, unit: str = " points", more_is_better: bool = True
    ) -> str:
        """A change with its arrow (↑ better, ↓ worse, = none), green or red on a terminal."""
        if value is None:
            return ""
        rounded = round(value, self.precision)
        if rounded == 0:
            return "= no change"
        arrow = "↑" if rounded > 0 else "↓"
        text = f"{arrow} {abs(rounded):.{self.precision}f}{unit}"
        good = (rounded > 0) == more_is_better
        return self.paint(text, "32" if good else "31")

    def count_delta(self, value: int, *, more_is_better: bool | None = True) -> str:
        """A change in a count with its arrow; coloured unless neither way is better."""
        if value == 0:
            return "="
        text = f"{'↑' if value > 0 else '↓'} {abs(value)}"
        if more_is_better is None:
            return text
        return self.paint(text, "32" if (value > 0) == more_is_better else "31")

    def paint(self, text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.colour and self.format == "text" else text


def sparkline(values: Sequence[float]) -> str:
    """Values as a line of block characters, the lowest ▁ and the highest █ (all ▄ when
    they are all the same)."""
    low, high = min(values, default=0.0), max(values, default=0.0)
    if high - low < 1e-9:
        return _BARS[3] * len(values)
    top = len(_BARS) - 1
    return "".join(_BARS[round((v - low) / (high - low) * top)] for v in values)


def summary_json(summary: Summary) -> dict[str, Any]:
    """A summary as JSON-ready values: totals and per-file numbers."""
    t = summary.totals
    return {
        "at": summary.at,
        "label": summary.label,
        "percent_covered": summary.total_pc,
        "line_percent": summary.line_pc,
        "branch_percent": summary.branch_pc,
        "statements": t.n_statements,
        "covered_lines": t.n_executed,
        "missing_lines": t.n_missing,
        "branches": t.n_branches,
        "missing_branches": t.n_missing_branches,
        "partial_branches": t.n_partial_branches,
        "files": {
            name: {
                "statements": s.numbers.n_statements,
                "missing_lines": s.numbers.n_missing,
                "branches": s.numbers.n_branches,
                "partial_branches": s.numbers.n_partial_branches,
                "percent_covered": s.numbers.pc_covered,
            }
            for name, s in sorted(summary.files.items())
        },
    }


def _dumps(doc: Any) -> str:
    return json.dumps(doc, indent=2, sort_keys=False) + "\n"


# -- comparison -----------------------------------------------------------------------------


def render_comparison(
    comparison: Comparison, style: Style, *, reasons: Sequence[str] = (), goal: float = 0.0
) -> str:
    """Two runs compared: totals with arrows, the files that changed, came or went, the
    newly uncovered lines, and the verdict (`reasons` of a regression, or none)."""
    if style.format == "json":
        return _dumps(_comparison_json(comparison, reasons, goal))
    old, new = comparison.old, comparison.new
    rows = [
        (
            "Coverage",
            style.pc(old.total_pc),
            style.pc(new.total_pc),
            style.delta(comparison.total_delta),
        ),
        (
            "Line coverage",
            style.pc(old.line_pc),
            style.pc(new.line_pc),
            style.delta(comparison.line_delta),
        ),
    ]
    if comparison.branch_delta is not None:
        rows.append(
            (
                "Branch coverage",
                style.pc(old.branch_pc),
                style.pc(new.branch_pc),
                style.delta(comparison.branch_delta),
            )
        )
    rows += [
        (
            "Statements",
            str(old.totals.n_statements),
            str(new.totals.n_statements),
            style.count_delta(
                new.totals.n_statements - old.totals.n_statements, more_is_better=None
            ),
        ),
        (
            "Lines covered",
            str(old.totals.n_executed),
            str(new.totals.n_executed),
            style.count_delta(new.totals.n_executed - old.totals.n_executed),
        ),
        (
            "Missing lines",
            str(old.totals.n_missing),
            str(new.totals.n_missing),
            style.count_delta(new.totals.n_missing - old.totals.n_missing, more_is_better=False),
        ),
    ]
    if comparison.branch_delta is not None:
        rows.append(
            (
                "Missing branches",
                str(old.totals.n_missing_branches),
                str(new.totals.n_missing_branches),
                style.count_delta(
                    new.totals.n_missing_branches - old.totals.n_missing_branches,
                    more_is_better=False,
                ),
            )
        )
    title = f"{old.label or 'old'} → {new.label or 'new'}"
    out = [_table(style, ["", "Old", "New", "Change"], rows, title=f"Coverage comparison: {title}")]
    files = [*comparison.changed, *comparison.added, *comparison.removed]
    if files:
        out.append(
            _table(
                style,
                ["File", "Old", "New", "Change", "Newly uncovered"],
                [_file_row(c, style) for c in files],
                title="Files",
            )
        )
    if goal:
        out.append(_paragraph(_goal_line(new.total_pc, goal, style)))
    out.append(_paragraph(_verdict(comparison, reasons, style)))
    return "\n".join(out)


def _file_row(change: FileChange, style: Style) -> tuple[str, ...]:
    old = style.pc(change.old.numbers.pc_covered) if change.old else "(new)"
    new = style.pc(change.new.numbers.pc_covered) if change.new else "(gone)"
    delta = style.delta(change.pc_delta) if change.old and change.new else ""
    lines = ", ".join(map(str, change.newly_uncovered[:20]))
    if len(change.newly_uncovered) > 20:
        lines += f", … ({len(change.newly_uncovered)} lines)"
    return (change.name, old, new, delta, lines)


def _goal_line(current: float, goal: float, style: Style) -> str:
    if current >= goal:
        return f"Goal of {style.pc(goal)} reached: {style.pc(current)}."
    gap = goal - current
    near = " Almost there:" if gap <= 10 else ""
    return f"{near} {gap:.{style.precision}f} points to the goal of {style.pc(goal)}.".lstrip()


def _verdict(comparison: Comparison, reasons: Sequence[str], style: Style) -> str:
    if reasons:
        return style.paint("Regression: " + "; ".join(reasons), "31")
    delta = round(comparison.total_delta, style.precision)
    if delta > 0:
        return style.paint(f"Coverage improved by {delta:.{style.precision}f} points.", "32")
    return "No regression."


def _comparison_json(comparison: Comparison, reasons: Sequence[str], goal: float) -> dict[str, Any]:
    def change(c: FileChange) -> dict[str, Any]:
        return {
            "file": c.name,
            "old_percent": c.old.numbers.pc_covered if c.old else None,
            "new_percent": c.new.numbers.pc_covered if c.new else None,
            "old_missing": c.old.numbers.n_missing if c.old else None,
            "new_missing": c.new.numbers.n_missing if c.new else None,
            "newly_uncovered_lines": list(c.newly_uncovered),
        }

    return {
        "old": summary_json(comparison.old),
        "new": summary_json(comparison.new),
        "delta": {
            "percent_covered": comparison.total_delta,
            "line_percent": comparison.line_delta,
            "branch_percent": comparison.branch_delta,
            "covered_lines": comparison.new.totals.n_executed - comparison.old.totals.n_executed,
            "missing_lines": comparison.new.totals.n_missing - comparison.old.totals.n_missing,
        },
        "files_changed": [change(c) for c in comparison.changed],
        "files_added": [change(c) for c in comparison.added],
        "files_removed": [change(c) for c in comparison.removed],
        "newly_uncovered_lines": comparison.newly_uncovered,
        "goal": goal or None,
        "regression": bool(reasons),
        "reasons": list(reasons),
    }


# -- status and history ---------------------------------------------------------------------


def render_status(
    style: Style,
    *,
    baseline: tuple[Run, str] | None,
    current: Summary | None,
    goals: Sequence[GoalProgress],
    milestones: Sequence[tuple[float, str | None]],
    runs: Sequence[Run],
) -> str:
    """The baseline, the goals and how far each is, the milestones (with the date each was
    reached), and recent history with deltas."""
    if style.format == "json":
        return _dumps(
            status_json(
                baseline=baseline, current=current, goals=goals, milestones=milestones, runs=runs
            )
        )
    out = []
    if baseline is None:
        out.append(_paragraph("No baseline yet: `tally baseline set` records one."))
    else:
        run, set_at = baseline
        s = run.summary
        text = (
            f"Baseline set {set_at}: coverage {style.pc(s.total_pc)}, lines {style.pc(s.line_pc)}"
        )
        if s.branch_pc is not None:
            text += f", branches {style.pc(s.branch_pc)}"
        if run.git.commit:
            text += f" (commit {run.git.commit[:10]}{' dirty' if run.git.dirty else ''})"
        out.append(_paragraph(text))
    if current is not None:
        out.append(
            _paragraph(
                f"Now: coverage {style.pc(current.total_pc)}, lines {style.pc(current.line_pc)}"
                + (
                    f", branches {style.pc(current.branch_pc)}"
                    if current.branch_pc is not None
                    else ""
                ),
            )
        )
    if goals:
        rows = [_goal_row(g, style) for g in goals]
        out.append(_table(style, ["Goal", "Target", "Now", "To go", "By"], rows, title="Goals"))
    if milestones:
        rows = [
            (style.pc(m), f"reached {when[:10]}" if when else "not yet") for m, when in milestones
        ]
        out.append(_table(style, ["Milestone", "Reached"], rows, title="Milestones"))
    if runs:
        out.append(render_history(runs, style, title="Recent history"))
    return "\n".join(out)


def _goal_row(g: GoalProgress, style: Style) -> tuple[str, ...]:
    if g.current is None:
        to_go = "no branch data"
    elif g.reached:
        to_go = "reached"
    else:
        to_go = f"{g.to_go:.{style.precision}f} points"
    by = ""
    if g.goal.by is not None:
        left = g.days_left or 0
        by = (
            f"{g.goal.by.isoformat()} ({left} days left)"
            if left >= 0
            else f"{g.goal.by.isoformat()} (passed)"
        )
    return (g.goal.kind, style.pc(g.goal.target), style.pc(g.current), to_go, by)


def status_json(
    *,
    baseline: tuple[Run, str] | None,
    current: Summary | None,
    goals: Sequence[GoalProgress],
    milestones: Sequence[tuple[float, str | None]],
    runs: Sequence[Run],
) -> dict[str, Any]:
    """The progress report: baseline, current, goals, milestones and history, as JSON."""
    return {
        "baseline": None if baseline is None else {"set_at": baseline[1], **_run_json(baseline[0])},
        "current": None if current is None else summary_json(current),
        "goals": [
            {
                "kind": g.goal.kind,
                "target": g.goal.target,
                "by": g.goal.by.isoformat() if g.goal.by else None,
                "current": g.current,
                "reached": g.reached,
                "points_to_go": g.to_go,
                "days_left": g.days_left,
            }
            for g in goals
        ],
        "milestones": [{"percent": m, "reached_at": when} for m, when in milestones],
        "history": [_run_json(r) for r in runs],
    }


def _run_json(run: Run) -> dict[str, Any]:
    s = run.summary
    return {
        "id": run.id,
        "at": s.at,
        "git_commit": run.git.commit,
        "git_branch": run.git.branch,
        "git_dirty": run.git.dirty,
        "tally_version": run.tally_version,
        "python_version": run.python_version,
        "percent_covered": s.total_pc,
        "line_percent": s.line_pc,
        "branch_percent": s.branch_pc,
        "statements": s.totals.n_statements,
        "missing_lines": s.totals.n_missing,
        "branches": s.totals.n_branches,
        "partial_branches": s.totals.n_partial_branches,
    }


def render_history(runs: Sequence[Run], style: Style, *, title: str = "History") -> str:
    """A table of runs with each one's change from the one before, and sparklines."""
    if style.format == "json":
        return _dumps([_run_json(r) for r in runs])
    with_branches = any(r.summary.branch_pc is not None for r in runs)
    rows = []
    previous: Run | None = None
    for run in runs:
        s = run.summary
        delta = style.delta(s.total_pc - previous.summary.total_pc) if previous else ""
        where = (run.git.branch or "") + (f" {run.git.commit[:8]}" if run.git.commit else "")
        branches = [style.pc(s.branch_pc)] if with_branches else []
        when = s.at.replace("T", " ")[:19]
        rows.append((str(run.id), when, where.strip(), style.pc(s.total_pc), *branches, delta))
        previous = run
    headers = ["Run", "When", "Git", "Coverage", *(["Branches"] if with_branches else []), "Change"]
    out = [_table(style, headers, rows, title=title)]
    if len(runs) > 1:
        out.append(_paragraph(_trend("coverage", [r.summary.total_pc for r in runs], style)))
        found = [r.summary.branch_pc for r in runs if r.summary.branch_pc is not None]
        if len(found) > 1:
            out.append(_paragraph(_trend("branches", found, style)))
    return "\n".join(out)


def _trend(name: str, values: Sequence[float], style: Style) -> str:
    """A sparkline with the range it spans."""
    low, high = min(values), max(values)
    return f"{name} {sparkline(values)}  {style.pc(low)} to {style.pc(high)}"


# -- diff coverage ----------------------------------------------------------------------------


def render_diff(diff: DiffCoverage, style: Style, *, reasons: Sequence[str] = ()) -> str:
    """The changed statements, the covered fraction, and each file's uncovered changed lines."""
    if style.format == "json":
        return _dumps(
            {
                "base": diff.base,
                "statements": diff.n_statements,
                "missing": diff.n_missing,
                "percent_covered": diff.pc_covered,
                "files": [
                    {"file": f.name, "statements": list(f.statements), "missing": list(f.missing)}
                    for f in diff.files
                ],
                "reasons": list(reasons),
            }
        )
    if not diff.files:
        head = f"Diff coverage since {diff.base}: no changed statements in measured files."
        return _paragraph(head)
    rows = [
        (
            f.name,
            str(len(f.statements)),
            str(len(f.missing)),
            style.pc(100.0 * (len(f.statements) - len(f.missing)) / len(f.statements)),
            ", ".join(map(str, f.missing)),
        )
        for f in diff.files
    ]
    out = [
        _table(
            style,
            ["File", "Changed", "Missing", "Covered", "Uncovered lines"],
            rows,
            title=f"Diff coverage since {diff.base}",
        )
    ]
    out.append(
        _paragraph(
            f"Total: {diff.n_statements - diff.n_missing} of {diff.n_statements} changed "
            f"statements ran ({style.pc(diff.pc_covered)}).",
        )
    )
    for reason in reasons:
        out.append(_paragraph(style.paint(reason, "31")))
    return "\n".join(out)


# -- layout -----------------------------------------------------------------------------------


def _paragraph(text: str) -> str:
    return text + "\n"


def _table(
    style: Style, headers: Sequence[str], rows: Sequence[Sequence[str]], *, title: str = ""
) -> str:
    """A table as aligned text, or a Markdown table (with its title in bold)."""
    if style.format == "markdown":
        out = [f"**{title}**\n"] if title else []
        out.append("| " + " | ".join(headers) + " |")
        out.append("|" + "|".join("---" if i == 0 else "---:" for i in range(len(headers))) + "|")
        out.extend(
            "| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows
        )
        return "\n".join(out) + "\n"
    widths = [max(_width(cell) for cell in column) for column in zip(headers, *rows, strict=True)]
    lines = [title] if title else []
    lines.append("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        cells = [cell + " " * (w - _width(cell)) for cell, w in zip(row, widths, strict=True)]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines) + "\n"


def _width(text: str) -> int:
    """Printed width: colour codes take none."""
    return len(_COLOUR.sub("", text))
