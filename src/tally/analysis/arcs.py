"""The arcs a file's code can take, found from its AST with coverage.py's conventions.

An arc is `(from_line, to_line)` between statements' first lines; a negative line is the
exit of the code object starting on that line (`-1`: the module). Like coverage.py 7.x, only
arcs that can make a branch are modelled: from one statement to the next, into and out of
`if`/`while`/`for`/`match`/`try` bodies, and out of a code object by `return`, `raise` or
falling off its end. There are no entry arcs and none for exceptions a statement might raise.

Each arc that can be missing carries fragments that reports turn into a sentence: "line 12
didn't jump to line 15 because the condition on line 12 was always true".
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import CodeType

from tally.analysis.nodes import DEFINITIONS, irrefutable
from tally.types import Arc, LineNo

__all__ = ["ArcFacts", "Arm", "find_arcs", "one_line_body_exit", "source_arcs"]

# One way out of a decision, named by the node deciding (id() of the `if`, loop or `case`
# in the tree analysed) and which way: "body" (the test held, the loop went round, the
# pattern matched) or "else" (the test failed, the loop ended by its test, the pattern
# failed: on to the next case or past the `match`). The count engine counts arms.
Arm = tuple[int, str]
_Fragment = tuple[str | None, str | None]  # (why it may be missing, what it does)


@dataclass(frozen=True)
class _Start:
    """Where an arc leaves from, why it would not be taken, and the arm it is part of."""

    line: LineNo
    cause: str | None = None
    arm: Arm | None = None


@dataclass
class _Loop:
    """A loop being analysed: where `continue` goes, and the `break`s seen."""

    start: LineNo
    breaks: set[_Start] = field(default_factory=set)


@dataclass
class _Function:
    start: LineNo
    name: str


@dataclass
class _Try:
    """A `try` being analysed; `handler` is None once its body is done."""

    handler: LineNo | None


_Frame = _Loop | _Function | _Try


@dataclass
class ArcFacts:
    """A file's possible arcs (first lines) and the fragments explaining each."""

    arcs: set[Arc]
    fragments: dict[Arc, list[_Fragment]]
    multiline: dict[LineNo, LineNo] = field(default_factory=dict)
    with_fixes: dict[Arc, Arc | None] = field(default_factory=dict)
    arms: dict[Arm, Arc] = field(default_factory=dict)  # the arc each arm takes

    def translate(self, arcs: Iterable[Arc]) -> set[Arc]:
        """Measured arcs as the possible ones are written: jumps back to a `with` line
        straightened, lines mapped to their statement's first line."""
        result: set[Arc] = set()
        for arc in arcs:
            fixed = self.with_fixes.get(arc, arc)
            if fixed is not None:
                result.add((_first(self.multiline, fixed[0]), _first(self.multiline, fixed[1])))
        return result

    def unarmed_exits(self) -> dict[LineNo, list[Arc]]:
        """The lines with several ways on and no decision's arms among them, with those
        ways (sorted): each is taken whenever the line runs. They are one-line bodies,
        `class E(Exception): pass`, which coverage.py sees leave the body and then the
        line (see one_line_body_exit)."""
        armed = set(self.arms.values())
        return {
            line: sorted(ways)
            for line, ways in _exits_by_line(self.arcs).items()
            if len(ways) > 1 and armed.isdisjoint(ways)
        }

    def exit_counts(self, excluded: Iterable[LineNo]) -> dict[LineNo, int]:
        """How many arcs leave each line, not counting excluded lines or arcs into them."""
        skip = set(excluded)
        counts: dict[LineNo, int] = defaultdict(int)
        for start, end in self.arcs:
            if start not in skip and end not in skip:
                counts[start] += 1
        return dict(counts)

    def describe(self, start: LineNo, end: LineNo) -> str:
        """What taking an arc does: "jump to line 12", "return from function 'f'"."""
        _, action = self.fragments.get((start, end), [(None, None)])[0]
        return _action(action, end)

    def describe_missing(self, start: LineNo, end: LineNo) -> str:
        """A sentence saying that an arc wasn't taken, and why when we know."""
        sentences = []
        for cause, action in self.fragments.get((start, end), [(None, None)]):
            text = f"line {start} didn't {_action(action, end)}"
            if cause is not None:
                text += f" because {cause.format(lineno=start)}"
            sentences.append(text)
        return " or ".join(sentences)


