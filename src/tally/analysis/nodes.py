"""AST node kinds and predicates shared by static analysis and instrumentation."""

from __future__ import annotations

import ast

__all__ = ["DEFINITIONS", "is_docstring"]

# Statements whose bodies are code objects of their own.
DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def is_docstring(node: ast.stmt) -> bool:
    """Is `node` a bare string expression (a docstring when first in its body)?"""
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    )
