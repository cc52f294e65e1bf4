"""Instrument a module's AST with inline counters: the count engine's measurement.

Each statement that starts a line gets `__tally_<id>__[line] += n` in front of it, where
`__tally_<id>__` is a list in `builtins` (one per file, see counting.py). Counting inline
costs ~2x on the tightest loop, against ~19x for a LINE callback that never disables and
~22x for sys.settrace (measured on 3.11: docs/engines.md).

The counts mean what `python -m trace --count` reports: how many line events a line got,
which is how many times it began executing, plus the times execution came back to it.
The rewriter places counters to match (docs/counts.md lists each case and what remains):

- `n` is the number of line events one execution of the statement makes on its first line,
  read from the uninstrumented bytecode (events.py): 2 for `f(a,\\n  b)` and for each line
  of a decorated definition, 2 for a `with` (entry, then the exit call), else 1;
- a loop header is tested once per iteration plus once more when the loop ends by its
  test, so its counter goes at the start of the body and at the start of the `else`;
- a line holding several statements (`a = 1; b = 2`, `if x: y()`) starts once;
- a class body's code starts on the `class` line: one more event each time it runs;
- a lambda or comprehension on the statement's first line adds an event per call or
  iteration, and one when its own code object starts;
- `except E:` is tested each time an exception reaches it, matched or not, so the test
  expression is wrapped in a call that counts;
- `case P:` lines are tested until one matches; their counts are derived at save time
  from the `match` count and the counts of the cases before them (counting.py).
"""

from __future__ import annotations

import ast
from collections import Counter
from types import CodeType
from typing import NamedTuple

from tally import env
from tally.analysis.nodes import DEFINITIONS, is_docstring
from tally.types import LineNo

__all__ = [
    "ENTRY_HELPER",
    "HIT_HELPER",
    "TICK_HELPER",
    "Instrumented",
    "counter_name",
    "instrument",
]

# Builtins the instrumented code calls (counting.py defines them): count an `except` test
# and return the exception type; count one call or iteration of nested code and return
# True; count the start of a nested code object and return its iterable unchanged.
HIT_HELPER = "__tally_hit__"
TICK_HELPER = "__tally_tick__"
ENTRY_HELPER = "__tally_entry__"

_LOOPS = (ast.For, ast.AsyncFor, ast.While)
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


def counter_name(path: str) -> str:
    """The builtins name of `path`'s counter list: stable across runs, so cached code works.

    It starts and ends with two underscores, so class bodies never mangle it.
    """
    import hashlib  # here, not at import: it loads OpenSSL, and start-up time counts

    digest = hashlib.sha1(path.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f"__tally_{digest}__"


class Instrumented(NamedTuple):
    """The result of instrumenting one module."""

    tree: ast.Module
    counted: set[LineNo]


def _locate(node: ast.AST, line: LineNo, col: int = 0) -> ast.AST:
    """Give `node` and everything under it without a location a one-line location."""
    for child in ast.walk(node):
        if "lineno" in child._attributes and getattr(child, "lineno", None) is None:
            child.lineno = line  # type: ignore[attr-defined]
            child.end_lineno = line  # type: ignore[attr-defined]
            child.col_offset = col  # type: ignore[attr-defined]
            child.end_col_offset = col  # type: ignore[attr-defined]
    return node


def _is_future_import(node: ast.stmt) -> bool:
    return isinstance(node, ast.ImportFrom) and node.module == "__future__"


def _always_true(test: ast.expr) -> bool:
    return isinstance(test, ast.Constant) and bool(test.value)


def _expressions(stmt: ast.stmt) -> list[ast.AST]:
    """The expression nodes of `stmt` itself, not of the statements nested in it."""
    found: list[ast.AST] = []
    todo = [c for c in ast.iter_child_nodes(stmt) if not isinstance(c, ast.stmt)]
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.stmt, ast.ExceptHandler, ast.match_case)):
            continue
        found.append(node)
        todo.extend(ast.iter_child_nodes(node))
    return found