def _exits_by_line(arcs: Iterable[Arc]) -> dict[LineNo, set[Arc]]:
    """The arcs leaving each line."""
    exits: dict[LineNo, set[Arc]] = defaultdict(set)
    for arc in arcs:
        exits[arc[0]].add(arc)
    return exits


def one_line_body_exit(
    stmt: ast.stmt, multiline: Mapping[LineNo, LineNo] | None = None
) -> Arc | None:
    """For a definition with its body on its own line (`def f(): return 1`), the arc out
    of that body: taken each time the body runs, not each time the definition does. The
    body may sit on the last line of a header spread over lines (`def f(\n  a,\n): ...`,
    as typing.overload stubs are written): `multiline` maps it to the header's line."""
    if not isinstance(stmt, DEFINITIONS):
        return None
    body_line = stmt.body[0].lineno
    if (multiline or {}).get(body_line, body_line) != stmt.lineno:
        return None
    first = min([stmt.lineno, *(d.lineno for d in stmt.decorator_list)])
    return (stmt.lineno, -first)


def _first(multiline: dict[LineNo, LineNo], line: LineNo) -> LineNo:
    """The first line of the statement holding `line` (negative lines stay negative)."""
    if line < 0:
        return -multiline.get(-line, -line)
    return multiline.get(line, line)


def _action(action: str | None, end: LineNo) -> str:
    if action is None:
        action = "jump to the function exit" if end < 0 else "jump to line {lineno}"
    return action.format(lineno=end)


def find_arcs(
    tree: ast.Module, raw_statements: Iterable[LineNo], multiline: dict[LineNo, LineNo]
) -> ArcFacts:
    """The possible arcs of the module `tree`, whose statements (lines in its code's line
    table) are `raw_statements` and whose multi-line statements map to their first line by
    `multiline`."""
    finder = _ArcFinder(raw_statements, multiline)
    for node in _statement_nodes(tree):
        if isinstance(node, ast.Module):
            finder.module(node)
        elif isinstance(node, ast.ClassDef):
            finder.class_body(node)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            finder.function_body(node)
    return finder.facts()


def source_arcs(tree: ast.Module, text: str, code: CodeType) -> ArcFacts:
    """The possible arcs of `tree`, parsed from `text` and compiled as `code`."""
    from tally.analysis.source import multiline_map, raw_statement_lines

    return find_arcs(tree, raw_statement_lines(code), multiline_map(text))


def _statement_nodes(root: ast.AST) -> Iterable[ast.AST]:
    todo = [root]
    while todo:
        node = todo.pop()
        yield node
        todo.extend(
            child
            for child in ast.iter_child_nodes(node)
            if isinstance(child, (ast.stmt, ast.excepthandler, ast.match_case))
        )


def constant_test(node: ast.expr) -> bool | None:
    """The value of a test the compiler folds (`True`, `1`, `not False`, `__debug__`), or
    None when it is decided at run time."""
    if isinstance(node, ast.Constant):
        return bool(node.value)
    if isinstance(node, ast.Name) and node.id in ("True", "False", "None", "__debug__"):
        return node.id in ("True", "__debug__")
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        value = constant_test(node.operand)
        return None if value is None else not value
    if isinstance(node, ast.BoolOp):
        values = [constant_test(v) for v in node.values]
        if any(v is None for v in values):
            return None
        return any(values) if isinstance(node.op, ast.Or) else all(values)
    return None


