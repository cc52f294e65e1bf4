"""AST node kinds and predicates shared by static analysis and instrumentation."""

from __future__ import annotations

import ast

__all__ = [
    "BLOCK_FIELDS",
    "DEFINITIONS",
    "SUSPENSIONS",
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
