"""Functions and classes of a source file as regions of lines, as coverage.py finds them.

coverage.py (regions.py, 7.x) defines what its JSON and LCOV reports say per function and
class: a function's lines run from its body's first line to its body's last, less the
bodies of functions nested in it; a class's lines are those of its methods (and of
methods of classes nested in it, less those classes' own). Lines include blank lines and
comments; a report keeps only the statements among them.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Literal

from tally.analysis.nodes import BLOCK_FIELDS
from tally.types import LineNo

__all__ = ["Region", "code_regions"]

# The fields of a node that hold statements, directly or through handlers and cases.


@dataclass
class Region:
    """A function or class: its dotted name, the line it starts on, and its lines."""

    kind: Literal["function", "class"]
    name: str
    start: LineNo
    lines: set[LineNo] = field(default_factory=set)


class _Finder:
    def __init__(self) -> None:
        self.regions: list[Region] = []
        self.stack: list[Region] = []

    def visit(self, node: ast.AST) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            self.function(node)
        elif isinstance(node, ast.ClassDef):
            self.klass(node)
        else:
            self.children(node)

    def children(self, node: ast.AST) -> None:
        for name in BLOCK_FIELDS:
            for child in getattr(node, name, ()):
                self.visit(child)

    def dotted(self, name: str) -> str:
        return ".".join([r.name.rsplit(".", 1)[-1] for r in self.stack] + [name])

    def function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        last = node.body[-1].end_lineno or node.body[-1].lineno
        lines = set(range(node.body[0].lineno, last + 1))
        if self.stack and self.stack[-1].kind == "class":
            self.stack[-1].lines |= lines  # a method's lines are its class's too
        enclosing = next((r for r in reversed(self.stack) if r.kind == "function"), None)
        if enclosing is not None:
            enclosing.lines -= lines  # but not its enclosing function's
        self.enter(Region("function", self.dotted(node.name), node.lineno, lines), node)

    def klass(self, node: ast.ClassDef) -> None:
        region = Region("class", self.dotted(node.name), node.lineno)
        self.enter(region, node)
        enclosing = next((r for r in reversed(self.stack) if r.kind == "class"), None)
        if enclosing is not None:
            enclosing.lines -= region.lines  # a nested class's methods are its own only

    def enter(self, region: Region, node: ast.AST) -> None:
        self.regions.append(region)
        self.stack.append(region)
        self.children(node)
        self.stack.pop()


def code_regions(tree: ast.Module) -> list[Region]:
    """The functions and classes of the module `tree`, in source order."""
    finder = _Finder()
    finder.visit(tree)
    return finder.regions
