"""Branch coverage for the monitor engine before 3.14: a marker at the start of each arm.

On 3.12 and 3.13 sys.monitoring has one BRANCH event per jump, and disabling it silences
both ways at once, so it can't tell cheaply which ways were taken (coverage.py has no
low-cost branch mode there at all). Instead, like SlipCover, measured modules are compiled
with a `pass` statement at the start of each arm of each decision (arcs.py's arms) whose
line number is MARK_BASE plus the marker's number. A `pass` is a statement, so the compiler
keeps a line event for it (PEP 626); the ordinary one-shot LINE event fires on it the first
time its arm is taken and then costs nothing, like any other line.

- `if`, `while`, `for`: a marker first in the body and first in the `else` (an `else` is
  made for it when there is none);
- `case`: first in its body. A failed pattern is seen from the next case's line running
  (the only way there); after the last case, from a `case _:` added to hold a marker;
- a one-line definition (`def f(): return 1`): first in its body, for the arc out of it;
- any other line with several ways on (`class E(Exception): pass`) takes them all
  whenever it runs.

The table of what each marker stands for is cached beside the instrumented code
(`remember`), so at save time the engine reads it back instead of analysing the source
again (a second of pyparsing's 14 s test run); nothing is registered at run time. Without
a cache (a read-only tree, a source changed since), the table is rebuilt from the source:
insert_markers() on a fresh parse of the same source gives the same numbering.
"""

from __future__ import annotations

import ast
from typing import NamedTuple

from tally.analysis.arcs import ArcFacts, one_line_body_exit, source_arcs
from tally.analysis.nodes import is_docstring
from tally.collect.pycache import cache_for, read_cache, write_cache
from tally.types import Arc, LineNo

__all__ = ["MARK_BASE", "MarkerTable", "insert_markers", "marker_arcs", "remember"]

MARK_BASE = 1 << 24  # marker lines start here: no real source has 16 million lines

_DECISIONS = (ast.If, ast.For, ast.AsyncFor, ast.While)


class MarkerTable(NamedTuple):
    """What the markers of one file stand for."""

    markers: list[Arc]  # marker i (line MARK_BASE + i) is taken with arc markers[i]
    implied: list[tuple[LineNo, Arc]]  # (line, arc): the arc is taken whenever line runs
    multiline: dict[LineNo, LineNo]  # {line: first line of its statement}, multi-line ones


class _Inserter:
    def __init__(self, arcs: ArcFacts) -> None:
        self.arms = arcs.arms
        self.unarmed = arcs.unarmed_exits()
        self.table = MarkerTable([], [], arcs.multiline)

    def marker(self, arc: Arc) -> ast.stmt:
        """A new marker for `arc`: `pass` on a line of its own."""
        line = MARK_BASE + len(self.table.markers)
        self.table.markers.append(arc)
        return ast.Pass(lineno=line, end_lineno=line, col_offset=0, end_col_offset=0)

    def mark(self, node: ast.AST, way: str, stmts: list[ast.stmt], at: int = 0) -> None:
        """Put the marker of `node`'s arm `way` (if it has one) at `stmts[at]`."""
        arc = self.arms.get((id(node), way))
        if arc is not None:
            stmts.insert(at, self.marker(arc))

    def decision(self, node: ast.If | ast.For | ast.AsyncFor | ast.While) -> None:
        self.mark(node, "body", node.body)
        self.mark(node, "else", node.orelse)

    def match(self, node: ast.Match) -> None:
        for case in node.cases:
            self.mark(case, "body", case.body)
        for case in node.cases[:-1]:
            failed = self.arms.get((id(case), "else"))
            if failed is not None:
                self.table.implied.append((failed[1], failed))
        failed = self.arms.get((id(node.cases[-1]), "else"))
        if failed is not None:
            marker = self.marker(failed)
            pattern = ast.MatchAs(pattern=None, name=None)
            ast.copy_location(pattern, marker)
            node.cases.append(ast.match_case(pattern=pattern, guard=None, body=[marker]))

    def definition(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> None:
        arc = one_line_body_exit(node, self.table.multiline)
        if arc is not None and arc in self.unarmed.get(arc[0], ()):
            node.body.insert(1 if is_docstring(node.body[0]) else 0, self.marker(arc))

    def implied(self) -> None:
        """Lines with several ways on and no arms: all taken when the line runs, but the
        arcs out of one-line bodies, which have markers."""
        marked = set(self.table.markers)
        for line, ways in sorted(self.unarmed.items()):
            self.table.implied.extend((line, arc) for arc in ways if arc not in marked)


def insert_markers(tree: ast.Module, arcs: ArcFacts) -> MarkerTable:
    """Put markers in `tree` (in place) for the arms `arcs` found in it, and say what each
    stands for. The same source gives the same table each time."""
    inserter = _Inserter(arcs)
    for node in list(ast.walk(tree)):
        if isinstance(node, _DECISIONS):
            inserter.decision(node)
        elif isinstance(node, ast.Match) and node.cases:
            inserter.match(node)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            inserter.definition(node)
    inserter.implied()
    return inserter.table


def remember(path: str, table: MarkerTable) -> None:
    """Cache the marker table of the source at `path` (as it is now) for marker_arcs."""
    where = cache_for(path, "markers", "arms")
    if where is not None:
        write_cache(where[0], path, where[1], (table.markers, table.implied, table.multiline))


def _recall(path: str) -> MarkerTable | None:
    """The cached marker table of the source at `path`, if it is the source's as it is now."""
    where = cache_for(path, "markers", "arms")
    if where is None:
        return None
    cached = read_cache(where[0], path, where[1])
    if not isinstance(cached, tuple) or len(cached) != 3:
        return None
    markers, implied, multiline = cached
    return MarkerTable(markers, implied, multiline)


def _table_from_source(path: str) -> MarkerTable | None:
    """The marker table of the source at `path` worked out afresh; None when it can't be
    read or parsed now."""
    from tally.analysis.source import read_source

    try:
        text = read_source(path)
        tree = ast.parse(text, path)
        code = compile(text, path, "exec", dont_inherit=True)
    except Exception:  # unreadable or unparsable now: its lines stand, its arcs are lost
        return None
    table = insert_markers(tree, source_arcs(tree, text, code))
    remember(path, table)
    return table


def marker_arcs(path: str, seen: set[LineNo]) -> dict[Arc, int]:
    """The arcs taken in the file at `path` whose code, compiled with markers, reported the
    lines `seen` (markers included): those of the markers seen, and those of the lines run.
    The table is the source's as it is now; unreadable, it gives no arcs."""
    table = _recall(path) or _table_from_source(path)
    if table is None:
        return {}
    taken: dict[Arc, int] = {}
    for n in seen:
        if MARK_BASE <= n < MARK_BASE + len(table.markers):
            from_line, to_line = table.markers[n - MARK_BASE]
            taken[(from_line, to_line)] = 0
    ran = {table.multiline.get(n, n) for n in seen if n < MARK_BASE}
    for line, (from_line, to_line) in table.implied:
        if line in ran:
            taken[(from_line, to_line)] = 0
    return taken
