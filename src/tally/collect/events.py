"""How many line events one execution of a statement produces, read from its bytecode.

`trace` counts line events, and CPython emits one each time execution moves to an
instruction on a different line (PEP 626). A statement spread over several lines, or a
decorated definition, can come back to its first line: `f(a,\\n  b)` runs line 1, line 2,
then line 1 again for the call, so trace counts line 1 twice per execution; a decorated
`def` visits each decorator line and the `def` line twice (evaluate, then apply).

The number is a property of the compiled code, so we read it from the uninstrumented
code object of the same interpreter, and the rewriter adds that many per execution instead
of one. Each code object's instructions are matched to the statements of its own scope
(module, function or class body), and only a statement's first run of instructions counts
(`finally` bodies are compiled more than once). Walking instructions in order, taking
the jumps forward inside a simple statement, follows the first way through each decision
inside it; where a statement spread over lines comes back to its first line more or less
often on other ways (`a if c\\n else b` when `c` is false), ways.py weighs every way.
"""

from __future__ import annotations

import ast
from collections import Counter
from collections.abc import Iterator
from types import CodeType
from typing import NamedTuple

from tally.analysis.nodes import BLOCK_FIELDS, DEFINITIONS, definition_keys
from tally.analysis.source import code_objects
from tally.collect.bytecode import Instruction, instructions
from tally.collect.nested import TreeIndex, index_tree, instruction_key
from tally.collect.ways import StatementCode, WayWeights, reach_points, weigh_ways
from tally.types import LineNo

__all__ = ["StatementEvents", "WayWeights", "statement_events"]

Span = tuple[int, int, int, int]  # start line, start col, end line, end col
# Code objects of expressions: they hold no statements of their own.
_RETURNS = {"RETURN_VALUE", "RETURN_CONST"}
_EXPRESSION_CODE = {"<lambda>", "<listcomp>", "<setcomp>", "<dictcomp>", "<genexpr>"}


def _span(node: ast.stmt) -> Span:
    if isinstance(node, DEFINITIONS):
        top = min([d.lineno for d in node.decorator_list] + [node.lineno])
        return (top, 0, node.end_lineno or node.lineno, 10**9)
    first = _first_body_statement(node)
    if first is not None:
        # A compound statement owns its header: up to where its first body statement starts
        # (a decorated definition's, at its first decorator).
        line, col = first.lineno, first.col_offset
        if isinstance(first, DEFINITIONS) and first.decorator_list:
            decorator = min(first.decorator_list, key=lambda d: d.lineno)
            line, col = decorator.lineno, decorator.col_offset - 1  # the `@` before it
        return (node.lineno, node.col_offset, line, col - 1)
    return (node.lineno, node.col_offset, node.end_lineno or node.lineno, node.end_col_offset or 0)


def _scope_statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Statements that run in the code object holding `body`: simple statements and the
    definition statements themselves, not what is inside nested definitions."""
    todo = list(body)
    while todo:
        node = todo.pop()
        if isinstance(node, DEFINITIONS):
            yield node
            continue
        yield node
        if not hasattr(node, "body"):
            continue
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.stmt):
                todo.append(child)
            elif isinstance(child, (ast.ExceptHandler, ast.match_case)):
                todo.extend(child.body)


def _scopes(tree: ast.Module, index: TreeIndex) -> dict[tuple[str, int], list[ast.stmt]]:
    """(code name, first line) -> the statements of that code object's scope."""
    scopes: dict[tuple[str, int], list[ast.stmt]] = {
        ("<module>", 1): list(_scope_statements(tree.body))
    }
    for node in index.definitions:
        statements = list(_scope_statements(node.body))
        for key in definition_keys(node):
            scopes[key] = statements
    return scopes


class StatementEvents(NamedTuple):
    """What the bytecode says about a file's statements (keys are `id(statement)`)."""

    per_line: dict[int, Counter[LineNo]]  # {line: events per execution}, where one is > 1
    loop_tests: dict[int, LineNo]  # a `for` loop's line of its test (FOR_ITER)
    ways: dict[int, WayWeights]  # first-line events that depend on the way taken (ways.py)


def statement_events(
    tree: ast.Module, code: CodeType, index: TreeIndex | None = None
) -> StatementEvents:
    """Events per execution of the statements in `tree`; `code` is `tree` compiled,
    uninstrumented; `index` is `index_tree(tree)`, when the caller has it."""
    index = index or index_tree(tree)
    scopes = _scopes(tree, index)
    loops = set(index.loops)
    found = StatementEvents({}, {}, {})
    for co in code_objects(code):
        if co.co_name in _EXPRESSION_CODE:
            continue
        key = ("<module>", 1) if co.co_name == "<module>" else (co.co_name, co.co_firstlineno)
        statements = scopes.get(key)
        if statements and any(map(_may_repeat, statements)):
            _Scope(co, statements, loops).count_events(found)
    per_line = {key: c for key, c in found.per_line.items() if any(n > 1 for n in c.values())}
    return found._replace(per_line=per_line)


