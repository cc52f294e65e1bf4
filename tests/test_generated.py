"""Generated programs against the oracles: Hypothesis writes small programs from the statement
kinds that interact with blocks and exceptions (loops whose iterable or test raises,
`try`/`except`/`else`/`finally`, a `with` that swallows, generators closed early,
`break`/`continue`, `return` in `finally`, nested functions, headers spread over lines), and
each runs under coverage.py, `trace` and tally's engines:

- executed lines equal coverage.py's (its C tracer), on every engine, but on 3.11 for lines
  of a `finally` block an exception left, where coverage.py sees a line event in clean-up
  code (class 9 of docs/counts.md);
- branch arcs equal coverage.py's, but for arcs out of a line where an exception passed
  (coverage.py records an exception leaving a frame or a `with` as an arc: docs/branches.md);
- per statement, the count engine's count equals trace's count on the statement's first line
  that trace counts (docs/counts.md), but for statements where an exception passed: there
  trace's count also holds the line events of the exception's way out (class 9 of
  docs/counts.md).

CI runs a bounded, derandomized set of examples; `TALLY_GENERATED_EXAMPLES=500` runs more,
at random. A failing example is kept in tests/corpus/ (generated_*.py) once understood.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from support import (
    BRANCH_ENGINES,
    PY,
    clean_env,
    per_statement,
    run_coverage,
    run_tally,
    trace_counts,
)

import tally
from tally.analysis.source import analyze_source, read_source

EXAMPLES = int(os.environ.get("TALLY_GENERATED_EXAMPLES", "12"))
EXPLORING = "TALLY_GENERATED_EXAMPLES" in os.environ
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=not EXPLORING,
    database=None,
    # Shrinking runs every tool again for each smaller program: minutes. In CI a failure
    # prints its program as found; exploring runs shrink it.
    phases=list(Phase) if EXPLORING else [Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

PRELUDE = """\
class Boom(Exception):
    pass


def items(n, fail_at):
    for i in range(n):
        if i == fail_at:
            raise Boom(i)
        yield i


class Ticker:
    def __init__(self, n, fail_at):
        self.left = n
        self.fail_at = fail_at

    def __call__(self):
        if self.left == self.fail_at:
            raise Boom(self.left)
        self.left -= 1
        return self.left >= 0


class Swallow:
    def __init__(self, swallow):
        self.swallow = swallow

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return self.swallow


"""

DRIVER = """

for x in range(4):
    try:
        result = f(x)
        if hasattr(result, "close"):
            if x % 2:
                next(result, None)
                result.close()
            else:
                list(result)
    except Exception:
        pass
