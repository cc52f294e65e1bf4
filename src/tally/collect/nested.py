"""Line events of nested code on its first line, read from the bytecode.

trace counts line events by (file, line), whichever code object they come from. A lambda,
comprehension or generator expression that starts on a statement's first line runs code
on that line again for each call or item: on 3.11, `x = [\\n f(y)\\n for y in ys\\n if y\\n]`
comes back to its first line for the loop's test, the filter's jump and the append, three
events per item. rewrite.py counts nested code with calls placed where a count is cheap:

- a lambda: once per call;
- each `for` of a comprehension: once per item fetched (the first of its `if`s) and once
  per item that passed all its `if`s (after the last);
- a generator expression, which may be dropped before it is exhausted: once when it is
  created and once when its first iterable runs out.

This module says how many events on the node's first line each of those counts stands
for (its *weight*, which can be negative), by walking the uninstrumented instructions
along the path an item takes: an item's path ends at the jump back to the loop's test,
which trace always counts (a backward jump); a filter that fails takes the other way
back. Comprehensions are inlined into their parent code on 3.12+ (PEP 709); their loop's
start and end are then part of the statement, which events.py walks, skipping the loop.
Walking a path assumes that conditional expressions inside take their first branch.
"""

from __future__ import annotations

import ast
import bisect
import dis
import re
from types import CodeType
from typing import NamedTuple

from tally.analysis.nodes import (
    BLOCK_FIELDS,
    DEFINITIONS,
    SUSPENSIONS,
    all_nodes,
    definition_keys,
)
from tally.analysis.source import code_objects
from tally.collect.bytecode import Instruction, instructions

__all__ = [
    "JUMPS",
    "JUMP_OPCODES",
    "NESTED",
    "TreeIndex",
    "Weights",
    "index_tree",
    "instruction_key",
    "nested_weights",
    "span_key",
]

NESTED = (ast.Lambda, ast.GeneratorExp, ast.ListComp, ast.SetComp, ast.DictComp)
Key = tuple[int, int, int, int]  # (line, end line, column, end column), as dis gives them
Comprehension = ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
CONSUMER = -1  # the `for` index of a builtin's loop over a generator expression (3.14+)

_SKIP = {"NOT_TAKEN", "NOP", "EXTENDED_ARG", "CACHE", "END_FOR", "POP_ITER"}
# Unconditional jumps, by name; every instruction that can jump (conditionally or not), by
# opcode. jumps.py walks bytecode with the same vocabulary.
JUMPS = {"JUMP_FORWARD", "JUMP_BACKWARD", "JUMP", "JUMP_NO_INTERRUPT"}
JUMPS |= {"JUMP_BACKWARD_NO_INTERRUPT"}
JUMP_OPCODES = set(dis.hasjrel) | set(dis.hasjabs) | set(getattr(dis, "hasjump", ()))
_ENDS = {"RETURN_VALUE", "RETURN_CONST", "RAISE_VARARGS", "RERAISE"}


class Weights(NamedTuple):
    """Events on a nested node's first line, per count the rewriter takes."""

    start: int  # per call (lambda), per run (comprehension with its own code), per creation
    loops: tuple[tuple[int, int], ...]  # per `for`: (per item fetched, per item passed)
    exhausted: int  # generator expression: when its first iterable runs out


def span_key(node: ast.AST) -> Key:
    return (
        getattr(node, "lineno", 0),
        getattr(node, "end_lineno", 0) or 0,
        getattr(node, "col_offset", 0),
        getattr(node, "end_col_offset", 0) or 0,
    )


def instruction_key(instruction: Instruction) -> Key | None:
    """The span an instruction is located at, comparable with span_key's; None if none."""
    p = instruction.positions
    if p is None or p.lineno is None:
        return None
    return (p.lineno, p.end_lineno or 0, p.col_offset or 0, p.end_col_offset or 0)