def _may_repeat(node: ast.stmt) -> bool:
    """Can the statement's own part make more than one line event on a line, or events
    that depend on the way taken? Only if it spans lines or is decorated: the
    instructions of a statement on one line are all on that line, and nested code and a
    `with`'s exit are counted apart. A code object with no such statement is not read."""
    return _spans_lines(node) or bool(getattr(node, "decorator_list", None))


def _spans_lines(node: ast.stmt) -> bool:
    """Does the statement's own part (a compound statement's header) span lines?"""
    first = _first_body_statement(node)
    if first is None:
        return (node.end_lineno or node.lineno) > node.lineno
    # A compound statement's own part ends where its body starts: on the line before a
    # body on lines of its own (a decorated body's own line: its first decorator's).
    decorators: list[ast.expr] = getattr(first, "decorator_list", [])
    start = min([first.lineno, *(d.lineno for d in decorators)])
    return start - 1 > node.lineno


class _Scope:
    """One code object's instructions and the statements of its scope."""

    def __init__(
        self, co: CodeType, statements: list[ast.stmt], loops: set[tuple[int, int, int, int]]
    ) -> None:
        # Only a statement that may repeat a line event has events to find (_may_repeat):
        # the others' instructions are owned by none, which ends a statement's first run
        # as well. But a `match` owns its whole span, cases included, so where there is one
        # every statement is placed, and the innermost owns each instruction.
        if not any(isinstance(node, ast.Match) for node in statements):
            statements = [node for node in statements if _may_repeat(node)]
        self.statements = statements
        self.loops = loops
        self.by_line: dict[int, list[tuple[Span, ast.stmt]]] = {}
        for node in statements:
            span = _span(node)
            for number in range(span[0], span[2] + 1):
                self.by_line.setdefault(number, []).append((span, node))
        self.instructions = instructions(co)
        self.at = {ins.offset: i for i, ins in enumerate(self.instructions)}

    def owner(self, instruction: Instruction) -> ast.stmt | None:
        """The statement an instruction belongs to, by its position."""
        p = instruction.positions
        if p is None or p.lineno is None:
            return None
        return _owner(self.by_line.get(p.lineno, []), (p.lineno, p.col_offset or 0))

    def jumps_within(self, owner: ast.stmt, start: int, target: int) -> bool:
        """Do the instructions from `start` to `target` (landing included) all belong to
        `owner`? Then a jump over them passes over a part of the statement. The jump at
        the end of a `try` body, which the compiler places at its last statement, passes
        over the handlers, whose statements the first way must still walk."""
        return all(
            self.owner(ins) is owner
            for ins in self.instructions[start : target + 1]
            if ins.positions is not None and ins.positions.lineno is not None
        )

    def count_events(self, found: StatementEvents) -> None:
        """Add the events of this scope's statements, along each one's first way, to `found`."""
        instructions, at, loops = self.instructions, self.at, self.loops
        finished: set[int] = set()  # statements whose first run of instructions has ended
        starts: dict[int, tuple[int, int | None]] = {}  # first instruction, line before it
        current: ast.stmt | None = None
        previous_line: int | None = None
        i = next((i + 1 for i, ins in enumerate(instructions) if ins.opname == "RESUME"), 0)
        while i < len(instructions):
            index, instruction = i, instructions[i]
            i += 1
            positions = instruction.positions
            if positions is None or positions.lineno is None:
                continue
            if instruction.opname == "FOR_ITER" and instruction_key(instruction) in loops:
                # An inlined comprehension's loop (3.12+): its items are counted apart
                # (nested.py); the statement goes on where the loop ends.
                i = at[instruction.argval]
            line = positions.lineno
            candidates = self.by_line.get(line)
            owner = _owner(candidates, (line, positions.col_offset or 0)) if candidates else None
            if owner is not current:
                if current is not None:
                    finished.add(id(current))
                current = owner
                if owner is not None and id(owner) not in finished:
                    starts.setdefault(id(owner), (index, previous_line))
            if line != previous_line and owner is not None and id(owner) not in finished:
                found.per_line.setdefault(id(owner), Counter())[line] += 1
            previous_line = line
            if instruction.opname == "FOR_ITER" and isinstance(owner, ast.For):
                # 3.13+ place a loop's test on its iterable, which may be on a later line.
                found.loop_tests.setdefault(id(owner), line)
            if instruction.opname in ("RETURN_VALUE", "RETURN_CONST") and owner is not None:
                # What follows a return is another path (code the compiler copied), not more
                # of this run of the statement.
                finished.add(id(owner))
            if isinstance(owner, ast.Assert) and _skips_a_raise(instruction, instructions, at):
                # An assert's failure (its message, or the explanation pytest's rewritten
                # asserts build) is the path not taken; 3.12+ compile it out of line anyway.
                i = at[instruction.argval]
                continue
            if (
                instruction.opname == "JUMP_FORWARD"
                and owner is not None
                and _first_body_statement(owner) is None
                and self.jumps_within(owner, i, at[instruction.argval])
            ):
                # A jump over the other branch of `a if c else b` (or, 3.14+, over the plain
                # call a builtin's inlined loop stands for): take it, as the path runs.
                i = at[instruction.argval]
        for node in self.statements:
            if id(node) in starts:
                # The line counted is the first that holds code: the statement's first,
                # unless its code starts below (`return (\n    a\n    and b\n)`).
                index, previous = starts[id(node)]
                events = found.per_line.get(id(node))
                first = instructions[index].positions
                assert first is not None and first.lineno is not None  # it has an owner
                counted = node.lineno if events and events[node.lineno] else first.lineno
                weights = self.way_weights(node, index, previous, counted)
                if weights is not None:
                    found.ways[id(node)] = weights

    def way_weights(
        self, node: ast.stmt, start: int, previous: int | None, line: int
    ) -> WayWeights | None:
        """The events on `line` per run of `node`, when they depend on the way taken inside
        it (ways.py): a statement with a decision inside whose own part spans lines."""
        if not _spans_lines(node) or isinstance(node, (ast.For, ast.AsyncFor, *DEFINITIONS)):
            return None
        points = reach_points(_header(node))
        if not points:
            return None
        instructions, at = self.instructions, self.at

        def skip(i: int) -> int | None:
            instruction = instructions[i]
            if instruction.opname == "FOR_ITER" and instruction_key(instruction) in self.loops:
                return at[instruction.argval]  # an inlined comprehension: nested.py counts it
            if isinstance(node, ast.Assert) and _skips_a_raise(instruction, instructions, at):
                return at[instruction.argval]  # the assertion holds
            if instruction.opname.startswith("POP_JUMP") and _tests_a_builtin(instructions, i):
                return i + 1  # 3.14+: the builtin is the builtin, and its loop is inlined
            return None

        code = StatementCode(instructions, at, lambda ins: self.owner(ins) is node, skip)
        weighed = weigh_ways(code, (start, previous, line), [p for _, p in points])
        if weighed is None or weighed[0] < 1 or not any(weighed[1]):
            return None
        base, weights = weighed
        ticks = [(reach, w) for (reach, _), w in zip(points, weights, strict=True) if w]
        return WayWeights(base, ticks)