class _Rewriter:
    """Walks statement lists, inserting counters; lines come from the compiled line table."""

    def __init__(
        self, name: str, code_lines: set[LineNo], events: dict[int, Counter[LineNo]]
    ) -> None:
        self.name = name
        self.code_lines = code_lines
        self.events = events
        self.counted: set[LineNo] = set()

    # -- building blocks ---------------------------------------------------------------

    def bump(self, line: LineNo, at: ast.AST, by: int = 1) -> ast.stmt:
        """`__tally_<id>__[line] += by`, located at `line`."""
        self.counted.add(line)
        target = ast.Subscript(
            value=ast.Name(id=self.name, ctx=ast.Load()),
            slice=ast.Constant(line),
            ctx=ast.Store(),
        )
        node = ast.AugAssign(target=target, op=ast.Add(), value=ast.Constant(by))
        # At interpreter shutdown CPython clears builtins before the last __del__ methods
        # run (seen on 3.14 with pyparsing), so the counter list can be gone: skip counting
        # then. A try costs nothing until it catches (zero-cost exceptions, 3.11+).
        guarded = ast.Try(
            body=[node],
            handlers=[
                ast.ExceptHandler(
                    type=ast.Name(id="NameError", ctx=ast.Load()), name=None, body=[ast.Pass()]
                )
            ],
            orelse=[],
            finalbody=[],
        )
        col = getattr(at, "col_offset", 0) if getattr(at, "lineno", line) == line else 0
        _locate(guarded, line, col)
        return guarded

    def call(self, helper: str, line: LineNo, *args: ast.expr) -> ast.expr:
        """`helper(__tally_<id>__, line, *args)`, located at `line`."""
        self.counted.add(line)
        node = ast.Call(
            func=ast.Name(id=helper, ctx=ast.Load()),
            args=[ast.Name(id=self.name, ctx=ast.Load()), ast.Constant(line), *args],
            keywords=[],
        )
        _locate(node, line)
        return node

    def has_code(self, stmt: ast.stmt) -> bool:
        """Does the statement's own part (a compound statement's header) hold code? Its first
        line may hold none: in `if (\n    a\n):` the code is on the next line, which
        coverage.py maps back to the statement's first line."""
        first = stmt.lineno
        if first in self.code_lines:
            return True
        body = getattr(stmt, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.stmt):
            last = body[0].lineno - 1
        elif isinstance(stmt, ast.Match):
            last = stmt.cases[0].pattern.lineno - 1 if stmt.cases else first
        else:
            last = stmt.end_lineno or first
        return any(line in self.code_lines for line in range(first + 1, last + 1))

    def events_on(self, stmt: ast.stmt, line: LineNo) -> int:
        """Line events on `line` per execution of `stmt` (events.py), at least one."""
        counter = self.events.get(id(stmt))
        return max(1, counter[line]) if counter else 1

    # -- statements ----------------------------------------------------------------------

    def body(
        self, stmts: list[ast.stmt], header_line: LineNo | None, new_frame: bool = False
    ) -> list[ast.stmt]:
        """Instrument one statement list. `header_line` is the owning header's line, if any."""
        out: list[ast.stmt] = []
        previous_line = None if new_frame else header_line
        for index, stmt in enumerate(stmts):
            if index == 0 and new_frame and is_docstring(stmt):
                out.append(stmt)  # a def/class docstring is not executed code
                continue
            out.extend(self.statement(stmt, previous_line))
            previous_line = stmt.lineno
        return out

    def statement(self, stmt: ast.stmt, previous_line: LineNo | None) -> list[ast.stmt]:
        """The counters for `stmt`'s own lines, then `stmt` with its bodies instrumented."""
        before: list[ast.stmt] = []
        if isinstance(stmt, DEFINITIONS):
            for decorator in stmt.decorator_list:
                line = decorator.lineno
                if line in self.code_lines and line != previous_line:
                    before.append(self.bump(line, stmt, self.events_on(stmt, line)))
                    previous_line = line
        line = stmt.lineno
        if self.has_code(stmt):
            if line != previous_line and not isinstance(stmt, _LOOPS):
                before.append(self.bump(line, stmt, self.entry_events(stmt)))
            self.nested_code(stmt)
        self.inner(stmt)
        return [*before, stmt]

    def entry_events(self, stmt: ast.stmt) -> int:
        """Line events on the first line of `stmt` each time it runs."""
        if isinstance(stmt, (ast.With, ast.AsyncWith)) and stmt.body[0].lineno != stmt.lineno:
            # The exit (__exit__ call) runs code on the `with` line again, however the body
            # ends: once on entry and once on exit.
            return 2
        events = self.events_on(stmt, stmt.lineno)
        if getattr(stmt, "type_params", None):
            # PEP 695: the type parameters get a code object of their own, which starts on
            # the definition's line each time the definition runs.
            events += 1
        return events

    def nested_code(self, stmt: ast.stmt) -> None:
        """Count the line events of lambdas and comprehensions on the statement's first
        line: one per call or iteration (a backward jump), and one when a code object of
        their own starts (genexps always; comprehensions before PEP 709 inlined them)."""
        line = stmt.lineno
        for node in _expressions(stmt):
            if getattr(node, "lineno", None) != line or getattr(node, "end_lineno", 0) != line:
                continue
            if isinstance(node, ast.Lambda):
                node.body = ast.BoolOp(
                    op=ast.And(), values=[self.call(TICK_HELPER, line), node.body]
                )
                _locate(node.body, line)
            elif isinstance(node, _COMPREHENSIONS):
                for generator in node.generators:
                    generator.ifs.insert(0, self.call(TICK_HELPER, line))
                if isinstance(node, ast.GeneratorExp) or not env.INLINED_COMPREHENSIONS:
                    first = node.generators[0]
                    first.iter = self.call(ENTRY_HELPER, line, first.iter)

    def loop_header(self, stmt: ast.For | ast.AsyncFor | ast.While) -> None:
        """trace sees a loop header once per test: each iteration, plus the final failing
        test, which is exactly when the `else` clause runs."""
        line = stmt.lineno
        if not self.has_code(stmt):
            return
        stmt.body.insert(0, self.bump(line, stmt))
        if not (isinstance(stmt, ast.While) and _always_true(stmt.test)):
            stmt.orelse.insert(0, self.bump(line, stmt))

    def inner(self, stmt: ast.stmt) -> None:
        """Instrument the statement lists inside a compound statement."""
        line = stmt.lineno
        if isinstance(stmt, DEFINITIONS):
            stmt.body = self.body(stmt.body, line, new_frame=True)
            if isinstance(stmt, ast.ClassDef) and line in self.code_lines:
                # The class body's code starts on the `class` line: one more event per run.
                stmt.body.insert(0, self.bump(line, stmt))
        elif isinstance(stmt, _LOOPS):
            stmt.body = self.body(stmt.body, line)
            stmt.orelse = self.body(stmt.orelse, None)
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
            for case in stmt.cases:
                case_line = case.pattern.lineno
                case.body = self.body(case.body, case_line)
                if case_line in self.code_lines:
                    # Counts entries here; counting.py turns them into "times tested".
                    case.body.insert(0, self.bump(case_line, case.pattern))

    def handler(self, handler: ast.ExceptHandler) -> None:
        """Count an except clause each time it is tested."""
        line = handler.lineno
        handler.body = self.body(handler.body, line)
        if line not in self.code_lines:
            return
        if handler.type is None:
            handler.body.insert(0, self.bump(line, handler))
            return
        # `except E:` is evaluated for every exception that reaches it, matched or not.
        handler.type = self.call(HIT_HELPER, line, handler.type)


def instrument(tree: ast.Module, path: str, code: CodeType) -> Instrumented:
    """Instrument `tree` (parsed from `path`) in place. `code` is the same source compiled
    uninstrumented: its line table says which lines hold code, and its instructions how many
    line events each statement makes."""
    from tally.analysis.source import raw_statement_lines
    from tally.collect.events import statement_events

    rewriter = _Rewriter(
        counter_name(path), raw_statement_lines(code), statement_events(tree, code)
    )
    body = tree.body
    # A docstring and `from __future__` imports must stay first.
    head = 0
    while head < len(body) and (
        (head == 0 and is_docstring(body[0])) or _is_future_import(body[head])
    ):
        head += 1
    futures = [
        rewriter.bump(s.lineno, s)
        for s in body[:head]
        if not is_docstring(s) and s.lineno in rewriter.code_lines
    ]
    tree.body = body[:head] + futures + rewriter.body(body[head:], None)
    return Instrumented(tree, rewriter.counted)
