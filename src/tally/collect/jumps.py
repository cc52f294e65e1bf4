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

import bisect
import dis
from collections.abc import Iterable, Mapping
from types import CodeType

from tally.collect.nested import JUMP_OPCODES, JUMPS
from tally.types import LineNo

__all__ = ["Instructions", "jump_arc_map"]


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


def jump_arc_map(
    code: CodeType,
    jumps: Iterable[tuple[int, int]],
    multiline: Mapping[LineNo, LineNo],
) -> dict[tuple[int, int], tuple[LineNo, LineNo] | None]:
    """Each branch event of `jumps` and the arc it stands for (None: none), so that a
    caller seeing the same events again (in another context) can keep the answers."""
    walker = Instructions(code)
    exit_line = _exit_line(code, multiline)
    arcs: dict[tuple[int, int], tuple[LineNo, LineNo] | None] = {}
    for source, destination in jumps:
        arcs[(source, destination)] = None
        start = walker.statement(source, multiline)
        if start is None or not walker.is_instruction(destination):
            continue
        end = walker.landing(destination, start, multiline)
        if end is not None:
            arcs[(source, destination)] = (start, exit_line if end == _EXIT else end)
    return arcs


class Instructions:
    """One code object's instructions read from `co_code` where asked: opcode, line and
    unconditional jump target at an offset, and the offset of the next instruction.

    Only the runs that branch events start from are decoded. `dis.get_instructions` builds
    a full Instruction per instruction (argument values, labels, positions) and took 1.5 s
    to save the branches of packaging's test suite; decoding every instruction of a code
    object by hand still took a third of the save of pyparsing's. In `co_code` the inline
    caches after an instruction are CACHE units, so the next instruction is the next unit
    that is not one; a relative jump's target counts from there. tests/test_branches.py
    checks this decoding against `dis` on the standard library.
    """

    def __init__(self, code: CodeType) -> None:
        self.raw = code.co_code
        # co_lines() gives (start, end, line) ranges in offset order, far fewer than units.
        ranges = [r for r in code.co_lines() if r[0] < r[1]]
        self._starts = [r[0] for r in ranges]
        self._lines = [r[2] for r in ranges]

    def is_instruction(self, offset: int) -> bool:
        """Does an instruction (or an EXTENDED_ARG before one) begin at `offset`?"""
        return 0 <= offset < len(self.raw) and offset % 2 == 0 and self.raw[offset] != _CACHE

    def opcode(self, offset: int) -> int:
        """The opcode at `offset`, past any EXTENDED_ARG prefix."""
        return self.raw[self.unprefixed(offset)]

    def unprefixed(self, offset: int) -> int:
        """`offset`, or past the EXTENDED_ARG units that begin there the instruction they
        extend."""
        while offset < len(self.raw) and self.raw[offset] == _EXTENDED_ARG:
            offset += 2
        return offset

    def line(self, offset: int) -> LineNo | None:
        """The source line of the instruction at `offset` (None for none)."""
        i = bisect.bisect_right(self._starts, offset) - 1
        return self._lines[i] if i >= 0 else None

    def statement(self, offset: int, multiline: Mapping[LineNo, LineNo]) -> LineNo | None:
        """The first line of the statement of the instruction at `offset`."""
        line = self.line(self.unprefixed(offset))
        return None if line is None else multiline.get(line, line)

    def next(self, offset: int) -> int:
        """The offset of the instruction after the one at `offset`."""
        after = self.unprefixed(offset) + 2
        while after < len(self.raw) and self.raw[after] == _CACHE:
            after += 2
        return after

    def target(self, offset: int) -> int | None:
        """Where the unconditional jump at `offset` goes (None for any other
        instruction): its argument counts code units from the end of its inline caches."""
        at = self.unprefixed(offset)
        op = self.raw[at]
        if op not in _FORWARD and op not in _BACKWARD:
            return None
        argument, shift, before = self.raw[at + 1], 8, at - 2
        while before >= 0 and self.raw[before] == _EXTENDED_ARG:
            argument |= self.raw[before + 1] << shift
            shift, before = shift + 8, before - 2
        after = self.next(at)
        return after + 2 * argument if op in _FORWARD else after - 2 * argument

    def landing(
        self, offset: int, start: LineNo, multiline: Mapping[LineNo, LineNo]
    ) -> LineNo | None:
        """The first statement other than `start` reached from the instruction at
        `offset`; _EXIT for a return from the code object; None when the run ends another
        way (a raise)."""
        for _ in range(_MAX_STEPS):
            if offset >= len(self.raw):
                return None
            line = self.statement(offset, multiline)
            if line is not None and line != start:
                return line
            op = self.opcode(offset)
            if op in _RETURNS:
                return _EXIT
            if op in _STOPS:
                return None
            target = self.target(offset)
            if target is not None:  # an unconditional jump: follow it
                if not self.is_instruction(target):
                    return None
                offset = target
            elif op in JUMP_OPCODES:
                # Another branch of the same statement: its own event says where it went
                # (`while a and b:` when `b` raised must not look like entering the body).
                return None
            else:
                offset = self.next(offset)
        return None


# One line that is both a definition and its whole body: its arcs, worked out per code
# object that defines such bodies. (line, the arc on in the defining code, the body's code
# object, the arc out of the body.)
OneLiner = tuple[LineNo, tuple[LineNo, LineNo] | None, CodeType, tuple[LineNo, LineNo]]


def one_line_bodies(code: CodeType, multiline: Mapping[LineNo, LineNo]) -> list[OneLiner]:
    """The definitions in `code` whose body is on the definition's own line (`def f():
    return x`, `class E(Exception): pass`, or a body on a multi-line header's last line),
    with their two arcs. That line has two ways on, but no branch event says which: the
    definition moving on in `code` is taken when the line runs there, the body's exit when
    the body's code object runs (coverage.py reports both)."""
    bodies = [
        body
        for body in code.co_consts
        # Lambdas and comprehensions (`<lambda>`, `<genexpr>`) have arcs of their own.
        if isinstance(body, CodeType) and not body.co_name.startswith("<")
    ]
    if not bodies:
        return []
    # Where `code` leaves each of its statements: the last run of instructions on it.
    last_run: dict[LineNo, int] = {}
    for start, stop, number in code.co_lines():
        if start < stop and number is not None:
            last_run[multiline.get(number, number)] = start
    found: list[OneLiner] = []
    walker: Instructions | None = None
    for body in bodies:
        line = _body_line(body, multiline)
        # The definition runs on the line its body holds: a body on a line of its own
        # has no instruction of the defining code there.
        if line is None or line not in last_run:
            continue
        walker = walker or Instructions(code)
        end = walker.landing(last_run[line], line, multiline)
        onward = (
            None if end is None else (line, _exit_line(code, multiline) if end == _EXIT else end)
        )
        found.append((line, onward, body, (line, _exit_line(body, multiline))))
    return found


def _body_line(body: CodeType, multiline: Mapping[LineNo, LineNo]) -> LineNo | None:
    """The one statement line of the code object `body`, if it has one (its first
    decorator's line, where it starts, aside)."""
    lines = {multiline.get(n, n) for _, _, n in body.co_lines() if n is not None}
    first = multiline.get(body.co_firstlineno, body.co_firstlineno)
    if len(lines) == 2 and first in lines:
        lines.discard(first)
    return lines.pop() if len(lines) == 1 else None


def _exit_line(code: CodeType, multiline: Mapping[LineNo, LineNo]) -> LineNo:
    """The line of an arc out of `code`: minus the first line of its statement."""
    return -multiline.get(code.co_firstlineno, code.co_firstlineno)