"""


@st.composite
def blocks(draw: st.DrawFn, depth: int, in_loop: bool, in_def: int) -> list[str]:
    """A block of one to three statements, each a list of lines indented from 0."""
    count = draw(st.integers(1, 3))
    lines: list[str] = []
    for _ in range(count):
        lines += draw(statements(depth, in_loop, in_def))
    return lines


def indent(lines: list[str]) -> list[str]:
    return ["    " + line for line in lines]


@st.composite
def statements(draw: st.DrawFn, depth: int, in_loop: bool, in_def: int) -> list[str]:
    """One statement (simple, or compound with blocks inside while depth lasts)."""
    simple = ["acc += 1", f"if x == {draw(st.integers(0, 3))}:\n    raise Boom(x)", "yield acc"]
    if in_loop:
        simple += ["break", "continue"]
    simple += ["return acc"]
    kinds = ["simple"] * 3
    if depth > 0:
        kinds += ["if", "for", "while", "try", "with", "def"]
    kind = draw(st.sampled_from(kinds))
    if kind == "simple":
        return draw(st.sampled_from(simple)).split("\n")
    inner = depth - 1
    spread = draw(st.booleans())  # the header spread over lines
    if kind == "if":
        head = (
            ["if (", f"    x % 2 == {draw(st.integers(0, 1))}", "):"]
            if spread
            else [f"if x % 2 == {draw(st.integers(0, 1))}:"]
        )
        lines = head + indent(draw(blocks(inner, in_loop, in_def)))
        if draw(st.booleans()):
            lines += ["else:", *indent(draw(blocks(inner, in_loop, in_def)))]
        return lines
    if kind in ("for", "while"):
        size, fail = draw(st.integers(0, 3)), draw(st.integers(-1, 2))
        name = f"i{inner}"
        if kind == "for":
            head = (
                [f"for {name} in items(", f"    {size}, {fail}", "):"]
                if spread
                else [f"for {name} in items({size}, {fail}):"]
            )
        else:
            head = [f"t{inner} = Ticker({size}, {fail})", f"while t{inner}():"]
        lines = head + indent(draw(blocks(inner, True, in_def)))
        if draw(st.booleans()):
            lines += ["else:", *indent(draw(blocks(inner, in_loop, in_def)))]
        return lines
    if kind == "try":
        lines = ["try:", *indent(draw(blocks(inner, in_loop, in_def)))]
        handler = draw(st.booleans())
        if handler:
            lines += ["except Boom:", *indent(draw(blocks(inner, in_loop, in_def)))]
            if draw(st.booleans()):
                lines += ["else:", *indent(draw(blocks(inner, in_loop, in_def)))]
        if not handler or draw(st.booleans()):
            lines += ["finally:", *indent(draw(blocks(inner, in_loop, in_def)))]
        return lines
    if kind == "with":
        head = (
            ["with Swallow(", f"    {draw(st.booleans())}", "):"]
            if spread
            else [f"with Swallow({draw(st.booleans())}):"]
        )
        return head + indent(draw(blocks(inner, in_loop, in_def)))
    # A nested function, called at once: its own body, its own loops.
    name = f"g{in_def}"
    signature = (
        [f"def {name}(", "    x,", "    acc=0,", "):"] if spread else [f"def {name}(x, acc=0):"]
    )
    body = draw(blocks(inner, False, in_def + 1))
    call = f"acc += sum(1 for _ in {name}(x) or ())"
    return [
        *signature,
        *indent([*body, "return acc"]),
        "try:",
        f"    {call}",
        "except Boom:",
        "    pass",
    ]


@st.composite
def programs(draw: st.DrawFn) -> str:
    """A whole program: the prelude, a function `f(x)` (a generator when it yields), and
    a driver that calls it for x in 0..3, closing half of the generators early."""
    body = draw(blocks(2, False, 0))
    return (
        PRELUDE + "\n".join(["def f(x):", "    acc = 0", *indent(body), "    return acc"]) + DRIVER
    )


# -- the oracles ---------------------------------------------------------------------------

# Under sys.settrace: the lines of the program where an exception passed (its `exception`
# events), where coverage.py may record an arc tally doesn't.
_RAISED = """
import json, runpy, sys
target = sys.argv[1]
lines = set()
def watch(frame, event, arg):
    if frame.f_code.co_filename != target:
        return None
    def local(frame, event, arg):
        if event == "exception":
            lines.add(frame.f_lineno)
        return local
    return local(frame, event, arg)
sys.settrace(watch)
try:
    runpy.run_path(target, run_name="__main__")
finally:
    sys.settrace(None)
print(json.dumps(sorted(lines)))
"""


def exception_lines(script: Path) -> set[int]:
    out = subprocess.run(
        [PY, "-c", _RAISED, str(script)],
        cwd=script.parent,
        env=clean_env(),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return set(json.loads(out.splitlines()[-1]))


def json_view(data: Path, cwd: Path, tool: str) -> dict[str, object]:
    """The program's file in a JSON report of `data`, by coverage.py or tally."""
    out = cwd / f"{data.name}.json"
    if tool == "coverage":
        run_coverage("json", f"--data-file={data}", "-o", str(out), cwd=cwd)
    else:
        done = run_tally("json", f"--data-file={data}", "-o", str(out), cwd=cwd)
        assert done.returncode == 0, done.stderr
    (entry,) = json.loads(out.read_text())["files"].values()
    return entry  # type: ignore[no-any-return]


def arcs(entry: dict[str, object]) -> set[tuple[int, int]]:
    found = [*entry["executed_branches"], *entry["missing_branches"]]  # type: ignore[misc]
    return {(int(arc[0]), int(arc[1])) for arc in found}


