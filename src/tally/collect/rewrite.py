"""Instrument a module's AST with inline counters: the count engine's measurement.

One counter, `__tally_<id>__[slot] += 1`, serves each *block* of statements that run
together; numbered guards correct the blocks an exception cuts short; a block that starts
with an `if` is counted by the `if`'s arms; the module's first statement hands the engine
its slot table (slots.py). docs/engines.md explains the design and its costs ("One counter
per block", "Blocks counted by their `if`") and what each count means ("What the rewrite
counts").
"""

from __future__ import annotations

import ast
import bisect
from collections.abc import Iterator
from types import CodeType
from typing import TYPE_CHECKING, NamedTuple, TypeVar

from tally.analysis.nodes import BLOCK_FIELDS, DEFINITIONS, SUSPENSIONS, is_docstring
from tally.collect.names import (
    BLOCKS_HELPER,
    ENTRY_HELPER,
    FIX_HELPER,
    GENERATOR_HELPER,
    HIT_HELPER,
    ITER_BUILTIN,
    TICK_HELPER,
    counter_name,
)
from tally.collect.nested import NESTED, Weights
from tally.collect.slots import (
    ARC,
    CASE_NEXT,
    FLAG_CASES,
    IF_FAILED,
    LOOP_TEST,
    Derived,
    Member,
    is_arc,
    pack_slots,
)
from tally.env import CO_OPTIMIZED
from tally.types import LineNo

if TYPE_CHECKING:
    from tally.analysis.arcs import ArcFacts, Arm
    from tally.collect.events import StatementEvents
    from tally.types import Arc

__all__ = ["Instrumented", "instrument"]


_LOOPS = (ast.For, ast.AsyncFor, ast.While)
_Node = TypeVar("_Node", bound=ast.AST)
# Context and operator nodes carry no location: one of each serves every counter.
_LOAD, _STORE, _ADD = ast.Load(), ast.Store(), ast.Add()
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
_JUMPS = (ast.Return, ast.Raise, ast.Break, ast.Continue)
_COMPOUND = (
    ast.If,
    ast.For,
    ast.AsyncFor,
    ast.While,
    ast.With,
    ast.AsyncWith,
    ast.Try,
    ast.TryStar,
    ast.Match,
)
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)
# Statements that hold no statements and can't jump: most of a module, answered without
# the questions a compound statement needs (a `yield` or `await` in one still is asked).
_SIMPLE = frozenset(
    {
        ast.Expr,
        ast.Assign,
        ast.AugAssign,
        ast.AnnAssign,
        ast.Pass,
        ast.Import,
        ast.ImportFrom,
        ast.Global,
        ast.Nonlocal,
        ast.Delete,
        ast.Assert,
    }
)


class Instrumented(NamedTuple):
    """The result of instrumenting one module: the tree and its slot table (slots.py)."""

    tree: ast.Module
    table: bytes


def _locate(node: ast.AST, line: LineNo, col: int = 0) -> ast.AST:
    """Give `node` and everything under it without a location a one-line location. A node
    with a location is the program's own, as is everything under it: not walked."""
    todo = [node]
    while todo:
        child = todo.pop()
        if "lineno" in child._attributes:
            if getattr(child, "lineno", None) is not None:
                continue
            child.lineno = line  # type: ignore[attr-defined]
            child.end_lineno = line  # type: ignore[attr-defined]
            child.col_offset = col  # type: ignore[attr-defined]
            child.end_col_offset = col  # type: ignore[attr-defined]
        todo.extend(ast.iter_child_nodes(child))
    return node


def _place(node: _Node, line: LineNo, col: int = 0) -> _Node:
    """Give `node` itself (not the nodes under it) a one-line location."""
    node.lineno = node.end_lineno = line  # type: ignore[attr-defined]
    node.col_offset = node.end_col_offset = col  # type: ignore[attr-defined]
    return node


def _iter_call(iterable: ast.expr) -> ast.expr:
    """`iter(iterable)` through the builtin, located where `iterable` is (Python points its
    own error there on 3.13 and 3.14, at the whole generator expression on 3.11 and 3.15)."""
    call = ast.Call(ast.Name(ITER_BUILTIN, ast.Load()), [iterable], [])
    for node in (call, call.func):
        ast.copy_location(node, iterable)
    return call


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


def _outermost_nested(stmt: ast.stmt) -> set[int]:
    """ids of the lambdas, comprehensions and generator expressions of `stmt` that are not
    inside another one, and run whenever the statement does (not in an arm of a
    conditional expression or an operand an `and`/`or` may skip)."""
    found: set[int] = set()
    todo = [c for c in ast.iter_child_nodes(stmt) if not isinstance(c, ast.stmt)]
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.stmt, ast.ExceptHandler, ast.match_case)):
            continue
        if isinstance(node, NESTED):
            found.add(id(node))
        elif isinstance(node, ast.IfExp):
            todo.append(node.test)
        elif isinstance(node, ast.BoolOp):
            todo.append(node.values[0])
        else:
            todo.extend(ast.iter_child_nodes(node))
    return found


