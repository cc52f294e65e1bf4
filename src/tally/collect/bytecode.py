"""A code object's instructions, decoded from `co_code` at a fraction of `dis`'s cost.

The count engine reads the uninstrumented bytecode of every module it instruments (events.py,
nested.py, ways.py) and needs of each instruction only its name, argument, jump target
and source span. `dis.get_instructions` builds much more (argument reprs, labels, line
starts, cache info) and was most of the time those modules took. Here: `co_code` is read
unit by unit (it holds the unspecialised instructions; the inline caches after an
instruction are CACHE units, opcode 0, skipped), `co_positions()` gives each unit's span,
and a relative jump's target counts from the end of its caches, as `dis` computes it
(tests/test_bytecode.py checks every instruction of the standard library against `dis`).
The instructions of the code objects decoded last are kept, so events.py and nested.py
decode each code object once.
"""

from __future__ import annotations

import dis
from types import CodeType
from typing import Any, NamedTuple

__all__ = ["Instruction", "instructions"]

_CACHE = dis.opmap["CACHE"]
_EXTENDED_ARG = dis.opmap["EXTENDED_ARG"]
# 3.13+ list the opcodes with an argument; before, they are those from HAVE_ARGUMENT on.
_WITH_ARG = set(getattr(dis, "hasarg", range(dis.HAVE_ARGUMENT, 256)))
_JUMPS = set(dis.hasjrel) | set(dis.hasjabs) | set(getattr(dis, "hasjump", ()))
_BACKWARD = {
    op for op in _JUMPS if "JUMP_BACKWARD" in dis.opname[op] or dis.opname[op] == "END_ASYNC_FOR"
}
_ABSOLUTE = set(dis.hasjabs)
_CONSTANTS = set(dis.hasconst)
_KEPT = 64  # code objects whose instructions stay decoded


class Instruction(NamedTuple):
    """What the count engine reads of one instruction (the names `dis.Instruction` uses)."""

    opname: str
    opcode: int
    arg: int | None
    argval: Any  # a jump's target offset, a LOAD_CONST's constant, else the argument
    offset: int
    positions: dis.Positions | None


_decoded: dict[int, tuple[CodeType, list[Instruction]]] = {}


def instructions(code: CodeType) -> list[Instruction]:
    """The instructions of `code` (not of the code objects it holds), in offset order,
    EXTENDED_ARG prefixes included as instructions of their own, as `dis` lists them."""
    kept = _decoded.get(id(code))
    if kept is not None and kept[0] is code:
        return kept[1]
    found = _decode(code)
    if len(_decoded) >= _KEPT:
        _decoded.clear()
    # The entry holds the code object, so its id can't be reused while the entry lives.
    _decoded[id(code)] = (code, found)
    return found


def _decode(code: CodeType) -> list[Instruction]:
    new_tuple, Positions = tuple.__new__, dis.Positions  # noqa: N806 (a class, bound locally)
    raw = code.co_code
    spans = list(code.co_positions())
    consts = code.co_consts
    names = dis.opname
    found: list[Instruction] = []
    extended = 0
    size = len(raw)
    offset = 0
    while offset < size:
        op = raw[offset]
        after = offset + 2
        while after < size and raw[after] == _CACHE:
            after += 2
        arg: int | None = None
        argval: object = None
        if op in _WITH_ARG:
            arg = raw[offset + 1] | extended
            extended = arg << 8 if op == _EXTENDED_ARG else 0
            argval = arg
            if op in _JUMPS:
                if op in _ABSOLUTE:
                    argval = arg * 2
                else:
                    argval = after - 2 * arg if op in _BACKWARD else after + 2 * arg
            elif op in _CONSTANTS:
                argval = consts[arg]
        else:
            extended = 0
        span = spans[offset // 2]
        # Built as tuples (C), not through the named tuples' Python-level __new__: this
        # line runs once per instruction of every module instrumented.
        positions = new_tuple(Positions, span) if span else None
        found.append(new_tuple(Instruction, (names[op], op, arg, argval, offset, positions)))
        offset = after
    return found
