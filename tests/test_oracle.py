"""Differential specification: tally's numbers against coverage.py and trace, line by line."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from support import CASES, CORPUS, count_difference_kinds, coverage_view, oracle, tally_view

from tally import env

PROGRAMS = sorted(p.name for p in CORPUS.glob("*.py"))
ENGINES = ["count"] + (["monitor"] if env.HAS_MONITORING else [])


def corpus_file(name: str, tmp_path: Path) -> Path:
    if name.endswith("_312.py") and sys.version_info < (3, 12):
        pytest.skip("PEP 695 syntax needs Python 3.12+")
    return CORPUS / name


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("name", PROGRAMS)
def test_executed_lines_equal_coverage_py(name: str, engine: str, tmp_path: Path) -> None:
    """Every engine executes exactly the statements coverage.py executes."""
    script = corpus_file(name, tmp_path)
    _, _, expected = coverage_view(script, tmp_path)
    executed, _ = tally_view(script, tmp_path, f"--engine={engine}")
    assert sorted(executed) == sorted(expected)


@pytest.mark.parametrize("name", PROGRAMS)
def test_statements_and_exclusions_equal_coverage_py(name: str, tmp_path: Path) -> None:
    """Static analysis finds coverage.py's statements and excluded lines."""
    from tally.analysis.source import analyze_source, join_regex, read_source
    from tally.config.options import DEFAULT_EXCLUDE

    script = corpus_file(name, tmp_path)
    statements, excluded, _ = coverage_view(script, tmp_path)
    facts = analyze_source(read_source(str(script)), str(script), join_regex(DEFAULT_EXCLUDE))
    assert sorted(facts.statements) == sorted(statements)
    assert sorted(facts.excluded & set(range(1, 10_000))) == sorted(excluded)


@pytest.mark.parametrize("name", PROGRAMS)
def test_counts_equal_trace_or_documented(name: str, tmp_path: Path) -> None:
    """Counts equal `python -m trace --count` on every executed line, except on lines whose
    construct docs/counts.md lists as counted differently by trace."""
    script = corpus_file(name, tmp_path)
    expected = oracle(script, tmp_path)
    executed, counts = tally_view(script, tmp_path, "--count")
    kinds = count_difference_kinds(script.read_text())
    unexplained = {
        line: (counts.get(line), expected.trace_counts.get(line))
        for line in sorted(executed)
        if counts.get(line) != expected.trace_counts.get(line) and line not in kinds
    }
    assert unexplained == {}


@pytest.mark.parametrize("engine", ENGINES)
def test_a_loop_head_whose_first_test_raises_ran_once(engine: str, tmp_path: Path) -> None:
    """A loop first in its block (a function body, an `if`, `with` or `try` body) whose
    iterable or test raises at once: its head ran, as coverage.py and trace say, and
    counts as trace counts. (Its branches are not compared here: coverage.py records the
    exception leaving the frame or the `with` as an arc, docs/branches.md.)"""
    script = CASES / "raising_heads.py"
    expected = oracle(script, tmp_path)
    executed, counts = tally_view(script, tmp_path, f"--engine={engine}", "--count")
    assert sorted(executed) == sorted(expected.executed)
    assert {line: counts.get(line) for line in executed} == {
        line: expected.trace_counts.get(line) for line in executed
    }