class _Leaving:
    """Can running a node end other than by finishing or raising where it stands: a
    `return`, a `break` or `continue` aimed outside it, a bare `raise`, or a suspension
    (`yield`, `await`, `async for/with`)? Each statement's answer is kept: it is asked
    again by every statement around it. An expression can only by a `yield` or `await`
    inside it, so one with none on its lines is not walked."""

    def __init__(self, suspensions: list[LineNo]) -> None:
        self.suspensions = sorted(suspensions)  # the lines `yield` or `await` start on
        self.memo: dict[tuple[int, bool], bool] = {}

    def __call__(self, node: ast.AST, in_loop: bool) -> bool:
        """`in_loop` says whether a `break` here stays inside `node`'s statement."""
        if type(node) in _SIMPLE or not isinstance(
            node, (ast.stmt, ast.ExceptHandler, ast.match_case)
        ):
            return self.may_suspend(node) and self.find(node, in_loop)
        key = (id(node), in_loop)
        found = self.memo.get(key)
        if found is None:
            found = self.memo[key] = self.find(node, in_loop)
        return found

    def may_suspend(self, node: ast.AST) -> bool:
        """Does a `yield` or `await` start on one of `node`'s lines?"""
        first = getattr(node, "lineno", None)
        if first is None:
            return bool(self.suspensions)  # a node without a place: no telling
        at = bisect.bisect_left(self.suspensions, first)
        return at < len(self.suspensions) and self.suspensions[at] <= node.end_lineno  # type: ignore[attr-defined]

    def find(self, node: ast.AST, in_loop: bool) -> bool:
        if isinstance(node, _SCOPES):
            return False
        if isinstance(node, (ast.Return, *SUSPENSIONS, ast.AsyncFor, ast.AsyncWith)):
            return True
        if isinstance(node, ast.Raise) and node.exc is None:
            # A bare `raise` re-raises without a traceback entry of its own: the guard that
            # stops it sees the line where the exception first passed, not this one.
            return True
        if isinstance(node, (ast.Break, ast.Continue)):
            return not in_loop
        if isinstance(node, (ast.For, ast.While)):
            inner = [node.target, node.iter] if isinstance(node, ast.For) else [node.test]
            return any(self(child, in_loop) for child in [*inner, *node.orelse]) or any(
                self(child, True) for child in node.body
            )
        if not self.may_suspend(node):
            # Only the statements inside can leave: its expressions hold no yield or await.
            return any(self(child, in_loop) for child in _inner_statements(node))
        return any(self(child, in_loop) for child in ast.iter_child_nodes(node))


def _inner_statements(node: ast.AST) -> Iterator[ast.AST]:
    """The statements (and `except`/`case` clauses) directly inside a compound statement."""
    for field in BLOCK_FIELDS:
        yield from getattr(node, field, ())


def _loops_forever(stmt: ast.stmt) -> bool:
    """Is `stmt` a `while True:` loop with no `break` of its own (so nothing after it runs)?"""
    if not (isinstance(stmt, ast.While) and _always_true(stmt.test)):
        return False
    todo: list[ast.AST] = list(stmt.body)
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Break):
            return False
        if not isinstance(node, (*_SCOPES, ast.For, ast.AsyncFor, ast.While)):
            todo.extend(ast.iter_child_nodes(node))
    return True


def _annotated_classes(code: CodeType) -> set[tuple[str, LineNo]]:
    """The class bodies in `code` (by name and first line) that set up an `__annotate__`
    of their own (3.14+, without `from __future__ import annotations`)."""
    found: set[tuple[str, LineNo]] = set()
    todo = [code]
    while todo:
        current = todo.pop()
        children = [c for c in current.co_consts if isinstance(c, CodeType)]
        is_class_body = not current.co_flags & CO_OPTIMIZED and current.co_name != "<module>"
        # Its own `__annotate__` starts on its first line; its methods' on theirs.
        own = (c.co_firstlineno for c in children if c.co_name == "__annotate__")
        if is_class_body and current.co_firstlineno in own:
            found.add((current.co_name, current.co_firstlineno))
        todo.extend(children)
    return found


def _sets_up_annotate(
    cls: ast.ClassDef, first_line: LineNo, annotated: set[tuple[str, LineNo]]
) -> bool:
    """Does the class set up its `__annotate__` on its first line after a statement that
    ran on another line? (It has one, and code of its own: an annotation without a value
    compiles to nothing.)"""
    if (cls.name, first_line) not in annotated:
        return False
    return not all(isinstance(stmt, ast.AnnAssign) and stmt.value is None for stmt in cls.body)