class TreeIndex(NamedTuple):
    """The nodes of a module that events.py and nested.py look for, found in one walk."""

    definitions: list[ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef]
    nested: list[ast.Lambda | Comprehension]
    suspensions: list[ast.expr]  # `yield`, `yield from` and `await` expressions
    # {span of a comprehension's iterable: (comprehension, which `for`)}: on 3.12+ a
    # comprehension's FOR_ITER has its iterable's position (on 3.11 the first one has
    # the comprehension's own).
    loops: dict[Key, tuple[Comprehension, int]]


# The words that start what index_tree looks for in expressions. A comprehension's `for`
# is told from a loop's by counting: the source has no more `for`s than the loops have.
# Matched loosely: a word too many (`awaiting`, `waitfor`) only costs the long way.
_EXPRESSION_WORDS = re.compile(rb"lambda|yield|await")
_FOR_WORD = re.compile(rb"for\b")


def index_tree(tree: ast.AST, source: str | bytes | None = None) -> TreeIndex:
    """Walk `tree` once for its definitions, nested code and comprehension loops. With
    the `source` it was parsed from, a module whose source shows none of them has only
    its statements walked (a tenth of its nodes, and most modules)."""
    if source is not None:
        found = _statements_only(tree, source)
        if found is not None:
            return found
    found = TreeIndex([], [], [], {})
    for node in all_nodes(tree):
        if isinstance(node, DEFINITIONS):
            found.definitions.append(node)
        elif isinstance(node, NESTED):
            found.nested.append(node)
            if not isinstance(node, ast.Lambda):
                for index, generator in enumerate(node.generators):
                    found.loops[span_key(generator.iter)] = (node, index)
        elif isinstance(node, SUSPENSIONS):
            found.suspensions.append(node)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and len(node.args) == 1
            and not node.keywords
            and isinstance(node.args[0], ast.GeneratorExp)
        ):
            # 3.14+ runs `any(...)`, `all(...)`, `tuple(...)` (3.15: `list(...)`) of a
            # generator expression as a loop in the caller, at the function's name: one
            # more backward jump per item. CONSUMER marks it.
            found.loops[span_key(node.func)] = (node.args[0], CONSUMER)
    return found


def _statements_only(tree: ast.AST, source: str | bytes) -> TreeIndex | None:
    """The index of a module with no lambda, comprehension, generator expression, `yield`
    or `await`, from its statements alone; None when the source may hold one (a word in a
    comment or a string only sends the module the long way)."""
    # The words are ASCII: in text, they are the same characters encoded.
    text = source if isinstance(source, bytes) else source.encode("utf-8", "surrogatepass")
    if _EXPRESSION_WORDS.search(text):
        return None
    fors = len(_FOR_WORD.findall(text))
    found = TreeIndex([], [], [], {})
    todo: list[ast.AST] = [tree]
    while todo:
        node = todo.pop()
        if isinstance(node, DEFINITIONS):
            found.definitions.append(node)
        elif isinstance(node, (ast.For, ast.AsyncFor)):
            fors -= 1
        for field in BLOCK_FIELDS:
            todo.extend(getattr(node, field, ()))
    return found if fors == 0 else None


