"""The possible arcs of a file (analysis/arcs.py), against coverage.py's parser: which
arcs, and the sentence that says why one was missed. (The corpus and standard-library
modules are held to coverage.py's arcs in test_branches.py too.)"""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest
from coverage.parser import PythonParser
from test_branches import CORPUS_FILES, find_arcs_of

from tally.analysis.arcs import ArcFacts, source_arcs


def arcs_of(source: str) -> ArcFacts:
    text = textwrap.dedent(source)
    return source_arcs(ast.parse(text), text, compile(text, "snippet.py", "exec"))


def coverage_py_arcs(source: str) -> set[tuple[int, int]]:
    parser = PythonParser(text=textwrap.dedent(source), filename="snippet.py")
    parser.parse_source()
    return set(parser.arcs())


SNIPPETS = {
    "if-else": """\
        if x:
            a = 1
        else:
            a = 2
        b = 3
        """,
    "while-else-break": """\
        while x:
            if y:
                break
        else:
            z = 1
        w = 2
        """,
    "try-finally-return": """\
        def f():
            try:
                return g()
            finally:
                h()
        """,
    "with": """\
        with open(p) as f:
            data = f.read()
        done = True
        """,
    "match": """\
        match value:
            case 1:
                a = 1
            case _:
                a = 2
        """,
    "generator": """\
        def gen(n):
            for i in range(n):
                yield i
        """,
}


@pytest.mark.parametrize("name", SNIPPETS)
def test_the_arcs_of_each_statement_kind_are_coverage_pys(name: str) -> None:
    assert arcs_of(SNIPPETS[name]).arcs == coverage_py_arcs(SNIPPETS[name])


def test_an_if_has_an_arc_to_each_arm_and_on_from_each() -> None:
    facts = arcs_of(SNIPPETS["if-else"])
    assert {(1, 2), (1, 4), (2, 5), (4, 5), (5, -1)} <= facts.arcs
    assert facts.exit_counts(excluded=())[1] == 2


def test_multi_line_statements_are_arcs_of_their_first_line() -> None:
    facts = arcs_of(
        """\
        total = add(
            1,
            2,
        )
        print(total)
        """
    )
    assert facts.arcs == {(1, 5), (5, -1)}  # coverage.py's too: a module has no entry arc
    # A measured arc from a continuation line is written as its statement's first line.
    assert facts.translate([(3, 5)]) == {(1, 5)}


def _dropping_repeats(description: str) -> str:
    """coverage.py's description with a sentence dropped that another one repeats and
    adds a reason to ("line 9 didn't jump to line 10 or line 9 didn't jump to line 10
    because ..."): tally says each way once."""
    sentences = description.split(" or ")
    kept = [s for s in sentences if not any(o != s and o.startswith(s) for o in sentences)]
    return " or ".join(kept)


@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: p.name)
def test_a_missed_arc_is_described_in_coverage_pys_words(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    parser = PythonParser(text=text, filename=str(path))
    parser.parse_source()
    facts = find_arcs_of(path)
    differ = [
        (start, end, theirs, ours)
        for start, end in sorted(parser.arcs())
        if (theirs := _dropping_repeats(parser.missing_arc_description(start, end)))
        != (ours := facts.describe_missing(start, end))
    ]
    assert differ == []
