"""Instrument a module's AST with inline counters: the count engine's measurement.

Each statement that starts a line gets `__tally_<id>__[line] += 1` in front of it, where
`__tally_<id>__` is a list in `builtins` (one per file, see counting.py). Counting inline
costs ~2x on the tightest loop, against ~19x for a LINE callback that never disables and
~22x for sys.settrace (measured on 3.11, DEVELOPERS notes and speed.py in docs/engines.md).

The counts mean what `python -m trace --count` reports: how many times a line began
executing. Where trace's line events differ from "a statement started", the rewriter places
counters to match it (docs/counts.md lists each case and what remains different):

- a loop header is tested once per iteration plus once more when the loop ends by its
  test, so its counter goes at the start of the body and at the start of the `else`;
- a line holding several statements (`a = 1; b = 2`, `if x: y()`) starts once;
- `except E:` is tested each time an exception reaches it, matched or not, so the test
  expression is wrapped in a call that counts;
- `case P:` lines are tested until one matches; their counts are derived at save time
  from the `match` count and the counts of the cases before them (counting.py).
"""

from __future__ import annotations

import ast
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field

from tally.types import LineNo

__all__ = ["HIT_HELPER", "Instrumented", "counter_name", "instrument"]

# A builtin that counts an `except` test and returns the exception type unchanged.
HIT_HELPER = "__tally_hit__"


def counter_name(path: str) -> str:
    """The builtins name of `path`'s counter list: stable across runs, so cached code works.

    It starts and ends with two underscores, so class bodies never mangle it.
    """
    digest = hashlib.sha1(path.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f"__tally_{digest}__"


@dataclass
class Instrumented:
    """The result of instrumenting one module."""

    tree: ast.Module
    counted: set[LineNo] = field(default_factory=set)
    # match line -> case lines in order, for the save-time derivation of case counts
    matches: dict[LineNo, list[LineNo]] = field(default_factory=dict)


def _bump(name: str, line: LineNo, at: ast.AST) -> ast.stmt:
    target = ast.Subscript(
        value=ast.Name(id=name, ctx=ast.Load()), slice=ast.Constant(line), ctx=ast.Store()
    )
    node = ast.AugAssign(target=target, op=ast.Add(), value=ast.Constant(1))
    _locate(node, at, line)
    return node


def _locate(node: ast.AST, at: ast.AST, line: LineNo) -> None:
    """Give `node` and its children a one-line location at `line` (where `at` starts)."""
    col = getattr(at, "col_offset", 0) if getattr(at, "lineno", line) == line else 0
    for child in ast.walk(node):
        if "lineno" in child._attributes:
            child.lineno = line  # type: ignore[attr-defined]
            child.end_lineno = line  # type: ignore[attr-defined]
            child.col_offset = col  # type: ignore[attr-defined]
            child.end_col_offset = col  # type: ignore[attr-defined]


def _is_docstring(node: ast.stmt) -> bool:
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    )


def _is_future_import(node: ast.stmt) -> bool:
    return isinstance(node, ast.ImportFrom) and node.module == "__future__"