def _header(node: ast.stmt) -> list[ast.AST]:
    """The nodes of a statement's own part (a compound statement's header)."""
    found: list[ast.AST] = []
    for field, value in ast.iter_fields(node):
        if field not in BLOCK_FIELDS:
            items = value if isinstance(value, list) else [value]
            found.extend(item for item in items if isinstance(item, ast.AST))
    return found


def _tests_a_builtin(instructions: list[Instruction], i: int) -> bool:
    """Is instruction i the jump that checks a name is still the builtin whose loop 3.14
    inlines (`any(x for x in xs)`)?"""
    return (
        i >= 2
        and instructions[i - 1].opname == "IS_OP"
        and instructions[i - 2].opname == "LOAD_COMMON_CONSTANT"
    )


def _skips_a_raise(
    instruction: Instruction, instructions: list[Instruction], at: dict[int, int]
) -> bool:
    """Is this a conditional jump forward over instructions that end by raising?"""
    if not instruction.opname.startswith("POP_JUMP"):
        return False
    target = at.get(instruction.argval) if isinstance(instruction.argval, int) else None
    if target is None or instruction.argval <= instruction.offset:
        return False
    # On 3.12+ the failure is compiled after the function's end, so a jump to it passes
    # over a return: that jump's way on is the path that runs.
    over = instructions[at[instruction.offset] + 1 : target]
    return (
        bool(over)
        and over[-1].opname == "RAISE_VARARGS"
        and not _RETURNS & {ins.opname for ins in over}
    )


def _first_body_statement(node: ast.stmt) -> ast.stmt | None:
    """The first statement of a compound statement's body; None for a simple statement."""
    body = getattr(node, "body", None)
    if isinstance(body, list) and body and isinstance(body[0], ast.stmt):
        return body[0]
    return None


def _owner(candidates: list[tuple[Span, ast.stmt]], start: tuple[int, int]) -> ast.stmt | None:
    """The innermost candidate statement whose span holds `start`."""
    best: ast.stmt | None = None
    best_size: tuple[int, int] | None = None
    for span, node in candidates:
        if (span[0], span[1]) <= start <= (span[2], span[3]):
            size = (span[2] - span[0], span[3] - span[1])
            if best_size is None or size < best_size:
                best, best_size = node, size
    return best
