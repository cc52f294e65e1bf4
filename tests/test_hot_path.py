"""What the count engine's hot path pays, with counts kept exact: a block that starts with
an `if` has no counter of its own (slots.py, derived slots), so each run of it costs one
increment; a guard catches only where a cut changes a count."""

from __future__ import annotations

import importlib
import sys
import textwrap
from pathlib import Path
from typing import NamedTuple

import pytest

from tally.collect import counting
from tally.collect.filter import FileFilter


class Run(NamedTuple):
    counts: dict[int, int]  # by line
    increments: int  # counter increments made
    cuts: dict[tuple[int, int], int]  # exceptions the guards caught, by (guard, line)


@pytest.fixture
def run_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Import `source` as a module under the count engine: what the run counted."""
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)

    def run(source: str) -> Run:
        path = tmp_path / "derived_case.py"
        path.write_text(textwrap.dedent(source))
        engine = counting.CountEngine(FileFilter(source=[str(tmp_path)], cwd=str(tmp_path)))
        sys.modules.pop("derived_case", None)
        engine.start()
        try:
            importlib.import_module("derived_case")
        finally:
            engine.stop()
            sys.modules.pop("derived_case", None)
        (file,) = engine._files.values()
        counts = (engine.measurement().counts or {})[str(path.resolve())]
        return Run(dict(counts), sum(file.banked), file.all_cuts())

    return run


def test_a_function_that_starts_with_an_if_costs_one_increment_a_call(run_module) -> None:  # type: ignore[no-untyped-def]
    counts, increments, _ = run_module("""\
        def sign(n):
            if n < 0:
                return -1
            elif n == 0:
                return 0
            else:
                return 1

        for n in range(-3, 7):
            sign(n)
        """)
    assert counts == {1: 1, 2: 10, 3: 3, 4: 7, 5: 1, 7: 6, 9: 11, 10: 10}
    # The module's block and its loop (1 + 10 + the loop's end), and one per call.
    assert increments == 12 + 10


def test_an_if_without_else_counts_its_block_through_an_else_it_adds(run_module) -> None:  # type: ignore[no-untyped-def]
    counts, increments, _ = run_module("""\
        def count_odd(items):
            found = 0
            for item in items:
                if item % 2:
                    found += 1
            return found

        count_odd(range(10))
        """)
    assert counts == {1: 1, 3: 11, 4: 10, 5: 5, 2: 1, 6: 1, 8: 1}
    # Per item one increment (an arm), not two (the loop body and the arm).
    assert increments == 1 + 1 + 10 + 1


def test_a_test_that_raises_still_counts_the_if_and_nothing_after(run_module) -> None:  # type: ignore[no-untyped-def]
    counts, _, _ = run_module("""\
        def first_char(text):
            if text[0] == "x":
                return 1
            return 2

        for text in ["x", "", "y", ""]:
            try:
                first_char(text)
            except IndexError:
                pass
        """)
    assert counts[2] == 4  # the test ran each time, and raised twice
    assert counts[3] == 1 and counts[4] == 1


def test_an_exception_from_a_last_statement_passes_no_guard(run_module) -> None:  # type: ignore[no-untyped-def]
    # A guard catches (~1 µs) only where a cut changes a count: after `value = 1` comes
    # the `return`, so `value = 1` is guarded; nothing comes after the `return`.
    counts, _, cuts = run_module("""\
        def boom():
            raise KeyError

        def last(n):
            value = n
            return boom()

        for n in range(3):
            try:
                last(n)
            except KeyError:
                pass
        """)
    assert counts[5] == 3 and counts[6] == 3
    assert cuts == {}
