"""Analysed results: per-file statements/executed/missing/counts and their totals, as values."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Set
from dataclasses import astuple, dataclass, field
from decimal import Decimal

from tally.analysis.regions import Region
from tally.types import Count, LineNo

__all__ = [
    "Branches",
    "FileAnalysis",
    "Numbers",
    "display_covered",
    "fail_under_reason",
    "format_lines",
    "human_key",
    "percent",
]


def percent(done: int, total: int) -> float:
    """`done` of `total` as a percentage; 100 when there is nothing to do (coverage.py's)."""
    return 100.0 * done / total if total else 100.0


@dataclass(frozen=True)
class Numbers:
    """Totals for one file or many: what the report's columns and fail_under use."""

    n_files: int = 0
    n_statements: int = 0
    n_excluded: int = 0
    n_missing: int = 0
    n_branches: int = 0
    n_partial_branches: int = 0  # missing arcs from branch lines that ran
    n_missing_branches: int = 0

    @property
    def n_executed(self) -> int:
        """Statements that ran."""
        return self.n_statements - self.n_missing

    @property
    def n_executed_branches(self) -> int:
        """Branch arcs taken."""
        return self.n_branches - self.n_missing_branches

    @property
    def pc_covered(self) -> float:
        """Percent of statements and branch arcs that ran, as coverage.py computes it:
        (statements run + arcs taken) / (statements + arcs); 100 when there are none."""
        return percent(
            self.n_executed + self.n_executed_branches, self.n_statements + self.n_branches
        )

    @property
    def pc_statements(self) -> float:
        """Percent of statements that ran."""
        return percent(self.n_executed, self.n_statements)

    @property
    def pc_branches(self) -> float:
        """Percent of branch arcs taken."""
        return percent(self.n_executed_branches, self.n_branches)

    def __add__(self, other: Numbers) -> Numbers:
        return Numbers(*(a + b for a, b in zip(astuple(self), astuple(other), strict=True)))


@dataclass(frozen=True)
class Branches:
    """A file's branch lines (more than one way on) and the ways not taken."""

    exits: dict[LineNo, int]  # branch line -> number of ways on
    missing: dict[LineNo, list[LineNo]]  # branch line -> destinations never reached
    taken: dict[LineNo, list[LineNo]] = field(default_factory=dict)  # -> reached
    counts: dict[tuple[LineNo, LineNo], Count] = field(default_factory=dict)  # when counted
    descriptions: dict[tuple[LineNo, LineNo], str] = field(default_factory=dict)  # missing
    actions: dict[tuple[LineNo, LineNo], str] = field(default_factory=dict)  # "jump to line 9"


@dataclass(frozen=True)
class FileAnalysis:
    """One measured file: its statements and what of them ran, how often."""

    path: str
    name: str  # relative to the current directory, as shown in reports
    statements: frozenset[LineNo]
    excluded: frozenset[LineNo]
    executed: frozenset[LineNo]
    counts: dict[LineNo, Count] | None = field(default=None, compare=False)
    branches: Branches | None = field(default=None, compare=False)
    regions: tuple[Region, ...] = field(default=(), compare=False)
    # With per-test contexts: {line: the contexts that ran it}.
    contexts: dict[LineNo, list[str]] | None = field(default=None, compare=False)

    @property
    def missing(self) -> frozenset[LineNo]:
        """Statements that never ran."""
        return self.statements - self.executed

    @property
    def numbers(self) -> Numbers:
        """This file's totals."""
        n_branches = n_partial = n_missing_branches = 0
        if self.branches is not None:
            missing = self.missing
            n_branches = sum(self.branches.exits.values())
            for line, ends in self.branches.missing.items():
                n_missing_branches += len(ends)
                if line not in missing:
                    n_partial += len(ends)
        return Numbers(
            1,
            len(self.statements),
            len(self.excluded),
            len(self.missing),
            n_branches,
            n_partial,
            n_missing_branches,
        )

    def missing_formatted(self) -> str:
        """Missing lines as ranges of consecutive statements, then branch arcs not taken
        from lines that ran: "1-2, 5-11, 13, 20->22, 24->exit"."""
        arcs = self.branches.missing if self.branches is not None else None
        return format_lines(self.statements, self.missing, arcs)

    def by_region(self, kind: str) -> list[tuple[str, Region | None, FileAnalysis]]:
        """This file's functions (or classes, by `kind`) in line order, each named and
        with its part of the analysis, then the lines outside them all, named "".

        Names defined more than once (`@overload` stubs, a definition in both arms of a
        `try`) stay apart by coverage.py's rule: the first with statements keeps the bare
        name, the others are `name@LINE`."""
        regions = sorted((r for r in self.regions if r.kind == kind), key=lambda r: r.start)
        parts = [(region, self.within(region.lines)) for region in regions]
        with_code = {region.name for region, part in parts if part.statements}
        named: list[tuple[str, Region | None, FileAnalysis]] = []
        taken: set[str] = set()
        inside: set[LineNo] = set()
        for region, part in parts:
            inside |= region.lines
            key = region.name
            if key in taken or (key in with_code and not part.statements):
                key = f"{key}@{region.start}"
            taken.add(key)
            named.append((key, region, part))
        last = max([*self.statements, *self.excluded, 0])
        named.append(("", None, self.within(set(range(1, last + 1)) - inside)))
        return named

    def within(self, lines: Set[LineNo]) -> FileAnalysis:
        """This file's analysis restricted to `lines` (a function's, say): its statements
        and exclusions there, and the branches from them."""
        branches = None
        if self.branches is not None:
            b = self.branches
            branches = Branches(
                {n: k for n, k in b.exits.items() if n in lines},
                {n: ends for n, ends in b.missing.items() if n in lines},
                {n: ends for n, ends in b.taken.items() if n in lines},
                {arc: c for arc, c in b.counts.items() if arc[0] in lines},
                {arc: d for arc, d in b.descriptions.items() if arc[0] in lines},
                {arc: d for arc, d in b.actions.items() if arc[0] in lines},
            )
        return FileAnalysis(
            path=self.path,
            name=self.name,
            statements=self.statements & lines,
            excluded=self.excluded & lines,
            executed=self.executed & lines,
            counts=self.counts,
            contexts=(
                None
                if self.contexts is None
                else {n: c for n, c in self.contexts.items() if n in lines}
            ),
            branches=branches,
        )

    @property
    def hits(self) -> int:
        """Total executions of this file's statements (when counts were measured)."""
        if not self.counts:
            return 0
        return sum(c for line, c in self.counts.items() if line in self.statements)


def format_lines(
    statements: Iterable[LineNo],
    lines: Iterable[LineNo],
    arcs: Mapping[LineNo, Iterable[LineNo]] | None = None,
) -> str:
    """Coalesce `lines` into ranges that run over consecutive `statements` (gaps allowed),
    with each arc `start->end` (`->exit` for a negative end) merged in by line when neither
    end is one of `lines`."""
    stmts = sorted(statements)
    wanted = sorted(lines)
    pairs: list[tuple[LineNo, LineNo]] = []
    start: LineNo | None = None
    end: LineNo = 0
    index = 0
    for stmt in stmts:
        if index >= len(wanted):
            break
        if stmt == wanted[index]:
            index += 1
            if start is None:
                start = stmt
            end = stmt
        elif start is not None:
            pairs.append((start, end))
            start = None
    if start is not None:
        pairs.append((start, end))
    items = [(a, str(a) if a == b else f"{a}-{b}") for a, b in pairs]
    if arcs:
        skip = set(wanted)
        for line in sorted(arcs):
            for dest in sorted(arcs[line]):
                if line not in skip and dest not in skip:
                    items.append((line, f"{line}->{dest if dest > 0 else 'exit'}"))
    return ", ".join(text for _, text in sorted(items))


def display_covered(pc: float, precision: int) -> str:
    """A percentage for display: "0" and "100" only when exactly so, never by rounding."""
    near0 = 1.0 / 10**precision
    if 0 < pc < near0:
        pc = near0
    elif (100.0 - near0) < pc < 100:
        pc = 100.0 - near0
    else:
        pc = round(pc, precision)
    return f"{pc:.{precision}f}"


def _fail_under_precision(fail_under: float, precision: int) -> int:
    if fail_under == int(fail_under):
        return precision
    exponent = Decimal(str(fail_under)).as_tuple().exponent
    assert isinstance(exponent, int)
    return max(precision, -exponent)


def fail_under_reason(total: float, fail_under: float, precision: int) -> str | None:
    """Why `total` fails `fail_under`, or None when it passes (coverage.py's rounding rules)."""
    if fail_under <= 0:
        return None
    places = _fail_under_precision(fail_under, precision)
    if fail_under == 100.0:
        failed = total != 100.0
        shown = display_covered(total, places)
    else:
        failed = round(total, places) < fail_under
        shown = f"{round(total, places):.{places}f}"
    if not failed:
        return None
    return f"total of {shown} is less than fail-under={fail_under:.{places}f}"


def human_key(text: str) -> tuple[list[str | int], str]:
    """Sort key that orders embedded numbers numerically: "a2" before "a10"."""
    parts: list[str | int] = [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", text)]
    return parts, text
