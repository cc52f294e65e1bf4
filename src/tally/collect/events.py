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
(`finally` bodies are compiled more than once). Walking instructions in order, taking the jumps
forward inside a simple statement, assumes the first branch of each condition inside it,
which fails only for statements with jumps inside spread over lines taking the other way
(`a if c\\n else b` when `c` is false); docs/counts.md lists that case.
"""

from __future__ import annotations

import ast
import dis
from collections import Counter
from collections.abc import Iterator
from types import CodeType
from typing import NamedTuple

from tally.analysis.nodes import DEFINITIONS
from tally.analysis.source import code_objects
from tally.collect.nested import comprehension_loops, instruction_key
from tally.types import LineNo

__all__ = ["StatementEvents", "statement_events"]

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


def _scopes(tree: ast.Module) -> dict[tuple[str, int], list[ast.stmt]]:
    """(code name, first line) -> the statements of that code object's scope."""
    scopes: dict[tuple[str, int], list[ast.stmt]] = {
        ("<module>", 1): list(_scope_statements(tree.body))
    }
    for node in ast.walk(tree):
        if isinstance(node, DEFINITIONS):
            statements = list(_scope_statements(node.body))
            for line in {node.lineno, *(d.lineno for d in node.decorator_list)}:
                scopes[(node.name, line)] = statements
    return scopes


class StatementEvents(NamedTuple):
    """What the bytecode says about a file's statements (keys are `id(statement)`)."""

    per_line: dict[int, Counter[LineNo]]  # {line: events per execution}, where one is > 1
    loop_tests: dict[int, LineNo]  # a `for` loop's line of its test (FOR_ITER)


def statement_events(tree: ast.Module, code: CodeType) -> StatementEvents:
    """Events per execution of the statements in `tree`; `code` is `tree` compiled,
    uninstrumented."""
    scopes = _scopes(tree)
    loops = set(comprehension_loops(tree))
    result: dict[int, Counter[LineNo]] = {}
    tests: dict[int, LineNo] = {}
    for co in code_objects(code):
        if co.co_name in _EXPRESSION_CODE:
            continue
        key = ("<module>", 1) if co.co_name == "<module>" else (co.co_name, co.co_firstlineno)
        statements = scopes.get(key)
        if statements:
            _count_events(co, statements, loops, result, tests)
    per_line = {key: c for key, c in result.items() if any(n > 1 for n in c.values())}
    return StatementEvents(per_line, tests)


def _count_events(
    co: CodeType,
    statements: list[ast.stmt],
    loops: set[tuple[int, int, int, int]],
    result: dict[int, Counter[LineNo]],
    tests: dict[int, LineNo],
) -> None:
    by_line: dict[int, list[tuple[Span, ast.stmt]]] = {}
    for node in statements:
        span = _span(node)
        for number in range(span[0], span[2] + 1):
            by_line.setdefault(number, []).append((span, node))
    finished: set[int] = set()  # statements whose first run of instructions has ended
    current: ast.stmt | None = None
    previous_line: int | None = None
    instructions = list(dis.get_instructions(co))
    at = {ins.offset: i for i, ins in enumerate(instructions)}
    i = next((i + 1 for i, ins in enumerate(instructions) if ins.opname == "RESUME"), 0)
    while i < len(instructions):
        instruction = instructions[i]
        i += 1
        positions = instruction.positions
        if positions is None or positions.lineno is None:
            continue
        if instruction.opname == "FOR_ITER" and instruction_key(instruction) in loops:
            # An inlined comprehension's loop (3.12+): its items are counted apart
            # (nested.py); the statement goes on where the loop ends.
            i = at[instruction.argval]
        line = positions.lineno
        owner = _owner(by_line.get(line, []), (line, positions.col_offset or 0))
        if owner is not current:
            if current is not None:
                finished.add(id(current))
            current = owner
        if line != previous_line and owner is not None and id(owner) not in finished:
            result.setdefault(id(owner), Counter())[line] += 1
        previous_line = line
        if instruction.opname == "FOR_ITER" and isinstance(owner, ast.For):
            # 3.13+ place a loop's test on its iterable, which may be on a later line.
            tests.setdefault(id(owner), line)
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
        ):
            # A jump over the other branch of `a if c else b` (or, 3.14+, over the plain
            # call a builtin's inlined loop stands for): take it, as the path runs.
            target = instructions[at[instruction.argval]].positions
            if target is not None and target.lineno is not None:
                start = (target.lineno, target.col_offset or 0)
                if _owner(by_line.get(target.lineno, []), start) is owner:
                    i = at[instruction.argval]


def _skips_a_raise(
    instruction: dis.Instruction, instructions: list[dis.Instruction], at: dict[int, int]
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