class _Rewriter:
    """Walks statement lists, inserting counters; lines come from the compiled line table."""

    def __init__(self, name: str, code_lines: set[LineNo]) -> None:
        self.name = name
        self.code_lines = code_lines
        self.result_counted: set[LineNo] = set()
        self.matches: dict[LineNo, list[LineNo]] = {}

    def bump(self, line: LineNo, at: ast.AST) -> ast.stmt:
        self.result_counted.add(line)
        return _bump(self.name, line, at)

    def body(
        self, stmts: list[ast.stmt], header_line: LineNo | None, new_frame: bool = False
    ) -> list[ast.stmt]:
        """Instrument one statement list. `header_line` is the owning header's line, if any."""
        out: list[ast.stmt] = []
        previous_line = None if new_frame else header_line
        for index, stmt in enumerate(stmts):
            if index == 0 and _is_docstring(stmt) and new_frame:
                out.append(stmt)  # a def/class docstring is not executed code
                continue
            out.extend(self.statement(stmt, previous_line))
            previous_line = stmt.lineno
        return out

    def statement(self, stmt: ast.stmt, previous_line: LineNo | None) -> list[ast.stmt]:
        """The counters for `stmt`'s own lines, then `stmt` with its bodies instrumented."""
        before: list[ast.stmt] = []
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            for decorator in stmt.decorator_list:
                if decorator.lineno in self.code_lines and decorator.lineno != previous_line:
                    before.append(self.bump(decorator.lineno, stmt))
                    previous_line = decorator.lineno
        line = stmt.lineno
        if (
            line in self.code_lines
            and line != previous_line
            and not isinstance(stmt, (ast.For, ast.AsyncFor, ast.While))
        ):
            before.append(self.bump(line, stmt))
        self.inner(stmt)
        return [*before, stmt]

    def loop_header(self, stmt: ast.For | ast.AsyncFor | ast.While) -> None:
        # trace sees the header once per test: each iteration, plus the final failing test,
        # which is exactly when the `else` clause runs.
        line = stmt.lineno
        if line not in self.code_lines:
            return
        stmt.body.insert(0, self.bump(line, stmt))
        if not (isinstance(stmt, ast.While) and _always_true(stmt.test)):
            stmt.orelse.insert(0, self.bump(line, stmt))

    def inner(self, stmt: ast.stmt) -> None:
        """Instrument the statement lists inside a compound statement."""
        line = stmt.lineno
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            stmt.body = self.body(stmt.body, line, new_frame=True)
        elif isinstance(stmt, (ast.For, ast.AsyncFor, ast.While)):
            stmt.body = self.body(stmt.body, line)
            stmt.orelse = self.body(stmt.orelse, None) if stmt.orelse else []
            self.loop_header(stmt)
        elif isinstance(stmt, ast.If):
            stmt.body = self.body(stmt.body, line)
            stmt.orelse = self.body(stmt.orelse, None)
        elif isinstance(stmt, (ast.With, ast.AsyncWith)):
            stmt.body = self.body(stmt.body, line)
        elif isinstance(stmt, (ast.Try, ast.TryStar)):
            stmt.body = self.body(stmt.body, line)
            for handler in stmt.handlers:
                self.handler(handler)
            stmt.orelse = self.body(stmt.orelse, None)
            stmt.finalbody = self.body(stmt.finalbody, None)
        elif isinstance(stmt, ast.Match):
            cases: list[LineNo] = []
            for case in stmt.cases:
                case_line = case.pattern.lineno
                case.body = self.body(case.body, case_line)
                if case_line in self.code_lines:
                    # Counts entries here; counting.py turns them into "times tested".
                    case.body.insert(0, self.bump(case_line, case.pattern))
                    cases.append(case_line)
            self.matches[line] = cases

    def handler(self, handler: ast.ExceptHandler) -> None:
        line = handler.lineno
        handler.body = self.body(handler.body, line)
        if line not in self.code_lines:
            return
        if handler.type is None:
            handler.body.insert(0, self.bump(line, handler))
            return
        # `except E:` is evaluated for every exception that reaches it, matched or not.
        self.result_counted.add(line)
        call = ast.Call(
            func=ast.Name(id=HIT_HELPER, ctx=ast.Load()),
            args=[ast.Name(id=self.name, ctx=ast.Load()), ast.Constant(line), handler.type],
            keywords=[],
        )
        ast.copy_location(call, handler.type)
        for child in (call.func, *call.args[:2]):
            ast.copy_location(child, handler.type)
        handler.type = call


def _always_true(test: ast.expr) -> bool:
    return isinstance(test, ast.Constant) and bool(test.value)


def instrument(tree: ast.Module, path: str, code_lines: Iterable[LineNo]) -> Instrumented:
    """Instrument `tree` (parsed from `path`) in place; `code_lines` are the lines that the
    uninstrumented module's line table holds, so only real statements get counters."""
    rewriter = _Rewriter(counter_name(path), set(code_lines))
    body = tree.body
    # Docstring and `from __future__` imports must stay first.
    head = 0
    while head < len(body) and (
        (head == 0 and _is_docstring(body[0])) or _is_future_import(body[head])
    ):
        head += 1
    prefix = [s for s in body[:head] if not _is_docstring(s)]
    tree.body = (
        body[:head]
        + [rewriter.bump(s.lineno, s) for s in prefix if s.lineno in rewriter.code_lines]
        + rewriter.body(body[head:], None)
    )
    return Instrumented(tree, rewriter.result_counted, rewriter.matches)