def _ends_block(stmt: ast.stmt, leaves: _Leaving) -> bool:
    """Can the statement after `stmt` run a different number of times than `stmt`, even
    without an exception? (And so must it start a block of its own.) A compound statement
    that always comes out at its end, like most `if`s and loops, doesn't end the block:
    an exception inside it is corrected like one in the block itself."""
    if isinstance(stmt, ast.ClassDef):
        return True
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return bool(stmt.decorator_list)  # applying a decorator runs on its line again
    if isinstance(stmt, _JUMPS):
        return True
    return leaves(stmt, False) or _loops_forever(stmt)


def _own_last_line(stmt: ast.stmt) -> LineNo:
    """The last line of `stmt` that runs in its own frame: a definition's header only."""
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return max(stmt.lineno, stmt.body[0].lineno - 1)
    return stmt.end_lineno or stmt.lineno


def _jumps_out(stmts: list[ast.stmt], leaves: _Leaving) -> bool:
    """Can `stmts` (a `finally` body) end other than by finishing or raising? A `return`, or
    a `break` or `continue` aimed outside it, swallows an exception on its way through."""
    return any(leaves(stmt, False) for stmt in stmts)


class _Opened(NamedTuple):
    """A block as body() opened it: its slot, and where its counter is in body()'s list."""

    slot: int
    counter: int


class _Waiting(NamedTuple):
    """A block that starts with an `if`, to be counted by the `if`'s arms: the `if`, the
    block, the `if`'s index in its members, and the slot of the block its body starts."""

    stmt: ast.If
    opened: _Opened
    member: int
    then: int