class _Code:
    """One code object's instructions, walked for the events on one line."""

    def __init__(self, code: CodeType, iterables: dict[Key, tuple[Comprehension, int]]) -> None:
        self.instructions = instructions(code)
        self.at = {ins.offset: i for i, ins in enumerate(self.instructions)}
        self.lines = [ins.positions.lineno if ins.positions else None for ins in self.instructions]
        self.iterables = iterables
        self.tests: dict[int, tuple[Comprehension, int]] = {}  # index of a FOR_ITER -> its `for`

    def find_tests(self, owner: ast.expr | None) -> None:
        """The comprehension loops here: a FOR_ITER at a comprehension's iterable (3.12+),
        or in the comprehension's own code, at the comprehension, one per `for` (3.11)."""
        own = span_key(owner) if owner is not None else None
        fors = 0
        for i, ins in enumerate(self.instructions):
            if ins.opname != "FOR_ITER":
                continue
            key = instruction_key(ins)
            if key is not None and key == own and isinstance(owner, _COMPREHENSIONS):
                self.tests[i] = (owner, fors)
                fors += 1
            elif key in self.iterables:
                self.tests[i] = self.iterables[key]

    def _count(self, i: int, previous: int | None, line: int) -> tuple[int, int | None]:
        """(1 if instruction i starts a line event on `line` else 0, the line now)."""
        now = self.lines[i]
        if now is None or now == previous:
            return 0, previous
        return int(now == line), now

    def walk(
        self, i: int, line: int, previous: int | None = None, stop: int = -1, before: int = -1
    ) -> int:
        """Events on `line` from instruction i, following unconditional jumps and going
        round comprehension loops (their items are counted by their own calls), to `stop`
        (included), `before` (excluded) or the code's end. `previous` is the line the walk
        comes from."""
        events = 0
        for _ in range(2 * len(self.instructions)):
            if i >= len(self.instructions) or i == before:
                break
            ins = self.instructions[i]
            n, previous = self._count(i, previous, line)
            events += n
            if i == stop or ins.opname in _ENDS:
                break
            if i in self.tests or ins.opname in JUMPS:
                i = self.at[ins.argval]
            else:
                i += 1
        return events

    def _back_to(self, i: int, test: int) -> bool:
        """Does execution from instruction i go straight back to the loop's test?"""
        while i < len(self.instructions) and self.instructions[i].opname in _SKIP:
            i += 1
        if i == test:
            return True
        if i >= len(self.instructions):
            return False
        ins = self.instructions[i]
        return ins.opname in JUMPS and self.at.get(ins.argval) == test

    def item(self, test: int, line: int) -> tuple[int, int, int]:
        """One item's path through the loop whose FOR_ITER is instruction `test`:
        (weight per item fetched, weight per item passed, events after a `yield`)."""
        arrival = int(self.lines[test] == line)  # coming back is a backward jump: an event
        events = split = fail = 0
        resumed: int | None = None
        previous = self.lines[test]
        i = test + 1
        for _ in range(2 * len(self.instructions)):
            if i >= len(self.instructions):
                break
            ins = self.instructions[i]
            n, previous = self._count(i, previous, line)
            events += n
            if ins.opname == "YIELD_VALUE":
                resumed = events
            if i in self.tests:  # an inner `for`: its items are counted by its own calls
                i = self.at[ins.argval]
                continue
            if ins.opcode not in JUMP_OPCODES or ins.opname in _ENDS:
                i += 1
                continue
            target = self.at[ins.argval]
            if ins.opname in JUMPS:
                if target == test:
                    break
                i = target
            elif self._back_to(target, test):  # a filter whose failing jumps back
                split, fail = events, self.walk(target, line, previous, before=test)
                i += 1
            elif self._back_to(i + 1, test):  # a filter whose failing falls through
                split, fail = events, self.walk(i + 1, line, previous, before=test)
                i = target
            else:
                i += 1  # a branch inside an expression: assume the first way
        after_yield = arrival + events - resumed if resumed is not None else 0
        if split or fail:
            return arrival + split + fail, events - split - fail, after_yield
        return arrival + events, 0, after_yield

    def whole(self, node: ast.expr) -> Weights:
        """Weights of a nested node with a code object of its own (this one)."""
        line = node.lineno
        # Line events start at the RESUME that starts the code (oparg 0): before it, a
        # generator's creation runs with no events (3.15 takes `iter()` there too).
        start = next(
            (
                i + 1
                for i, ins in enumerate(self.instructions)
                if ins.opname == "RESUME" and not ins.arg
            ),
            0,
        )
        if isinstance(node, ast.Lambda):
            return Weights(self.walk(start, line), (), 0)
        first = min(
            (i for i, (n, index) in self.tests.items() if n is node and index == 0), default=None
        )
        if first is None:
            return Weights(0, (), 0)
        before = self.walk(start, line, stop=first)
        exit_at = self.at[self.instructions[first].argval]
        after = self.walk(exit_at, line) if self.lines[exit_at] != self.lines[first] else 0
        if isinstance(node, ast.GeneratorExp):
            # Dropped after an item, a generator never runs that item's way back: count
            # that part with running out, not with starting.
            innermost = max(i for i, (n, _) in self.tests.items() if n is node)
            after_yield = self.item(innermost, line)[2]
            return Weights(before - after_yield, (), after + after_yield)
        return Weights(before + after, (), 0)