class _ArcFinder:
    """Walks each code object's statements, collecting arcs as raw (unmapped) lines."""

    def __init__(self, raw_statements: Iterable[LineNo], multiline: dict[LineNo, LineNo]):
        self.multiline = multiline
        self.statements = {multiline.get(n, n) for n in raw_statements}
        self.arcs: set[Arc] = set()
        self.fragments: dict[Arc, list[_Fragment]] = defaultdict(list)
        self.frames: list[_Frame] = []
        # A `with` body left on lines of its own jumps back to the `with` line to call
        # __exit__ and then on; we report that as one jump from the body to what follows.
        self.open_withs: set[LineNo] = set()
        self.with_lines: set[LineNo] = set()
        self.with_entries: set[Arc] = set()
        self.with_exits: set[Arc] = set()
        # Each arm's line, and the raw arcs it was seen to take.
        self.arm_lines: dict[Arm, LineNo] = {}
        self.arm_arcs: dict[Arm, set[Arc]] = defaultdict(set)

    # -- results -------------------------------------------------------------------

    def facts(self) -> ArcFacts:
        """The arcs found, with `with` exits straightened and lines mapped to first lines."""
        facts = ArcFacts(set(), dict(self.fragments), self.multiline, self._with_fixes())
        facts.arcs = {(a, b) for a, b in facts.translate(self.arcs) if a != b}
        facts.arms = self._arm_arcs(facts)
        return facts

    def _arm_arcs(self, facts: ArcFacts) -> dict[Arm, Arc]:
        """The one arc each arm takes. An arm whose arcs all vanished (a body on the
        decision's own line, `if x: return`, whose first arc is (n, n)) takes the way out
        of its line that the other arms don't, when exactly one is left."""
        exits = _exits_by_line(facts.arcs)
        arms: dict[Arm, Arc] = {}
        open_arms: dict[LineNo, list[Arm]] = defaultdict(list)
        for arm, line in self.arm_lines.items():
            arcs = facts.translate(self.arm_arcs.get(arm, ())) & exits[line]
            if len(arcs) == 1:
                arms[arm] = arcs.pop()
            elif not arcs:
                open_arms[line].append(arm)
        for line, waiting in open_arms.items():
            left = exits[line] - set(arms.values())
            if len(waiting) == 1 and len(left) == 1:
                arms[waiting[0]] = left.pop()
        return arms

    def _with_fixes(self) -> dict[Arc, Arc | None]:
        """Arcs to replace: body -> `with` line becomes body -> the `with`'s successor,
        and the `with` line's own arc onward goes (the body's exit stands for it)."""
        onward: dict[LineNo, LineNo] = {}
        for start in self.with_lines:
            ends = {
                end
                for begin, end in self.arcs
                if begin == start and (begin, end) not in self.with_entries
            }
            if ends:
                onward[start] = min(ends)

        def landing(start: LineNo) -> LineNo:
            # A `with` ending the body of another jumps to the outer one's line, and so on.
            end = onward[start]
            while (start, end) in self.with_exits and end in onward:
                start, end = end, onward[end]
            return end

        fixes: dict[Arc, Arc | None] = {}
        for body_end, start in self.with_exits:
            if start in onward:
                fixes[(body_end, start)] = (body_end, landing(start))
        for start, end in onward.items():
            if (start, start) not in self.with_exits:
                fixes[(start, end)] = None
        return fixes

    def add(
        self, start: LineNo, end: LineNo, cause: str | None = None, action: str | None = None
    ) -> None:
        """Record an arc and, when given, why it may be missing and what it does."""
        self.arcs.add((start, end))
        if start in self.open_withs:
            self.with_entries.add((start, end))
        if cause is not None or action is not None:
            self.fragments[(start, end)].append((cause, action))

    def leave(self, start: _Start, end: LineNo, action: str | None = None) -> None:
        """Record the arc from `start` to `end`, as part of `start`'s arm if it has one."""
        self.add(start.line, end, start.cause, action)
        if start.arm is not None:
            self.arm_arcs[start.arm].add((start.line, end))

    def arm(self, node: ast.AST, way: str, line: LineNo, cause: str) -> _Start:
        """The start of one arm of the decision `node` on `line`."""
        arm = (id(node), way)
        self.arm_lines[arm] = line
        return _Start(line, cause, arm)

    # -- code objects --------------------------------------------------------------

    def module(self, node: ast.Module) -> None:
        """The module's body: its exits leave the module (-1)."""
        if not node.body:
            self.add(1, -1)
            return
        for leaving in self.body(node.body):
            self.leave(leaving, -1, "exit the module")

    def function_body(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        """A function's body: falling off its end returns."""
        start = self.line_of(node)
        self.frames.append(_Function(start, node.name))
        self.returns(self.body(node.body))
        self.frames.pop()

    def class_body(self, node: ast.ClassDef) -> None:
        """A class body: its exits leave the class's code."""
        start = self.line_of(node)
        for leaving in self.body(node.body):
            self.leave(leaving, -start, f"exit class {node.name!r}")

    # -- lines ---------------------------------------------------------------------

    def line_of(self, node: ast.AST) -> LineNo:
        """The first line of `node` as coverage.py places it."""
        return _first(self.multiline, self._raw_line(node))

    def _raw_line(self, node: ast.AST) -> LineNo:
        if isinstance(node, DEFINITIONS):
            return node.decorator_list[0].lineno if node.decorator_list else node.lineno
        if isinstance(node, ast.Assign):
            return self.line_of(node.value)
        if isinstance(node, ast.Dict) and node.keys:
            key = node.keys[0]
            return key.lineno if key is not None else node.values[0].lineno
        if isinstance(node, ast.List) and node.elts:
            return self.line_of(node.elts[0])
        if isinstance(node, ast.Module):
            return 1
        line: LineNo = getattr(node, "lineno")  # noqa: B009 - every other node has one
        return line

    # -- statement lists -----------------------------------------------------------

    def body(
        self,
        stmts: Sequence[ast.stmt],
        entry: _Start | None = None,
        froms: set[_Start] | None = None,
    ) -> set[_Start]:
        """Arcs through a statement list, entered from `entry` (or each of `froms`).
        Returns where execution can leave the list to whatever follows it."""
        previous = set(froms) if froms is not None else ({entry} if entry else set())
        for stmt in stmts:
            line = self.line_of(stmt)
            if line not in self.statements:
                continue
            for leaving in previous:
                self.leave(leaving, line)
            previous = self.exits(stmt)
        return previous

    def exits(self, stmt: ast.stmt) -> set[_Start]:
        """Where execution leaves `stmt` to the next statement (its arcs inside recorded)."""
        handler = getattr(self, "on_" + type(stmt).__name__.lower(), None)
        if handler is None:
            return {_Start(self.line_of(stmt))}
        result: set[_Start] = handler(stmt)
        return result

    # -- jumps ---------------------------------------------------------------------

    def returns(self, leaving: set[_Start]) -> None:
        """`return`s (and a function body's end) go to the function's exit."""
        for frame in reversed(self.frames):
            if isinstance(frame, _Function):
                action = f"return from function {frame.name!r}"
                for start in leaving:
                    self.leave(start, -frame.start, action)
                return

    def raises(self, leaving: set[_Start]) -> None:
        """A `raise` goes to the nearest handler, or out of the function."""
        for frame in reversed(self.frames):
            if isinstance(frame, _Try):
                if frame.handler is not None:
                    for start in leaving:
                        self.leave(start, frame.handler)
                return
            if isinstance(frame, _Function):
                action = f"except from function {frame.name!r}"
                for start in leaving:
                    self.leave(start, -frame.start, action)
                return

    def _loop(self) -> _Loop | None:
        for frame in reversed(self.frames):
            if isinstance(frame, _Loop):
                return frame
        return None

    # -- statements ----------------------------------------------------------------

    def on_return(self, stmt: ast.Return) -> set[_Start]:
        line = self.line_of(stmt)
        self.returns({_Start(line, "the return on line {lineno} wasn't executed")})
        return set()

    def on_raise(self, stmt: ast.Raise) -> set[_Start]:
        line = self.line_of(stmt)
        self.raises({_Start(line, "the raise on line {lineno} wasn't executed")})
        return set()

    def on_break(self, stmt: ast.Break) -> set[_Start]:
        loop = self._loop()
        if loop is not None:
            loop.breaks.add(
                _Start(self.line_of(stmt), "the break on line {lineno} wasn't executed")
            )
        return set()

    def on_continue(self, stmt: ast.Continue) -> set[_Start]:
        loop = self._loop()
        if loop is not None:
            cause = "the continue on line {lineno} wasn't executed"
            self.add(self.line_of(stmt), loop.start, cause)
        return set()

    def _decorated(
        self, stmt: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
    ) -> set[_Start]:
        # Decorators run top to bottom, then the definition line binds the name.
        last: LineNo | None = None
        for decorator in stmt.decorator_list:
            line = self.line_of(decorator)
            if last is not None and line != last:
                self.add(last, line)
            last = line
        if last is not None:
            self.add(last, stmt.lineno)
        return {_Start(stmt.lineno)}

    on_functiondef = on_asyncfunctiondef = on_classdef = _decorated

    def on_if(self, stmt: ast.If) -> set[_Start]:
        start = self.line_of(stmt.test)
        value = constant_test(stmt.test)
        leaving: set[_Start] = set()
        never, always = (
            "the condition on line {lineno} was never true",
            "the condition on line {lineno} was always true",
        )
        if value is None:
            leaving |= self.body(stmt.body, self.arm(stmt, "body", start, never))
            leaving |= self.body(stmt.orelse, self.arm(stmt, "else", start, always))
        elif value:
            leaving |= self.body(stmt.body, _Start(start, never))
        else:
            leaving |= self.body(stmt.orelse, _Start(start, always))
        return leaving

    def loop_body(self, start: LineNo, body: Sequence[ast.stmt], entry: _Start) -> _Loop:
        """A loop's body, entered from `entry` on line `start`, each way out of it going
        back there; returns the loop with the `break`s found in it."""
        loop = _Loop(start)
        self.frames.append(loop)
        for leaving in self.body(body, entry):
            self.leave(leaving, start)
        self.frames.pop()
        return loop

    def on_while(self, stmt: ast.While) -> set[_Start]:
        start = self.line_of(stmt.test)
        never = "the condition on line {lineno} was never true"
        always = "the condition on line {lineno} was always true"
        if constant_test(stmt.test) is None:
            entry, done = (
                self.arm(stmt, "body", start, never),
                self.arm(stmt, "else", start, always),
            )
        else:
            entry, done = _Start(start, never), _Start(start, always)
        loop = self.loop_body(start, stmt.body, entry)
        result = set(loop.breaks)
        if stmt.orelse:
            result |= self.body(stmt.orelse, done)
        elif constant_test(stmt.test) is None:
            result.add(done)
        return result

    def on_for(self, stmt: ast.For | ast.AsyncFor) -> set[_Start]:
        start = self.line_of(stmt.iter)
        entry = self.arm(stmt, "body", start, "the loop on line {lineno} never started")
        loop = self.loop_body(start, stmt.body, entry)
        done = self.arm(stmt, "else", start, "the loop on line {lineno} didn't complete")
        result = set(loop.breaks)
        if stmt.orelse:
            result |= self.body(stmt.orelse, done)
        else:
            result.add(done)
        return result

    on_asyncfor = on_for

    def on_match(self, stmt: ast.Match) -> set[_Start]:
        always = "the pattern on line {lineno} always matched"
        previous = _Start(self.line_of(stmt), always)
        result: set[_Start] = set()
        for case in stmt.cases:
            case_line = self.line_of(case.pattern)
            self.leave(previous, case_line)
            entry = self.arm(case, "body", case_line, "the pattern on line {lineno} never matched")
            result |= self.body(case.body, entry)
            previous = self.arm(case, "else", case_line, always)
        if not (stmt.cases and irrefutable(stmt.cases[-1])):
            result.add(previous)
        return result

    def on_try(self, stmt: ast.Try) -> set[_Start]:
        handler = self.line_of(stmt.handlers[0]) if stmt.handlers else None
        frame = _Try(handler)
        self.frames.append(frame)
        leaving = self.body(stmt.body, _Start(self.line_of(stmt)))
        if stmt.finalbody:
            # The frame stays while handlers and `else` run: a raise there goes to the
            # `finally`, which coverage.py's model leaves without an arc.
            frame.handler = None
        else:
            self.frames.pop()
        handled: set[_Start] = set()
        for clause in stmt.handlers:
            cause = "the exception caught by line {lineno} didn't happen"
            handled |= self.body(clause.body, _Start(self.line_of(clause), cause))
        if stmt.orelse:
            leaving = self.body(stmt.orelse, froms=leaving)
        leaving |= handled
        if stmt.finalbody:
            self.frames.pop()
            after = self.body(stmt.finalbody, froms=leaving)
            if leaving:
                leaving = after
        return leaving

    on_trystar = on_try

    def on_with(self, stmt: ast.With | ast.AsyncWith) -> set[_Start]:
        starts = [self.line_of(item.context_expr) for item in stmt.items]
        self.open_withs.update(starts)
        self.with_lines.update(starts)
        start = starts[-1]
        leaving = self.body(stmt.body, _Start(start))
        self.open_withs.discard(start)
        if not leaving:
            return set()
        for end in leaving:
            self.leave(end, start)
            self.with_exits.add((end.line, start))
        return {_Start(start)}

    on_asyncwith = on_with