class _Rewriter:
    """Walks statement lists, opening blocks and inserting their counters."""

    def __init__(
        self,
        name: str,
        code_lines: set[LineNo],
        events: StatementEvents,
        nested: dict[int, Weights],
        arcs: ArcFacts | None = None,
    ) -> None:
        self.name = name
        self.code_lines = code_lines
        self.events = events.per_line
        self.loop_tests = events.loop_tests
        self.ways = events.ways
        self.nested = nested
        self.arms: dict[Arm, Arc] = arcs.arms if arcs is not None else {}
        self.implied = arcs.unarmed_exits() if arcs is not None else {}
        self.multiline = arcs.multiline if arcs is not None else {}
        self.nested_lines: set[LineNo] = set()  # where nested code starts
        self.one_line_bodies: set[LineNo] = set()  # lines of definitions with a body_exit
        self.annotated_classes: set[tuple[str, LineNo]] = set()  # _annotated_classes()
        self.slots: list[list[Member]] = []
        self.guards: list[int] = []  # per slot: the guard whose handler fixes it, or 0
        self.guard_count = 0
        self.flags = 0
        self.failing_tests: set[int] = set()  # ids of the `if`s with an IF_FAILED member
        self.leaves = _Leaving([])
        self.derived: list[Derived] = []  # the blocks counted by their `if`'s arms
        # id of a statement list body() returned -> the slot of the block it starts with,
        # when that block's counter is the list's first statement.
        self.first_blocks: dict[int, int] = {}

    # -- building blocks ---------------------------------------------------------------

    def counter(self, members: list[Member], line: LineNo, at: ast.AST) -> ast.stmt:
        """A new slot standing for `members` and `__tally_<id>__[slot] += 1`, located at
        `line`. `members` stays open: the caller adds the rest of the block to it."""
        slot = len(self.slots)
        self.slots.append(members)
        self.guards.append(0)
        # No `try` around it for when the list is gone: names.put keeps it in builtins
        # through the interpreter's shutdown.
        col = getattr(at, "col_offset", 0) if getattr(at, "lineno", line) == line else 0
        # Built located (as _locate would place them): a counter per block adds up.
        target = _place(
            ast.Subscript(
                value=_place(ast.Name(id=self.name, ctx=_LOAD), line, col),
                slice=_place(ast.Constant(slot), line, col),
                ctx=_STORE,
            ),
            line,
            col,
        )
        value = _place(ast.Constant(1), line, col)
        return _place(ast.AugAssign(target=target, op=_ADD, value=value), line, col)

    def call(
        self, helper: str, line: LineNo, *args: ast.expr, weight: int = 1, more: int = 0
    ) -> ast.expr:
        """`helper(__tally_<id>__, slot, *args)` with a slot of its own for `line`, counted
        `weight` events there; with `more`, a second slot after it, counted `more` events."""
        slot = len(self.slots)
        self.slots.append([(line, 0, weight)])
        self.guards.append(0)
        if more:
            self.slots.append([(line, 0, more)])
            self.guards.append(0)
        node = ast.Call(
            func=ast.Name(id=helper, ctx=ast.Load()),
            args=[ast.Name(id=self.name, ctx=ast.Load()), ast.Constant(slot), *args],
            keywords=[],
        )
        _locate(node, line)
        return node

    def cut_spans(self, first_slot: int) -> list[tuple[LineNo, LineNo]]:
        """The lines where an exception cuts short a block opened since `first_slot` that
        no inner guard answers for: a member with members after it; a loop's header on a
        line of its own, whose test or iterator can raise before the loop's blocks count it
        (trace counts that test); the test of the `if` that counts a derived block."""
        spans: list[tuple[LineNo, LineNo]] = []
        derived = {d.slot: d for d in self.derived if d.slot >= first_slot}
        for slot in range(first_slot, len(self.slots)):
            if self.guards[slot]:
                continue
            members = self.slots[slot]
            for index, (line, end, events) in enumerate(members):
                if events == LOOP_TEST:
                    spans.append((line, line))
                elif end and not is_arc(events) and index < len(members) - 1:
                    spans.append((line, max(line, end)))
            if slot in derived:
                test = members[derived[slot].member][0]
                spans.append((test, derived[slot].body_line - 1))
        return spans

    def guarded(self, stmts: list[ast.stmt], first_slot: int) -> list[ast.stmt]:
        """`stmts` wrapped so an exception leaving them corrects the counts of a block it
        cut short; unchanged when no block opened since `first_slot` can be cut short.
        The statements after the last one holding such a place are left outside: an
        exception from them (a final `return f(x)`, a `with` whose body has a guard of its
        own) changes no count, and a guard that catches costs ~1 µs."""
        spans = self.cut_spans(first_slot) if stmts else []
        if not spans:
            return stmts
        end = len(stmts)
        while end:
            last = stmts[end - 1]
            first, final = last.lineno, last.end_lineno or last.lineno
            if any(first <= high and low <= final for low, high in spans):
                break
            end -= 1
        end = end or len(stmts)
        # The guard answers for the blocks opened inside it that no inner guard answers for:
        # an exception passes the inner guards first, so each block is fixed once.
        self.guard_count += 1
        guard = self.guard_count
        for slot in range(first_slot, len(self.slots)):
            if not self.guards[slot]:
                self.guards[slot] = guard
        line = stmts[0].lineno
        col = getattr(stmts[0], "col_offset", 0)
        # Built located (as _locate would place them): the statements keep their places.
        call = ast.Call(
            func=_place(ast.Name(id=FIX_HELPER, ctx=_LOAD), line),
            args=[_place(ast.Constant(self.name), line), _place(ast.Constant(guard), line)],
            keywords=[],
        )
        fix = _place(ast.Expr(_place(call, line)), line)
        handler = ast.ExceptHandler(
            type=_place(ast.Name(id="BaseException", ctx=_LOAD), line, col),
            name=None,
            body=[fix, _place(ast.Raise(exc=None, cause=None), line, col)],
        )
        _place(handler, line, col)
        wrapper = ast.Try(body=stmts[:end], handlers=[handler], orelse=[], finalbody=[])
        _place(wrapper, line, col)
        return [wrapper, *stmts[end:]]

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

    def arm_arcs(self, node: ast.AST, way: str = "body") -> list[Member] | None:
        """The arc members of one arm of a decision (with branch coverage): the arc it
        takes, and for a `case` body the arc its failing pattern takes instead."""
        arc = self.arms.get((id(node), way))
        if arc is None:
            return None
        found: list[Member] = [(*arc, ARC)]
        failed = self.arms.get((id(node), "else")) if isinstance(node, ast.match_case) else None
        if failed is not None:
            found.append((*failed, CASE_NEXT))
        return found

    def body_exit(self, stmt: ast.stmt) -> Arc | None:
        """A one-line definition's arc out of its body, when it is one to count."""
        if not self.implied:
            return None  # no branch coverage, or no such lines
        # Here, not at the top: line counting alone never loads the arc analysis.
        from tally.analysis.arcs import one_line_body_exit

        arc = one_line_body_exit(stmt, self.multiline)
        return arc if arc is not None and arc in self.implied.get(arc[0], ()) else None

    def failing_test(self, stmt: ast.stmt) -> Arc | None:
        """The arc of an `if` without `else` when its test fails, if counting.py can work it
        out (slots.py, IF_FAILED) rather than a counter in an `else` of its own: the body
        starts on a line after the test's (an exception is placed in one or the other)
        and the test can't suspend (a pending test would count as failed)."""
        if not isinstance(stmt, ast.If) or stmt.orelse:
            return None
        failing = self.arms.get((id(stmt), "else"))
        if failing is None or (id(stmt), "body") not in self.arms:
            return None
        test_end = stmt.test.end_lineno or stmt.lineno
        if stmt.body[0].lineno <= test_end or self.leaves(stmt.test, False):
            return None
        return failing

    def code_line(self, stmt: ast.stmt) -> LineNo:
        """The first line of `stmt` whose events count for it: its first, unless that holds
        no code (`if (\\n    a\\n    != b\\n):`), where coverage.py maps the code's first
        line to the statement's."""
        counter = self.events.get(id(stmt))
        return stmt.lineno if not counter or counter[stmt.lineno] else min(counter)

    def events_on(self, stmt: ast.stmt, line: LineNo) -> int:
        """Line events on `line` per execution of `stmt` (events.py), at least one."""
        counter = self.events.get(id(stmt))
        return max(1, counter[line]) if counter else 1

    # -- statements ----------------------------------------------------------------------

    def body(
        self,
        stmts: list[ast.stmt],
        header_line: LineNo | None,
        entry: Member | None = None,
        arcs: list[Member] | None = None,
    ) -> list[ast.stmt]:
        """Instrument one statement list. `header_line` is the owning header's line, if any;
        `entry` is a member that starts the list's first block (a loop or case test);
        `arcs`, the arc members of the arm the list is (arm_arcs()): its first block then
        starts the list, even an empty one, and holds them."""
        out: list[ast.stmt] = []
        block: list[Member] | None = None
        opened = _Opened(-1, -1)  # the open block's slot and where its counter is in `out`
        fresh = False  # no statement of the open block has come yet
        waiting: _Waiting | None = None  # an `if` whose block the next block completes
        opening = [entry] if entry is not None else []
        opening += arcs or ()
        if opening:
            block = opening
            line = opening[0][0] if entry is not None or not stmts else stmts[0].lineno
            out.append(self.counter(block, line, stmts[0] if stmts else ast.Pass()))
            opened, fresh = _Opened(len(self.slots) - 1, 0), True
            self.first_blocks[id(out)] = opened.slot
        previous_line = header_line
        for index, stmt in enumerate(stmts):
            way = self.else_way(stmt, stmts[index + 1 :]) if block is None or fresh else None
            ends = _ends_block(stmt, self.leaves)
            members = self.members(stmt, previous_line, ends, way)
            if members:
                if block is None:
                    block = []
                    out.append(self.counter(block, members[0][0], stmt))
                    slot = len(self.slots) - 1
                    if len(out) == 1:
                        self.first_blocks[id(out)] = slot
                    if waiting is not None:
                        # The `if` before came out here exactly when its test failed.
                        self.derive(out, waiting, slot)
                        waiting = None
                    opened, fresh = _Opened(slot, len(out) - 1), True
                member = len(block)
                block.extend(members)
            self.inner(stmt)
            out.append(stmt)
            if way is not None and members and fresh:
                waiting = self.derive_from_arms(out, stmt, way, opened, member)
            fresh = False
            previous_line = stmt.lineno
            if ends:
                block = None
        if waiting is not None:
            # No block came after the `if`: its failing test gets a counter of its own.
            self.derive(out, waiting, self.else_counter(waiting.stmt))
        return out

    def else_way(self, stmt: ast.stmt, after: list[ast.stmt]) -> str | None:
        """How the block that `stmt` starts can be counted by the arms of `stmt`, an `if`
        (None when it can't): "else", its `else` clause starts a block; "next", its body
        always jumps away (`return`, `break`, `continue`) so the block after it starts
        exactly when its test fails; "added", an `else` holding a counter is added. The
        test must be placed apart from the body (an exception in it is told by its line)
        and can't suspend (a pending test would count as failed)."""
        if not isinstance(stmt, ast.If):
            return None
        if stmt.body[0].lineno <= (stmt.test.end_lineno or stmt.lineno):
            return None
        if self.leaves(stmt.test, False):
            return None
        if stmt.orelse:
            return "else"
        jumps = isinstance(stmt.body[-1], (ast.Return, ast.Break, ast.Continue))
        if jumps and after and _ends_block(stmt, self.leaves):
            return "next"
        return "added"

    def derive_from_arms(
        self, out: list[ast.stmt], stmt: ast.stmt, way: str, opened: _Opened, member: int
    ) -> _Waiting | None:
        """Count the block `opened` (its counter in `out`), which starts with the `if`
        `stmt` (its `member`), by the arms of the `if` rather than a counter of its own.
        Returns what waits for the next block when the `if`'s failing test comes out there."""
        assert isinstance(stmt, ast.If)
        then = self.first_blocks.get(id(stmt.body))
        if then is None:
            return None
        waiting = _Waiting(stmt, opened, member, then)
        if way == "next":
            return waiting
        orelse = self.first_blocks.get(id(stmt.orelse))
        if orelse is None and way == "added" and not stmt.orelse:
            orelse = self.else_counter(stmt)
        if orelse is not None:
            self.derive(out, waiting, orelse)
        return None

    def else_counter(self, stmt: ast.If) -> int:
        """Give an `if` without `else` one holding only a counter; return its slot."""
        stmt.orelse = [self.counter([], stmt.lineno, stmt)]
        return len(self.slots) - 1

    def derive(self, out: list[ast.stmt], waiting: _Waiting, orelse: int) -> None:
        """Remove the counter of the block `waiting` describes from `out`: counting.py
        works its count out from the blocks starting the `if`'s arms (slots.py)."""
        block = waiting.opened
        del out[block.counter]
        body_line = waiting.stmt.body[0].lineno
        self.derived.append(Derived(block.slot, waiting.member, body_line, (waiting.then, orelse)))

    def frame_body(
        self,
        stmts: list[ast.stmt],
        header_line: LineNo | None,
        entry: Member | None = None,
        arcs: list[Member] | None = None,
    ) -> list[ast.stmt]:
        """Instrument the body of a module, function or class: its docstring stays first
        (it is not executed code), and the rest is guarded."""
        head = 1 if stmts and is_docstring(stmts[0]) else 0
        first_slot = len(self.slots)
        rest = self.body(stmts[head:], header_line, entry, arcs)
        return stmts[:head] + self.guarded(rest, first_slot)

    def members(
        self, stmt: ast.stmt, previous_line: LineNo | None, ends: bool, way: str | None = None
    ) -> list[Member]:
        """The lines `stmt` itself counts (decorators and its first line), with events each.
        `ends` says whether it ends its block (_ends_block). With `way` (else_way()), `stmt`
        is an `if` whose arms may count its block."""
        found: list[Member] = []
        if isinstance(stmt, DEFINITIONS):
            for decorator in stmt.decorator_list:
                line = decorator.lineno
                if line in self.code_lines and line != previous_line:
                    found.append((line, 0, self.events_on(stmt, line)))
                    previous_line = line
        line = stmt.lineno
        # With an `else` added, the failing test is counted there (its arc too).
        failing = self.failing_test(stmt) if way != "added" else None
        # The IF_FAILED member, and a block its `if` counts, need the `if` to hold its lines
        # even when it ends the block, so that an exception in its test is told apart.
        last = 0 if ends and failing is None and way is None else _own_last_line(stmt)
        if self.has_code(stmt):
            per_run = self.nested_code(stmt)
            if line != previous_line and not isinstance(stmt, _LOOPS):
                found.append((line, last, self.entry_events(stmt) + per_run))
                self.count_ways(stmt)
                body_exit = self.body_exit(stmt)
                if body_exit is not None:
                    self.one_line_bodies.add(line)
                # A one-line definition's line has two ways on: the definition takes the one
                # on, its body (body_exit_members) the one out; the body's own statements
                # take neither.
                if isinstance(stmt, DEFINITIONS) or line not in self.one_line_bodies:
                    found.extend(
                        (*arc, ARC) for arc in self.implied.get(line, ()) if arc != body_exit
                    )
                if failing is not None:
                    found.append((*failing, IF_FAILED))
                    self.failing_tests.add(id(stmt))
            else:
                # Nested code starts a line event anew; so does a `for` whose iterable spans
                # lines, coming back to the header once per loop start before its first test.
                per_run += self.loop_start_events(stmt)
                if per_run:
                    found.append((line, last, per_run))
        if isinstance(stmt, _LOOPS) and stmt.body[0].lineno > line:
            # A loop header counts inside the loop; the member marks where its test is, so
            # an exception raised by the test (after the last entry) is counted there.
            found.append((line, last, LOOP_TEST))
        elif not found and last and isinstance(stmt, _COMPOUND):
            # A header may hold no code; the statement still belongs to the block, so an
            # exception in it cuts the block.
            found.append((line, last, 0))
        return found

    def loop_start_events(self, stmt: ast.stmt) -> int:
        """Events on a `for` header each time the loop starts, beyond its tests (which
        the loop's blocks count): those of evaluating an iterable that spans lines."""
        if not isinstance(stmt, (ast.For, ast.AsyncFor)):
            return 0
        return self.events_on(stmt, stmt.lineno) - 1

    def entry_events(self, stmt: ast.stmt) -> int:
        """Line events on the first line of `stmt` each time it runs (however the ways
        inside it go: count_ways counts those that add more)."""
        ways = self.ways.get(id(stmt))
        events = ways.base if ways is not None else self.events_on(stmt, self.code_line(stmt))
        if isinstance(stmt, (ast.With, ast.AsyncWith)) and stmt.body[0].lineno != stmt.lineno:
            # The exit (__exit__ call) runs code on the `with` line again, however the body
            # ends: one more event after those of entering.
            events += 1
        if getattr(stmt, "type_params", None):
            # PEP 695: the type parameters get a code object of their own, which starts on
            # the definition's line each time the definition runs.
            events += 1
        return events

    def count_ways(self, stmt: ast.stmt) -> None:
        """Tick each operand whose evaluation adds events on the statement's first line
        (events.py, ways.py): `operand` becomes `__tally_tick__(...) and operand`, or
        `__tally_hit__(..., operand)` when it starts on a later line: execution comes back
        to the first line after it, so an operand that raises adds nothing there."""
        ways = self.ways.get(id(stmt))
        code_line = self.code_line(stmt)
        for (parent, field, index), weight in ways.ticks if ways is not None else ():
            operand = getattr(parent, field)[index] if index >= 0 else getattr(parent, field)
            ticked: ast.expr
            if operand.lineno > code_line:
                ticked = self.call(HIT_HELPER, stmt.lineno, operand, weight=weight)
            else:
                tick = self.call(TICK_HELPER, stmt.lineno, weight=weight)
                ticked = ast.BoolOp(op=ast.And(), values=[tick, operand])
            ast.copy_location(ticked, operand)
            if index >= 0:
                getattr(parent, field)[index] = ticked
            else:
                setattr(parent, field, ticked)

    def nested_code(self, stmt: ast.stmt) -> int:
        """Count the line events that lambdas, comprehensions and generator expressions
        starting on the statement's first line make there (nested.py gives how many per
        call, item or run). Returns the events per run of the statement itself: those of
        comprehensions with code of their own (3.11) that run once per statement."""
        line = stmt.lineno
        per_run = 0
        if line not in self.nested_lines:
            return per_run  # most statements: walking their expressions would find none
        # Nested code not inside other nested code runs once each time the statement does
        # (a loop's header, each time the loop starts: not what its member counts).
        direct = set() if isinstance(stmt, _LOOPS) else _outermost_nested(stmt)
        for node in _expressions(stmt):
            weights = self.nested.get(id(node))
            if weights is None or getattr(node, "lineno", None) != line:
                continue
            if isinstance(node, ast.Lambda):
                if weights.start:
                    node.body = ast.BoolOp(
                        op=ast.And(),
                        values=[self.call(TICK_HELPER, line, weight=weights.start), node.body],
                    )
                    _place(node.body, line)
                continue
            assert isinstance(node, _COMPREHENSIONS)
            for generator, (fetched, passed) in zip(node.generators, weights.loops, strict=False):
                if fetched:
                    generator.ifs.insert(0, self.call(TICK_HELPER, line, weight=fetched))
                if passed:
                    generator.ifs.append(self.call(TICK_HELPER, line, weight=passed))
            first = node.generators[0]
            if isinstance(node, ast.GeneratorExp) and weights.exhausted:
                first.iter = self.call(
                    GENERATOR_HELPER,
                    line,
                    # iter() here, in the program's frame: a non-iterable raises where
                    # Python raises it, with the program's traceback only.
                    _iter_call(first.iter),
                    weight=weights.start,
                    more=weights.exhausted,
                )
            elif weights.start and id(node) in direct:
                per_run += weights.start
            elif weights.start:
                first.iter = self.call(ENTRY_HELPER, line, first.iter, weight=weights.start)
        return per_run

    def loop(self, stmt: ast.For | ast.AsyncFor | ast.While) -> None:
        """trace sees a loop header once per test: each iteration, plus the final failing
        test, which is exactly when the `else` clause runs. So the header is the first
        member of the body's first block and of the `else` block."""
        line = stmt.lineno
        entry: Member | None = None
        if self.has_code(stmt):
            # A `while` test spread over lines may come back to its line more or less often
            # depending on how far it went: the ticks in it count what it adds each time.
            ways = self.ways.get(id(stmt))
            entry = (line, 0, ways.base if ways is not None else 1)
            self.count_ways(stmt)
        stmt.body = self.body(stmt.body, line, entry, self.arm_arcs(stmt))
        if entry is not None and isinstance(stmt, ast.While) and _always_true(stmt.test):
            entry = None  # `while True:` is never tested false
        if self.loop_tests.get(id(stmt), line) != line:
            # The test is on the iterable's line (3.13+, `for x in (\n xs\n):`): the
            # header's own event is storing each item, so the final test makes none.
            entry = None
        stmt.orelse = self.body(stmt.orelse, None, entry, self.arm_arcs(stmt, "else"))

    def body_exit_members(self, stmt: ast.stmt) -> list[Member] | None:
        """The members that count a one-line definition's way out of its body."""
        arc = self.body_exit(stmt)
        return None if arc is None else [(*arc, ARC)]

    def inner(self, stmt: ast.stmt) -> None:
        """Instrument the statement lists inside a compound statement."""
        if type(stmt) in _SIMPLE or isinstance(stmt, _JUMPS):
            return
        line = stmt.lineno
        if isinstance(stmt, ast.ClassDef):
            # The class body's code starts on its first line, the first decorator's when it
            # has decorators: one more event there per run.
            start = min([line, *(d.lineno for d in stmt.decorator_list)])
            entry: Member | None = (start, 0, 1) if line in self.code_lines else None
            annotate = _sets_up_annotate(stmt, start, self.annotated_classes)
            stmt.body = self.frame_body(
                stmt.body, line if entry else None, entry, self.body_exit_members(stmt)
            )
            if entry is not None and annotate:
                # 3.14+: after the last statement the class sets up its `__annotate__`
                # on that line again (PEP 649): one more event when the body completes.
                stmt.body.append(self.counter([(start, 0, 1)], start, stmt))
        elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            stmt.body = self.frame_body(stmt.body, None, None, self.body_exit_members(stmt))
        elif isinstance(stmt, _LOOPS):
            self.loop(stmt)
        elif isinstance(stmt, ast.If):
            stmt.body = self.body(stmt.body, line, arcs=self.arm_arcs(stmt))
            if id(stmt) not in self.failing_tests:
                stmt.orelse = self.body(stmt.orelse, None, arcs=self.arm_arcs(stmt, "else"))
        elif isinstance(stmt, (ast.With, ast.AsyncWith)):
            # A context manager can swallow the exception that cut a block short.
            first_slot = len(self.slots)
            stmt.body = self.guarded(self.body(stmt.body, line), first_slot)
        elif isinstance(stmt, (ast.Try, ast.TryStar)):
            self.try_statement(stmt)
        elif isinstance(stmt, ast.Match):
            for case in stmt.cases:
                case_line = case.pattern.lineno
                # Counts entries here; counting.py turns them into "times tested".
                entry = (case_line, 0, 1) if case_line in self.code_lines else None
                self.flags |= FLAG_CASES
                case.body = self.body(case.body, case_line, entry, self.arm_arcs(case))

    def try_statement(self, stmt: ast.Try | ast.TryStar) -> None:
        """Instrument a try statement; its handlers stop exceptions, so its body is guarded."""
        # A `finally` that jumps out can swallow an exception from the body, a handler or
        # the `else`, so then they are all guarded.
        swallows = _jumps_out(stmt.finalbody, self.leaves)
        first_slot = len(self.slots)
        body = self.body(stmt.body, stmt.lineno)
        stmt.body = self.guarded(body, first_slot) if stmt.handlers or swallows else body
        for handler in stmt.handlers:
            first_slot = len(self.slots)
            self.handler(handler)
            if swallows:
                handler.body = self.guarded(handler.body, first_slot)
        first_slot = len(self.slots)
        orelse = self.body(stmt.orelse, None)
        stmt.orelse = self.guarded(orelse, first_slot) if swallows else orelse
        stmt.finalbody = self.body(stmt.finalbody, None)

    def handler(self, handler: ast.ExceptHandler) -> None:
        """Count an except clause each time it is tested."""
        line = handler.lineno
        if line not in self.code_lines:
            handler.body = self.body(handler.body, line)
        elif handler.type is None:
            handler.body = self.body(handler.body, line, (line, 0, 1))
        else:
            # `except E:` is evaluated for every exception that reaches it, matched or not.
            handler.body = self.body(handler.body, line)
            handler.type = self.call(HIT_HELPER, line, handler.type)


