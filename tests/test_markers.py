"""The monitor engine's branch markers before 3.14: one per arm, read back from the source."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest
from support import run_tally, write

from tally.analysis.arcs import find_arcs
from tally.analysis.source import multiline_map, raw_statement_lines
from tally.collect.markers import MARK_BASE, insert_markers
from tally.data.sqlite import CoverageData

SOURCE = """\
def classify(n, items):
    if n < 0:
        return "negative"
    for item in items:
        if item == n: break
    else:
        n += 1
    while n > 10:
        n -= 10
    match n:
        case 0:
            return "zero"
        case 1 | 2 if items:
            return "small"
    return "other"

class Empty(Exception): pass
def one_line(): return 1
"""


def table_of(source: str) -> tuple[ast.Module, list[tuple[int, int]], list[object]]:
    tree = ast.parse(source)
    code = compile(source, "<src>", "exec")
    arcs = find_arcs(tree, raw_statement_lines(code), multiline_map(source))
    table = insert_markers(tree, arcs)
    return tree, table.markers, [arcs.arms, table.implied]


def test_every_arm_gets_one_marker_and_the_table_is_the_same_each_time() -> None:
    tree, markers, (arms, implied) = table_of(SOURCE)
    # Every arm but a failed pattern before the last case, and the ways out of one-line
    # bodies.
    others = [arc for arc in arms.values() if arc != (11, 13)]  # type: ignore[attr-defined]
    expected = [*others, (17, -17), (18, -18)]
    assert sorted(markers) == sorted(expected)
    # A failed pattern before the last case is implied by the next case's line running;
    # a one-line class statement goes on whenever its line runs.
    assert implied == [(13, (11, 13)), (17, (17, 18)), (18, (18, -1))]
    assert table_of(SOURCE)[1] == markers
    lines = {n.lineno for n in ast.walk(tree) if isinstance(n, ast.Pass)}
    assert {n - MARK_BASE for n in lines if n >= MARK_BASE} == set(range(len(markers)))
    compile(tree, "<marked>", "exec")  # the marked tree is valid Python


@pytest.mark.skipif(sys.version_info < (3, 12), reason="the monitor engine needs 3.12+")
def test_marker_lines_never_reach_the_data_file(tmp_path: Path) -> None:
    write(tmp_path / "prog.py", SOURCE + "classify(-1, [])\nclassify(0, [0])\n")
    result = run_tally("run", "--branch", "--engine=monitor", "prog.py", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    data = CoverageData(str(tmp_path / ".coverage"))
    (path,) = data.measured_files()
    assert max(data.lines(path) or [0]) <= len(SOURCE.splitlines()) + 2
    assert (2, 3) in (data.arcs(path) or [])


def test_the_table_cached_when_instrumenting_is_read_back_unless_the_source_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    from tally.collect.importer import compile_instrumented
    from tally.collect.markers import marker_arcs
    from tally.collect.pycache import cache_for, write_cache

    path = str(tmp_path / "mod.py")
    write(tmp_path / "mod.py", SOURCE)
    compile_instrumented(SOURCE, path, "markers")
    where = cache_for(path, "markers", "arms")
    assert where is not None
    cache, stamp = where
    assert Path(cache).exists()
    _, markers, _ = table_of(SOURCE)
    first = MARK_BASE  # marker 0 was run
    assert marker_arcs(path, {first}) == {markers[0]: 0}

    # The cache is what is read: a table planted under the source's current stamp wins.
    write_cache(cache, path, stamp, ([(7, 8)], [], {}))
    assert marker_arcs(path, {first}) == {(7, 8): 0}

    # Once the source changes, the stale cache is ignored and the table rebuilt from it.
    write(tmp_path / "mod.py", SOURCE + "\n")
    assert marker_arcs(path, {first}) == {markers[0]: 0}
