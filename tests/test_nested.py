"""Finding nested code in a module: the quick way through its statements agrees with the
walk through every node."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from tally.collect.nested import index_tree

# This Python's corpus: the PEP 695 programs parse on 3.12+ only.
CORPUS = [
    path
    for path in sorted((Path(__file__).parent / "corpus").glob("*.py"))
    if sys.version_info >= (3, 12) or not path.name.endswith("_312.py")
]


def _summary(tree: ast.AST, source: bytes | None) -> tuple[set[object], ...]:
    index = index_tree(tree, source)
    return (
        {id(node) for node in index.definitions},
        {id(node) for node in index.nested},
        {id(node) for node in index.suspensions},
        set(index.loops),
    )


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.name)
def test_the_statements_only_walk_finds_what_the_full_walk_finds(path: Path) -> None:
    source = path.read_bytes()
    tree = ast.parse(source)
    assert _summary(tree, source) == _summary(tree, None)


@pytest.mark.parametrize(
    "source",
    [
        "xs = [x for x in range(3)]\n",
        "for a in b:\n    ys = {y: 1 for y in a}\n",
        "f = lambda: 1\n",
        "def g():\n    yield 1\n",
        "async def h():\n    await g()\n",
        "total = sum(n for n in range(3))\n",
    ],
)
def test_nested_code_is_found_however_the_module_is_walked(source: str) -> None:
    tree = ast.parse(source)
    index = index_tree(tree, source)
    assert index.nested or index.suspensions


def test_a_word_in_a_comment_only_sends_the_module_the_long_way() -> None:
    body = "class C:\n    def m(self):\n        for i in x:\n            pass\n"
    for source in (body, "# a lambda, in a comment only\n" + body):
        index = index_tree(ast.parse(source), source)
        assert {node.name for node in index.definitions} == {"C", "m"}
        assert not (index.nested or index.suspensions or index.loops)
