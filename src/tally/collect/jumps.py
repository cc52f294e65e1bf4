"""Branch events turned into line arcs: where a jump from one statement first lands.

sys.monitoring reports a branch as (instruction offset, destination offset). The arc a
report needs is (statement line, next statement line): from the jump's line, run on from
the destination through instructions of the same statement (a `for` loop's END_FOR, 3.14's
NOT_TAKEN) and unconditional jumps until an instruction of another statement, or a return
from the code object (an arc to its exit, `-first line`). Another conditional jump of the
same statement ends the run with no arc: that jump's own event tells where it went. This runs
once per code object when the data is saved, never in the event callback.
"""

from __future__ import annotations

import dis
from collections.abc import Iterable, Mapping
from types import CodeType

from tally.collect.nested import JUMP_OPCODES, JUMPS
from tally.types import LineNo

__all__ = ["jump_arcs"]

_RETURNS = {"RETURN_VALUE", "RETURN_CONST"}
_STOPS = {"RERAISE", "RAISE_VARARGS", "YIELD_VALUE"}
_MAX_STEPS = 200  # a straight run this long without a new line is a loop on one line
_EXIT = 0  # what _Code.landing returns for a return from the code object


def jump_arcs(
    code: CodeType,
    jumps: Iterable[tuple[int, int]],
    multiline: Mapping[LineNo, LineNo],
) -> set[tuple[LineNo, LineNo]]:
    """The arcs the branch events `jumps` of `code` stand for, each line mapped to its
    statement's first line by `multiline` (the file's multi-line statement map)."""
    walker = _Code(code, multiline)
    exit_line = -multiline.get(code.co_firstlineno, code.co_firstlineno)
    arcs: set[tuple[LineNo, LineNo]] = set()
    for source, destination in jumps:
        start = walker.line_at(source)
        if start is None or destination not in walker.at:
            continue
        end = walker.landing(walker.at[destination], start)
        if end is not None:
            arcs.add((start, exit_line if end == _EXIT else end))
    return arcs


class _Code:
    """One code object's instructions, with their statements' first lines."""

    def __init__(self, code: CodeType, multiline: Mapping[LineNo, LineNo]) -> None:
        self.instructions = list(dis.get_instructions(code))
        self.at = {ins.offset: i for i, ins in enumerate(self.instructions)}
        raw = [ins.positions.lineno if ins.positions else None for ins in self.instructions]
        self.lines = [None if n is None else multiline.get(n, n) for n in raw]

    def line_at(self, offset: int) -> LineNo | None:
        """The statement line of the instruction at `offset`."""
        i = self.at.get(offset)
        return None if i is None else self.lines[i]

    def landing(self, i: int, start: LineNo) -> LineNo | None:
        """The first statement other than `start` reached from instruction `i`; _EXIT for
        a return from the code object; None when the run ends another way (a raise)."""
        for _ in range(_MAX_STEPS):
            if i >= len(self.instructions):
                return None
            line = self.lines[i]
            if line is not None and line != start:
                return line
            instruction = self.instructions[i]
            if instruction.opname in _RETURNS:
                return _EXIT
            if instruction.opname in _STOPS:
                return None
            if instruction.opname not in JUMPS and instruction.opcode in JUMP_OPCODES:
                # Another branch of the same statement: its own event says where it went
                # (`while a and b:` when `b` raised must not look like entering the body).
                return None
            if instruction.opname in JUMPS:
                target = instruction.argval
                if not isinstance(target, int) or target not in self.at:
                    return None
                i = self.at[target]
            else:
                i += 1
        return None
