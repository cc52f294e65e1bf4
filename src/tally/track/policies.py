"""Gates as pure functions: comparisons of two summaries, regressions, thresholds, goals.

Each policy returns the reasons it fails (empty when it passes), worded to be printed as
they are by the command line and the pytest plugin alike.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass

from tally.analysis.results import display_covered, fail_under_reason
from tally.track.summary import FileScore, Summary
from tally.types import LineNo

__all__ = [
    "Comparison",
    "FileChange",
    "Goal",
    "GoalProgress",
    "compare",
    "goal_progress",
    "regression_reasons",
    "threshold_reasons",
]


@dataclass(frozen=True)
class FileChange:
    """One file in both runs (or only one: `old` or `new` is None)."""

    name: str
    old: FileScore | None
    new: FileScore | None
    newly_uncovered: tuple[LineNo, ...] = ()  # missing now, not missing before

    @property
    def pc_delta(self) -> float:
        old = self.old.numbers.pc_covered if self.old else 0.0
        new = self.new.numbers.pc_covered if self.new else 0.0
        return new - old


@dataclass(frozen=True)
class Comparison:
    """Two runs side by side: totals, and the files that changed, came or went."""

    old: Summary
    new: Summary
    changed: tuple[FileChange, ...]  # files in both whose numbers differ
    added: tuple[FileChange, ...]
    removed: tuple[FileChange, ...]

    @property
    def total_delta(self) -> float:
        return self.new.total_pc - self.old.total_pc

    @property
    def line_delta(self) -> float:
        return self.new.line_pc - self.old.line_pc

    @property
    def branch_delta(self) -> float | None:
        old, new = self.old.branch_pc, self.new.branch_pc
        return None if old is None or new is None else new - old

    @property
    def newly_uncovered(self) -> int:
        return sum(len(c.newly_uncovered) for c in self.changed)


def compare(old: Summary, new: Summary) -> Comparison:
    """How `new` differs from `old`, file by file."""
    changed, added, removed = [], [], []
    for name in sorted(set(old.files) | set(new.files)):
        before, after = old.files.get(name), new.files.get(name)
        if before is None:
            added.append(FileChange(name, None, after))
        elif after is None:
            removed.append(FileChange(name, before, None))
        elif before != after:
            newly = tuple(sorted(set(after.missing_lines) - set(before.missing_lines)))
            changed.append(FileChange(name, before, after, newly))
    return Comparison(old, new, tuple(changed), tuple(added), tuple(removed))


def _pc(value: float, precision: int) -> str:
    return display_covered(value, precision) + "%"


def regression_reasons(
    comparison: Comparison, *, tolerance: float = 0.0, precision: int = 1
) -> list[str]:
    """Why `comparison.new` is a regression from `comparison.old`: its total or branch
    percentage fell by more than `tolerance` points. Empty when it is not."""
    reasons = []
    old, new = comparison.old, comparison.new
    if comparison.total_delta < -tolerance:
        reasons.append(
            f"coverage fell from {_pc(old.total_pc, precision)} to "
            f"{_pc(new.total_pc, precision)} ({comparison.total_delta:+.{precision}f} points"
            + (f", tolerance {tolerance:g}" if tolerance else "")
            + ")"
        )
    branch = comparison.branch_delta
    if branch is not None and branch < -tolerance:
        assert old.branch_pc is not None and new.branch_pc is not None
        reasons.append(
            f"branch coverage fell from {_pc(old.branch_pc, precision)} to "
            f"{_pc(new.branch_pc, precision)} ({branch:+.{precision}f} points)"
        )
    return reasons


def threshold_reasons(
    summary: Summary,
    *,
    total: float = 0.0,
    branch: float = 0.0,
    per_file: float = 0.0,
    precision: int = 1,
) -> list[str]:
    """Why `summary` misses the thresholds (0: not checked): its total, its branch
    coverage, any one file's total. Empty when it meets them all."""
    reasons = []
    why = fail_under_reason(summary.total_pc, total, precision) if total else None
    if why:
        reasons.append(why)
    branch_pc = summary.branch_pc
    if branch and branch_pc is None:
        reasons.append(f"--fail-under-branch={branch:g} needs branch data: measure with --branch")
    elif branch and branch_pc is not None:
        why = fail_under_reason(branch_pc, branch, precision)
        if why:
            reasons.append(why.replace("total of", "branch coverage of", 1))
    if per_file:
        for name, score in sorted(summary.files.items()):
            if score.numbers.n_statements + score.numbers.n_branches == 0:
                continue
            why = fail_under_reason(score.numbers.pc_covered, per_file, precision)
            if why:
                reasons.append(why.replace("total of", f"{name}: coverage of", 1))
    return reasons


@dataclass(frozen=True)
class Goal:
    """A target percentage (total, or branch), maybe with a date to reach it by."""

    kind: str  # "line" (statements) or "branch" (branch ways)
    target: float
    by: datetime.date | None = None


@dataclass(frozen=True)
class GoalProgress:
    """How far a summary is from a goal."""

    goal: Goal
    current: float | None  # None: not measured (branch goal without branch data)
    reached: bool
    to_go: float  # points still to gain (0 when reached)
    days_left: int | None  # None without a date; negative once past it


def goal_progress(
    goals: Sequence[Goal], summary: Summary, today: datetime.date
) -> list[GoalProgress]:
    """Each goal's progress in `summary`, as of `today`."""
    progress = []
    for goal in goals:
        current = summary.branch_pc if goal.kind == "branch" else summary.line_pc
        reached = current is not None and current >= goal.target
        to_go = 0.0 if reached or current is None else goal.target - current
        days = (goal.by - today).days if goal.by else None
        progress.append(GoalProgress(goal, current, reached, to_go, days))
    return progress