def _definition_spans(tree_index: TreeIndex) -> dict[tuple[str, int], tuple[int, int]]:
    """(code name, first line) -> the lines of each definition's code object."""
    spans: dict[tuple[str, int], tuple[int, int]] = {}
    for node in tree_index.definitions:
        for key in definition_keys(node):
            spans[key] = (key[1], node.end_lineno or node.lineno)
    return spans


def _any_between(lines: list[int], first: int, last: int) -> bool:
    """Does sorted `lines` hold a line from `first` to `last`?"""
    at = bisect.bisect_left(lines, first)
    return at < len(lines) and lines[at] <= last


def nested_weights(
    tree: ast.Module, code: CodeType, tree_index: TreeIndex | None = None
) -> dict[int, Weights]:
    """{id(node): Weights} for the lambdas, comprehensions and generator expressions of
    `tree` (compiled, uninstrumented, as `code`), events counted on each node's first line.
    `tree_index` is `index_tree(tree)`, when the caller has it."""
    tree_index = tree_index or index_tree(tree)
    by_span = {span_key(n): n for n in tree_index.nested}
    if not by_span:
        return {}
    iterables = tree_index.loops
    owners: dict[int, ast.expr] = {}  # id(code object) -> the node it is the code of
    loops: dict[int, list[tuple[int, int]]] = {}
    consumed: dict[int, int] = {}  # id(generator expression) -> weight per item, 3.14+
    result: dict[int, Weights] = {}
    lines = sorted(node.lineno for node in tree_index.nested)
    spans = _definition_spans(tree_index)
    for co in code_objects(code):  # parents before the code objects they hold
        span = spans.get((co.co_name, co.co_firstlineno))
        if span is not None and not _any_between(lines, *span):
            continue  # a function or class with no nested code: nothing to read here
        walker = _Code(co, iterables)
        for ins in walker.instructions:
            if ins.opname == "LOAD_CONST" and isinstance(ins.argval, CodeType):
                node = by_span.get(instruction_key(ins) or (0, 0, 0, 0))
                if node is not None:
                    owners[id(ins.argval)] = node
        owner = owners.get(id(co))
        walker.find_tests(owner)
        for i, (comprehension, index) in walker.tests.items():
            fetched, passed, _ = walker.item(i, comprehension.lineno)
            if index == CONSUMER:
                consumed[id(comprehension)] = fetched
                continue
            per_for = loops.setdefault(id(comprehension), [(0, 0)] * len(comprehension.generators))
            per_for[index] = (fetched, passed)
        if owner is not None:
            result[id(owner)] = walker.whole(owner)
    for node in by_span.values():
        if isinstance(node, ast.Lambda):
            continue
        per_for = loops.get(id(node), [])
        if id(node) in consumed and per_for:
            # The builtin's loop takes each item the last `for` hands out.
            fetched, passed = per_for[-1]
            if node.generators[-1].ifs:
                per_for[-1] = (fetched, passed + consumed[id(node)])
            else:
                per_for[-1] = (fetched + consumed[id(node)], passed)
        weights = result.get(id(node), Weights(0, (), 0))
        if id(node) in consumed:
            # The builtin's loop comes back for an item only if it goes on (`any` stops at
            # the first true one): like the generator's own way back, count that part with
            # running out.
            weights = weights._replace(
                start=weights.start - consumed[id(node)],
                exhausted=weights.exhausted + consumed[id(node)],
            )
        result[id(node)] = weights._replace(loops=tuple(per_for))
    return result
