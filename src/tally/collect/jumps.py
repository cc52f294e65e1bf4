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

__all__ = ["Instructions", "jump_arcs"]


def _opcodes(names: Iterable[str]) -> set[int]:
    return {dis.opmap[name] for name in names if name in dis.opmap}


_RETURNS = _opcodes(["RETURN_VALUE", "RETURN_CONST"])
_STOPS = _opcodes(["RERAISE", "RAISE_VARARGS", "YIELD_VALUE"])
# The unconditional jumps that occur in bytecode (JUMP, JUMP_NO_INTERRUPT are pseudo-ops).
_FORWARD = _opcodes(name for name in JUMPS if "BACKWARD" not in name)
_BACKWARD = _opcodes(name for name in JUMPS if "BACKWARD" in name)
_CACHE = dis.opmap["CACHE"]
_EXTENDED_ARG = dis.opmap["EXTENDED_ARG"]
_MAX_STEPS = 200  # a straight run this long without a new line is a loop on one line
_EXIT = 0  # what Instructions.landing returns for a return from the code object


def jump_arcs(
    code: CodeType,
    jumps: Iterable[tuple[int, int]],
    multiline: Mapping[LineNo, LineNo],
) -> set[tuple[LineNo, LineNo]]:
    """The arcs the branch events `jumps` of `code` stand for, each line mapped to its
    statement's first line by `multiline` (the file's multi-line statement map)."""
    walker = Instructions(code, multiline)
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


class Instructions:
    """One code object's instructions (offset, opcode, jump target), with their
    statements' first lines.

    Decoded from `co_code` directly: `dis.get_instructions` builds a full Instruction per
    instruction (argument values, labels, positions) and took 1.5 s to save the branches of
    packaging's test suite, against 0.1 s this way. In `co_code` the inline caches after an
    instruction are CACHE units, so the next instruction is the next unit that is not one;
    a relative jump's target counts from there. tests/test_branches.py checks this
    decoding against `dis` on the standard library.
    """

    def __init__(self, code: CodeType, multiline: Mapping[LineNo, LineNo]) -> None:
        raw = code.co_code
        positions = list(code.co_positions())
        self.opcodes: list[int] = []
        self.targets: list[int | None] = []  # an unconditional jump's target offset
        self.lines: list[LineNo | None] = []
        self.at: dict[int, int] = {}  # offset -> index (an EXTENDED_ARG's: what it extends)
        argument = 0
        for offset in range(0, len(raw), 2):
            op, arg = raw[offset], raw[offset + 1]
            if op == _CACHE:
                continue
            self.at[offset] = len(self.opcodes)
            argument = (argument << 8) | arg
            if op == _EXTENDED_ARG:
                continue
            self.opcodes.append(op)
            self.targets.append(_jump_target(raw, offset, op, argument))
            line = positions[offset // 2][0]
            self.lines.append(None if line is None else multiline.get(line, line))
            argument = 0

    def line_at(self, offset: int) -> LineNo | None:
        """The statement line of the instruction at `offset`."""
        i = self.at.get(offset)
        return None if i is None else self.lines[i]

    def landing(self, i: int, start: LineNo) -> LineNo | None:
        """The first statement other than `start` reached from instruction `i`; _EXIT for
        a return from the code object; None when the run ends another way (a raise)."""
        for _ in range(_MAX_STEPS):
            if i >= len(self.opcodes):
                return None
            line = self.lines[i]
            if line is not None and line != start:
                return line
            op = self.opcodes[i]
            if op in _RETURNS:
                return _EXIT
            if op in _STOPS:
                return None
            target = self.targets[i]
            if target is not None:  # an unconditional jump: follow it
                if target not in self.at:
                    return None
                i = self.at[target]
            elif op in JUMP_OPCODES:
                # Another branch of the same statement: its own event says where it went
                # (`while a and b:` when `b` raised must not look like entering the body).
                return None
            else:
                i += 1
        return None


def _jump_target(raw: bytes, offset: int, op: int, argument: int) -> int | None:
    """Where the unconditional jump at `offset` goes (None for any other instruction): its
    argument counts code units from the end of its inline caches."""
    if op not in _FORWARD and op not in _BACKWARD:
        return None
    after = offset + 2
    while after < len(raw) and raw[after] == _CACHE:
        after += 2
    return after + 2 * argument if op in _FORWARD else after - 2 * argument
