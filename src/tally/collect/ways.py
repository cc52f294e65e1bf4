"""Line events of a statement whose count depends on the way taken inside it.

A statement spread over lines with a decision inside (`if a and b(\\n x\\n):`,
`y = (p if q\\n else r)`) comes back to its first line a number of times that depends on
how far the decision went: when `a` is false the condition ends on the first line (one
event), when it is true `b(` runs line 2 and the call comes back (two). One count per
execution can't say which; a count where the way parts can.

So, for such a statement, we walk every way through its uninstrumented instructions (each
conditional jump both ways, as far as the statement's own instructions go) and note for
each way its events on the statement's first line and which of its *reach points* it
passed: the operands after the first of an `and`/`or`, both arms of a conditional
expression, the comparisons after the first of a chain. When the events of every way are
a sum, one number per execution plus one per reach point passed, the rewriter counts each
reach point with a weighted tick (`__tally_tick__(...) and operand`) and the statement
with the per-execution number; when they are not (or there are too many ways), the
statement keeps the events of its first way (events.py).
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import NamedTuple

from tally.analysis.nodes import DEFINITIONS, SUSPENSIONS
from tally.collect.bytecode import Instruction
from tally.collect.nested import NESTED

__all__ = ["Reach", "StatementCode", "WayWeights", "reach_points", "weigh_ways"]

# Where a tick goes: (the node holding the operand, its field, the index in that field's
# list or -1 for a single node).
Reach = tuple[ast.AST, str, int]
_MAX_WAYS = 256
_MAX_STATES = 4096  # states where ways meet, walked at most once each
_ENDS = {"RETURN_VALUE", "RETURN_CONST", "RAISE_VARARGS", "RERAISE"}


class WayWeights(NamedTuple):
    """Events on a statement's first line: `base` per execution, plus `events` each time
    a reach point is passed."""

    base: int
    ticks: list[tuple[Reach, int]]


def reach_points(header: Sequence[ast.AST]) -> list[tuple[Reach, ast.expr]] | None:
    """The reach points of a statement's own expressions (`header`), outside nested code;
    None when the statement can suspend (its ways then leave and come back)."""
    found: list[tuple[Reach, ast.expr]] = []
    todo = list(header)
    while todo:
        node = todo.pop()
        if isinstance(node, SUSPENSIONS):
            return None
        if isinstance(node, (*NESTED, *DEFINITIONS, ast.stmt)):
            continue
        if isinstance(node, ast.BoolOp):
            found.extend(((node, "values", i), v) for i, v in enumerate(node.values) if i)
        elif isinstance(node, ast.IfExp):
            found.extend(((node, field, -1), getattr(node, field)) for field in ("body", "orelse"))
        elif isinstance(node, ast.Compare) and len(node.comparators) > 1:
            found.extend(((node, "comparators", i), v) for i, v in enumerate(node.comparators) if i)
        todo.extend(ast.iter_child_nodes(node))
    return found


class StatementCode(NamedTuple):
    """The instructions a statement's ways run through."""

    instructions: list[Instruction]
    at: dict[int, int]  # offset -> index in instructions
    owns: Callable[[Instruction], bool]  # is the instruction the statement's own?
    # Where a way goes on from instruction i when the caller knows better than both ways
    # (an inlined loop, an assert's failure); None to go on as the instruction says.
    skip: Callable[[int], int | None]


class _Way(NamedTuple):
    at: int  # index of the next instruction
    previous: int | None  # line of the instruction before it
    events: int
    passed: int  # bit mask of the reach points passed


def weigh_ways(
    code: StatementCode, start: tuple[int, int | None, int], points: list[ast.expr]
) -> tuple[int, list[int]] | None:
    """(events per execution, events per reach point) on a line, walking every way through
    the statement's own instructions. `start` is (the index of its first instruction, the
    line before it, the line whose events count). None if the ways' events are no such
    sum."""
    ways = _ways(code, start, points)
    if ways is None:
        return None
    # Where the weights are not unique, the events go to the operands that start on a
    # later line (execution comes back to the first line after them: tallied after they
    # run, so one that raises adds nothing), then to each execution, and last to the
    # operands on the first line.
    line = start[2]
    later = [1 + k for k, point in enumerate(points) if point.lineno > line]
    rest = [1 + k for k, point in enumerate(points) if point.lineno <= line]
    return _solve(ways, len(points), [*later, 0, *rest])


