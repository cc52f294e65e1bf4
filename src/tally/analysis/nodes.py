"""AST node kinds and predicates shared by static analysis and instrumentation."""

from __future__ import annotations

import ast
from collections.abc import Iterator

__all__ = [
    "BLOCK_FIELDS",
    "DEFINITIONS",
    "SUSPENSIONS",
    "all_nodes",
    "definition_keys",
    "irrefutable",
    "is_docstring",
]

# Statements whose bodies are code objects of their own.
DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
# The fields of a compound statement (or clause) that hold statement lists or clauses.
BLOCK_FIELDS = ("body", "orelse", "finalbody", "handlers", "cases")
# Expressions that suspend their frame.
SUSPENSIONS = (ast.Yield, ast.YieldFrom, ast.Await)


def all_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """The nodes of `tree`, `tree` first, in no promised order: what `ast.walk` gives, at
    half its cost (no generator per node and per field), but for the nodes without fields
    held in a single field (the contexts `Load` and `Store`, the operators of `BinOp`,
    `UnaryOp`, `BoolOp` and `AugAssign`). The count engine walks each module it
    instruments."""
    todo = [tree]
    pop, push, extend, AST = todo.pop, todo.append, todo.extend, ast.AST  # noqa: N806
    while todo:
        node = pop()
        yield node
        for name in node._fields:
            value = getattr(node, name, None)
            if isinstance(value, list):
                extend([item for item in value if isinstance(item, AST)])
            elif isinstance(value, AST) and value._fields:
                push(value)


def definition_keys(
    node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef,
) -> set[tuple[str, int]]:
    """The (code name, first line) its code object may carry: a decorated definition's
    code starts at its first decorator on 3.11, at its own line after."""
    return {(node.name, line) for line in (node.lineno, *(d.lineno for d in node.decorator_list))}


def is_docstring(node: ast.stmt) -> bool:
    """Is `node` a bare string expression (a docstring when first in its body)?"""
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    )


def irrefutable(case: ast.match_case) -> bool:
    """Does this `case` match anything that reaches it (`case _:`, `case x:`)?"""
    if case.guard is not None:
        return False
    pattern = case.pattern
    while isinstance(pattern, ast.MatchOr):
        pattern = pattern.patterns[-1]
    while isinstance(pattern, ast.MatchAs) and pattern.pattern is not None:
        pattern = pattern.pattern
    return isinstance(pattern, ast.MatchAs) and pattern.pattern is None
