"""The count engine's rewrite (collect/rewrite.py) and counting (collect/counting.py), in
this process: a snippet instrumented, its code run with the engine's helpers in its
globals, and the counts the engine reads back from its counters.

No import hook is installed and no subprocess runs: what is under test is the tree the
rewrite makes, the slot table it packs, and how the engine turns counters into counts.
`trace` (the oracle) counts the same snippets in test_oracle.py and test_generated.py.
"""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tally.analysis.arcs import source_arcs
from tally.collect.counting import CountEngine, _entry, _generator, _hit, _tick
from tally.collect.filter import FileFilter
from tally.collect.names import (
    BLOCKS_HELPER,
    ENTRY_HELPER,
    FIX_HELPER,
    GENERATOR_HELPER,
    HIT_HELPER,
    ITER_BUILTIN,
    TICK_HELPER,
    counter_name,
)
from tally.collect.rewrite import instrument
from tally.collect.slots import SlotTable, counts_lines


class Snippet:
    """A snippet instrumented for one CountEngine (not started: no import hook), ready
    to run as often as a test likes."""

    def __init__(self, source: str, tmp: Path, *, branch: bool = False) -> None:
        self.path = tmp / "snippet.py"
        self.source = textwrap.dedent(source)
        self.path.write_text(self.source)
        path = str(self.path)
        tree = ast.parse(self.source)
        code = compile(self.source, path, "exec", dont_inherit=True)
        arcs = source_arcs(tree, self.source, code) if branch else None  # before the rewrite
        self.instrumented = instrument(tree, path, code, arcs, self.source)
        self.code = compile(self.instrumented.tree, path, "exec", dont_inherit=True)
        self.engine = CountEngine(FileFilter(cwd=str(tmp), extra_files=[path]), branch=branch)
        self.helpers: dict[str, Any] = {
            HIT_HELPER: _hit,
            TICK_HELPER: _tick,
            ENTRY_HELPER: _entry,
            GENERATOR_HELPER: _generator,
            ITER_BUILTIN: iter,
            BLOCKS_HELPER: self.engine._take_table,
            FIX_HELPER: self.engine._cut,
            counter_name(path): self.engine._register(path),
        }

    def run(self) -> dict[str, Any]:
        """Run the instrumented code once, in fresh globals; returns them."""
        namespace = {"__name__": "snippet", **self.helpers}
        exec(self.code, namespace)
        return namespace

    def counts(self) -> dict[int, int]:
        measured = self.engine.measurement(contexts=False)
        assert measured.counts is not None
        return dict(measured.counts[str(self.path)])

    def arcs(self) -> dict[tuple[int, int], int]:
        measured = self.engine.measurement(contexts=False)
        assert measured.arcs is not None
        return dict(measured.arcs[str(self.path)])


LOOP = """\
    total = 0
    for n in range(5):
        if n % 2:
            total += n
    result = total
"""


def test_the_rewritten_code_computes_what_the_source_computes(tmp_path: Path) -> None:
    assert Snippet(LOOP, tmp_path).run()["result"] == 4


def test_counts_are_line_events_of_each_statement(tmp_path: Path) -> None:
    snippet = Snippet(LOOP, tmp_path)
    snippet.run()
    # trace: the header once per item and once more to end; the `if` per item.
    assert snippet.counts() == {1: 1, 2: 6, 3: 5, 4: 2, 5: 1}


def test_counts_add_up_over_runs(tmp_path: Path) -> None:
    snippet = Snippet(LOOP, tmp_path)
    snippet.run()
    snippet.run()
    assert snippet.counts() == {1: 2, 2: 12, 3: 10, 4: 4, 5: 2}


def test_the_slot_table_stands_for_every_statement_line(tmp_path: Path) -> None:
    snippet = Snippet(LOOP, tmp_path)
    table = SlotTable(snippet.instrumented.table)
    lines = {
        line
        for slot in range(table.size())
        for line, _, events in table.members(slot)
        if counts_lines(events)
    }
    assert lines == {1, 2, 3, 4, 5}


def test_an_exception_that_cuts_a_block_short_uncounts_what_never_ran(tmp_path: Path) -> None:
    snippet = Snippet(
        """\
        def risky(n):
            first = n
            second = 10 // n
            third = second
            return third

        for n in (1, 0, 2):
            try:
                risky(n)
            except ZeroDivisionError:
                pass
        """,
        tmp_path,
    )
    snippet.run()
    counts = snippet.counts()
    assert counts[2] == 3 and counts[3] == 3
    assert counts[4] == 2 and counts[5] == 2  # not for n == 0
    assert counts[10] == 1 and counts[11] == 1


def test_nested_code_counts_each_call_and_item(tmp_path: Path) -> None:
    snippet = Snippet(
        """\
        double = lambda x: x * 2
        values = [double(n) for n in range(3)]
        """,
        tmp_path,
    )
    assert snippet.run()["values"] == [0, 2, 4]
    counts = snippet.counts()
    # The lambda's body runs on line 1 once per call, besides the assignment.
    assert counts[1] == 1 + 3


def test_generator_expressions_count_their_start_and_their_end(tmp_path: Path) -> None:
    snippet = Snippet("total = sum(n for n in range(4))\n", tmp_path)
    assert snippet.run()["total"] == 6
    (count,) = snippet.counts().values()
    assert count > 1


@pytest.mark.parametrize("value", [1, -1])
def test_with_branches_each_arm_taken_is_an_arc_with_its_count(tmp_path: Path, value: int) -> None:
    snippet = Snippet(
        f"""\
        n = {value}
        if n > 0:
            sign = 1
        else:
            sign = -1
        """,
        tmp_path,
        branch=True,
    )
    assert snippet.run()["sign"] == value
    taken = (2, 3) if value > 0 else (2, 5)
    assert {arc: n for arc, n in snippet.arcs().items() if arc[0] == 2} == {taken: 1}


def test_context_switches_bank_what_ran_in_each_context(tmp_path: Path) -> None:
    snippet = Snippet(LOOP, tmp_path)
    path = str(snippet.path)
    snippet.engine.switch_context("first")
    snippet.run()
    snippet.engine.switch_context("idle")
    snippet.engine.switch_context("third")
    snippet.run()
    snippet.run()
    snippet.engine.switch_context("")
    parts = snippet.engine.measurement(contexts=True).contexts
    ran = {name: set(part.lines.get(path, ())) for name, part in parts.items()}
    assert ran["first"] == ran["third"] == {1, 2, 3, 4, 5}
    assert not ran.get("idle")
    assert snippet.counts()[2] == 18  # the counts are the sum over the contexts