def _ways(
    code: StatementCode, start: tuple[int, int | None, int], points: list[ast.expr]
) -> set[tuple[int, int]] | None:
    """{(reach points passed, events)} of every way through the statement."""
    instructions = code.instructions
    spans = [_span(p) for p in points]
    first, previous, line = start
    found: set[tuple[int, int]] = set()
    todo = [_Way(first, previous, 0, 0)]
    # Ways that meet in one state (where a jump lands) go on alike: each such state is
    # walked on once, so a statement of many decisions in a row (pytest's rewritten
    # asserts) costs a walk per state, not one per way (2 ** decisions).
    seen = set(todo)
    landings = {first}
    while todo:
        i, last, events, passed = todo.pop()
        walked = merged = False
        while i < len(instructions):
            if walked and i in landings:
                state = _Way(i, last, events, passed)
                if state in seen:
                    merged = True  # the way that first reached this state finds what follows
                    break
                seen.add(state)
            walked = True
            ins = instructions[i]
            p = ins.positions
            if p is None or p.lineno is None:
                i += 1
                continue
            if not code.owns(ins):
                break
            if p.lineno != last:
                events += p.lineno == line
                last = p.lineno
            place = (p.lineno, p.col_offset or 0, p.end_lineno or p.lineno, p.end_col_offset or 0)
            for bit, span in enumerate(spans):
                if span[:2] <= place[:2] and place[2:] <= span[2:]:
                    passed |= 1 << bit
            if ins.opname in _ENDS:
                break
            then = code.skip(i)
            if then is not None:
                i = then
                continue
            target = code.at.get(ins.argval) if isinstance(ins.argval, int) else None
            if target is not None and ins.argval > ins.offset:
                if ins.opname.startswith(("POP_JUMP", "JUMP_IF_")):
                    way = _Way(target, last, events, passed)
                    landings.add(target)
                    if way not in seen:
                        if len(todo) + len(found) >= _MAX_WAYS or len(seen) >= _MAX_STATES:
                            return None
                        seen.add(way)
                        todo.append(way)
                elif ins.opname in ("JUMP_FORWARD", "JUMP"):
                    i = target
                    continue
            i += 1
        if not merged:
            found.add((passed, events))
    return found


def _span(node: ast.expr) -> tuple[int, int, int, int]:
    return (node.lineno, node.col_offset, node.end_lineno or node.lineno, node.end_col_offset or 0)


def _solve(
    ways: set[tuple[int, int]], size: int, order: list[int] | None = None
) -> tuple[int, list[int]] | None:
    """Integer weights w (w[0] per execution, w[1 + k] per reach point k) with
    `events == w[0] + sum(w[1 + k] for k passed)` for every way; None if there are none.
    Where several fit, the weights of the columns early in `order` (default: w[0], then
    each point's) take the events and those of later columns stay 0."""
    rows = [[Fraction(1), *(Fraction(passed >> k & 1) for k in range(size))] for passed, _ in ways]
    values = [Fraction(events) for _, events in ways]
    pivots: list[int] = []
    r = 0
    for column in order if order is not None else range(size + 1):
        pivot = next((k for k in range(r, len(rows)) if rows[k][column]), None)
        if pivot is None:
            continue
        rows[r], rows[pivot] = rows[pivot], rows[r]
        values[r], values[pivot] = values[pivot], values[r]
        scale = rows[r][column]
        rows[r] = [x / scale for x in rows[r]]
        values[r] /= scale
        for k in range(len(rows)):
            if k != r and rows[k][column]:
                factor = rows[k][column]
                rows[k] = [x - factor * y for x, y in zip(rows[k], rows[r], strict=True)]
                values[k] -= factor * values[r]
        pivots.append(column)
        r += 1
    if any(values[k] for k in range(r, len(rows))):
        return None  # the events are no sum of per-point weights
    weights = [Fraction(0)] * (size + 1)
    for k, column in enumerate(pivots):
        weights[column] = values[k]  # free columns stay 0
    if any(w.denominator != 1 for w in weights):
        return None
    return int(weights[0]), [int(w) for w in weights[1:]]
