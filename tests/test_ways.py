"""The events on a statement's first line when they depend on the way taken inside it
(collect/ways.py): read from the bytecode of the Python running the test, so each case
states what every Python from 3.11 does. The counts against trace on whole programs are
the corpus's (tests/corpus/ways_inside.py)."""

from __future__ import annotations

import ast
import textwrap

import pytest

from tally.collect.events import statement_events
from tally.collect.ways import StatementCode, _solve, reach_points


def ways_of(source: str) -> dict[int, tuple[int, dict[str, int]]]:
    """{line: (events per run, {operand's source: events each time it runs})} for the
    statements of `source` whose events depend on the way taken."""
    source = textwrap.dedent(source)
    tree = ast.parse(source)
    found = statement_events(tree, compile(source, "<case>", "exec")).ways
    by_line = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.stmt) and id(node) in found:
            weights = found[id(node)]
            ticks = {}
            for (parent, field, index), events in weights.ticks:
                operand = getattr(parent, field)
                operand = operand[index] if index >= 0 else operand
                ticks[ast.unparse(operand)] = events
            by_line[node.lineno] = (weights.base, ticks)
    return by_line


def test_an_operand_that_goes_to_another_line_and_back_adds_an_event_when_it_runs() -> None:
    # `a` false: line 1 only. `a` true: `b(` runs `x` on line 2, and the call is on line 1.
    assert ways_of("""\
        if a and b(
            x
        ):
            pass
        """) == {1: (1, {"b(x)": 1})}


def test_either_arm_of_a_conditional_expression_can_be_the_one_that_comes_back() -> None:
    # The store is on line 1: the `else` arm on line 2 comes back to it, the body doesn't.
    ways = ways_of("""\
        y = (p if q
             else r)
        """)
    base, ticks = ways[1]
    assert base + ticks.get("p", 0) == 1
    assert base + ticks.get("r", 0) == 2


def test_a_chained_comparison_comes_back_only_when_it_goes_on() -> None:
    ways = ways_of("""\
        v = a < b < (
            c)
        """)
    base, ticks = ways[1]
    assert (base, base + ticks["c"]) == (1, 2)


def test_statements_whose_events_do_not_depend_on_the_way_have_no_weights() -> None:
    assert (
        ways_of("""\
        if a and b(x):
            pass
        y = p if q else r
        z = f(
            a, b)
        """)
        == {}
    )


def test_operands_inside_nested_code_and_statements_that_suspend_have_no_reach_points() -> None:
    call = ast.parse("f(lambda: a or b, [c and d for c in e], g or h)", mode="eval").body
    assert [ast.unparse(operand) for _, operand in reach_points([call]) or []] == ["h"]
    function = ast.parse("async def f():\n    x = a or await b").body[0]
    assert isinstance(function, ast.AsyncFunctionDef)
    assignment = function.body[0]
    assert isinstance(assignment, ast.Assign)
    assert reach_points([assignment.value]) is None


def test_weights_are_the_integer_solution_that_fits_every_way() -> None:
    # Ways as (reach points passed, events): 1 per run, 1 more with point 0, 2 with point 1.
    assert _solve({(0b00, 1), (0b01, 2), (0b11, 4)}, 2) == (1, [1, 2])
    # A point passed on every way is part of the run: its weight stays 0.
    assert _solve({(0b01, 1), (0b11, 3)}, 2) == (1, [0, 2])


def test_ways_whose_events_are_no_sum_have_no_weights() -> None:
    assert _solve({(0b00, 1), (0b01, 2), (0b10, 2), (0b11, 4)}, 2) is None
    assert _solve({(0b00, 1), (0b01, 1), (0b10, 2), (0b11, 2)}, 2) == (1, [0, 1])
    assert _solve({(0b00, 0), (0b01, 1), (0b11, 1)}, 2) == (0, [1, 0])
    assert _solve({(0b00, 0), (0b01, 1), (0b10, 1), (0b11, 1)}, 2) is None


def test_ways_that_meet_are_walked_on_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # pytest rewrites this assert (from attrs' suite) into a decision per comparison and
    # per part of its message, one after another: 2 ** decisions ways, which meet again
    # after each. Walked way by way it took 5 s; walked once from where ways meet, a few
    # hundred steps.
    from _pytest.assertion.rewrite import rewrite_asserts

    from tally.collect import events
    from tally.collect.importer import _rewritten_code

    source = textwrap.dedent("""\
        def test_compare(a, b):
            assert (
                NotImplemented
                == a.__lt__(b)
                == a.__le__(b)
                == a.__gt__(b)
                == a.__ge__(b)
            )
        """).encode()
    steps = 0

    def counted(instructions, at, owns, skip):  # type: ignore[no-untyped-def]
        def owns_counted(instruction):  # type: ignore[no-untyped-def]
            nonlocal steps
            steps += 1
            return owns(instruction)

        return StatementCode(instructions, at, owns_counted, skip)

    monkeypatch.setattr(events, "StatementCode", counted)
    tree = ast.parse(source)
    runs = _rewritten_code(rewrite_asserts, source, "test_compare.py", None)
    found = statement_events(tree, runs).ways
    assert steps < 5_000
    # Its ways' events (pytest's message parts add lines' events) are no sum of weights.
    assert found == {}


def test_where_weights_are_not_unique_the_operand_on_a_later_line_takes_the_events() -> None:
    # Either arm runs: (base 2, body -1) fits as well as (base 1, orelse 1). The `else` arm
    # is counted after it runs, so when it raises it must not have added its event.
    assert _solve({(0b01, 1), (0b10, 2)}, 2) == (2, [-1, 0])
    assert _solve({(0b01, 1), (0b10, 2)}, 2, [2, 0, 1]) == (1, [0, 1])
    assert ways_of("""\
        value = (int(text) if text.isdigit()
                 else float(text))
        """) == {1: (1, {"float(text)": 1})}