def instrument(
    tree: ast.Module,
    path: str,
    code: CodeType,
    arcs: ArcFacts | None = None,
    source: str | bytes | None = None,
) -> Instrumented:
    """Instrument `tree` (parsed from `path`, from `source` if given) in place. `code` is
    the same source compiled uninstrumented: its line table says which lines hold code,
    and its instructions how many line events each statement makes. With `arcs` (the
    tree's possible arcs, found before instrumenting), each arm of each decision is
    counted too."""
    from tally.analysis.source import raw_statement_lines
    from tally.collect.events import statement_events
    from tally.collect.nested import index_tree, nested_weights

    index = index_tree(tree, source)
    rewriter = _Rewriter(
        counter_name(path),
        raw_statement_lines(code),
        statement_events(tree, code, index),
        nested_weights(tree, code, index),
        arcs,
    )
    rewriter.annotated_classes = _annotated_classes(code)
    rewriter.leaves = _Leaving([node.lineno for node in index.suspensions])
    rewriter.nested_lines = {node.lineno for node in index.nested}
    body = tree.body
    # A docstring and `from __future__` imports must stay first.
    head = 0
    while head < len(body) and (
        (head == 0 and is_docstring(body[0])) or _is_future_import(body[head])
    ):
        head += 1
    futures = [
        (s.lineno, 0, 1)
        for s in body[:head]
        if not is_docstring(s) and s.lineno in rewriter.code_lines
    ]
    rest = rewriter.frame_body(body[head:], None)
    prologue: list[ast.stmt] = []
    if futures:
        prologue.append(rewriter.counter(futures, futures[0][0], body[0]))
    table = pack_slots(
        list(zip(rewriter.guards, rewriter.slots, strict=True)), rewriter.flags, rewriter.derived
    )
    register = ast.Expr(
        ast.Call(
            func=ast.Name(id=BLOCKS_HELPER, ctx=ast.Load()),
            args=[ast.Constant(rewriter.name), ast.Constant(table)],
            keywords=[],
        )
    )
    line = body[head].lineno if head < len(body) else 1
    _locate(register, line)
    tree.body = [*body[:head], register, *prologue, *rest]
    return Instrumented(tree, table)
