"""The count engine's instruction decoder (collect/bytecode.py) reads what `dis` reads."""

from __future__ import annotations

import dis
import sysconfig
import warnings
from pathlib import Path
from types import CodeType

from tally.analysis.source import code_objects
from tally.collect.bytecode import instructions

_STDLIB = Path(sysconfig.get_paths()["stdlib"])
# Modules with every kind of jump, handler, comprehension and long function between them.
_MODULES = ["argparse.py", "asyncio/tasks.py", "dataclasses.py", "inspect.py", "typing.py"]


def _compiled(name: str) -> CodeType:
    path = _STDLIB / name
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return compile(path.read_bytes(), str(path), "exec", dont_inherit=True)


def test_every_instruction_of_the_standard_library_samples_decodes_as_dis_decodes_it() -> None:
    checked = 0
    for name in _MODULES:
        for code in code_objects(_compiled(name)):
            ours = instructions(code)
            theirs = list(dis.get_instructions(code))
            assert [(i.offset, i.opname, i.arg) for i in ours] == [
                (i.offset, i.opname, i.arg) for i in theirs
            ], code
            assert [i.positions for i in ours] == [i.positions for i in theirs], code
            for mine, its in zip(ours, theirs, strict=True):
                if its.opcode in dis.hasjrel or its.opname == "LOAD_CONST":
                    assert mine.argval == its.argval, (code, its)
            checked += len(ours)
    assert checked > 30_000


def test_a_code_object_is_decoded_once_while_it_is_among_the_last_decoded() -> None:
    code = compile("x = 1\nif x:\n    y = 2\n", "<case>", "exec")
    assert instructions(code) is instructions(code)