def finally_blocks_raised_in(source: str, raised: set[int]) -> set[int]:
    """On 3.11, the lines of each `finally` block an exception was raised in: there trace
    also counts lines whose clean-up code the exception passes on its way out (the block's
    last line, the raise again), which never began (class 9 of docs/counts.md)."""
    if sys.version_info >= (3, 12):
        return set()
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Try) and node.finalbody:
            lines = {
                line
                for statement in node.finalbody
                for line in range(statement.lineno, (statement.end_lineno or 0) + 1)
            }
            if lines & raised:
                found |= lines
    return found


def check_program(source: str, work: Path) -> None:
    """Run one program under every tool, and compare."""
    work.mkdir(parents=True, exist_ok=True)
    script = work / "program.py"
    script.write_text(source)
    # coverage.py's C tracer on every Python: its sysmon core (3.14+) reports as run a
    # statement a jump's straight run would reach where an instruction on the way raised
    # (docs/branches.md), which generated programs do often.
    run_coverage(
        "run",
        "--branch",
        "--data-file=cov.data",
        "--rcfile=",
        script.name,
        cwd=work,
        COVERAGE_CORE="ctrace",
    )
    theirs = json_view(work / "cov.data", work, "coverage")
    raised = exception_lines(script)
    cleanup = finally_blocks_raised_in(source, raised)
    for engine in BRANCH_ENGINES:
        data = work / f"{engine}.data"
        done = run_tally(
            "run",
            "--branch",
            f"--engine={engine}",
            f"--data-file={data}",
            "--rcfile=",
            script.name,
            cwd=work,
        )
        assert done.returncode == 0, done.stderr
        ours = json_view(data, work, "tally")
        mine, yours = set(ours["executed_lines"]), set(theirs["executed_lines"])  # type: ignore[call-overload]
        # On 3.11 an exception leaving a `finally` block passes clean-up code numbered
        # with the block's lines, and coverage.py sees a line event there: it reports
        # such a line as run though it never began (class 9 of docs/counts.md).
        phantom = cleanup & (yours - mine)
        assert mine ^ yours == phantom, f"{engine}: executed lines"
        statements = mine | set(ours["missing_lines"])  # type: ignore[call-overload]
        assert statements == yours | set(theirs["missing_lines"]), f"{engine}: statements"  # type: ignore[call-overload]
        differ = arcs(ours) ^ arcs(theirs)
        executed = {tuple(a) for a in ours["executed_branches"]} ^ {  # type: ignore[attr-defined]
            tuple(a)
            for a in theirs["executed_branches"]  # type: ignore[attr-defined]
        }
        unexplained = {arc for arc in differ | executed if arc[0] not in raised | phantom}
        assert unexplained == set(), f"{engine}: arcs {sorted(unexplained)}"
    # Counts: the count engine against trace, statement by statement.
    data = work / "counted.data"
    done = run_tally(
        "run",
        "--count",
        "--engine=count",
        f"--data-file={data}",
        "--rcfile=",
        script.name,
        cwd=work,
    )
    assert done.returncode == 0, done.stderr
    ours_counts = tally.CoverageData(str(data)).counts(str(script.resolve()))
    facts = analyze_source(read_source(str(script)), str(script), None)
    expected = per_statement(facts, trace_counts(script, work))
    passed = {facts.multiline.get(line, line) for line in raised}
    passed |= cleanup
    differ_counts = {
        line: (ours_counts.get(line, 0), n)
        for line, n in expected.items()
        if ours_counts.get(line, 0) != n and line not in passed
    }
    assert differ_counts == {}, f"counts (tally, trace): {differ_counts}"


# `return`, `break` and `continue` in `finally` are generated on purpose (PEP 765 warns).
@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::SyntaxWarning")
@SETTINGS
@given(source=programs())
def test_generated_programs_agree_with_coverage_py_and_trace(
    source: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    work = tmp_path_factory.mktemp("generated")
    try:
        check_program(source, work)
    except AssertionError as failure:
        failure.add_note(f"the program:\n{source}")
        raise
