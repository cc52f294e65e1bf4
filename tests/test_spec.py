"""Measurement, as specifications: a snippet, and what each engine must find in it (its
statements, the lines and branch arcs that never ran, each statement's count).

The expected values are coverage.py's (statements, missing lines, arcs) and the stdlib
`trace` module's (counts) for the same snippet; the oracle tests (test_oracle.py,
test_branches.py) hold tally to both across the corpus, and these say it where a
reader can see it.
"""

from __future__ import annotations

import sys
from pathlib import Path

from support import check_coverage

CLASSIFY = """\
def classify(n):
    if n < 0:
        return "negative"
    elif n == 0:
        return "zero"
    return "positive"

for n in (1, 2, 0):
    classify(n)
"""


def test_an_if_chain_misses_the_arm_no_call_took(tmp_path: Path) -> None:
    check_coverage(
        CLASSIFY,
        tmp_path,
        lines={1, 2, 3, 4, 5, 6, 8, 9},
        missing={3},
        branches={(2, 4), (4, 5), (4, 6), (8, -1), (8, 9)},
        missing_branches={(2, 3)},
    )


def test_each_statement_counts_the_times_it_ran(tmp_path: Path) -> None:
    check_coverage(
        CLASSIFY,
        tmp_path,
        counts={1: 1, 2: 3, 3: 0, 4: 3, 5: 1, 6: 2, 8: 4, 9: 3},
    )


def test_a_loop_that_breaks_never_runs_its_else(tmp_path: Path) -> None:
    check_coverage(
        """\
        for item in [1, 2, 3]:
            if item == 2:
                break
        else:
            print("never")
        print("done")
        """,
        tmp_path,
        lines={1, 2, 3, 5, 6},
        missing={5},
        branches={(1, 2), (2, 1), (2, 3)},
        missing_branches={(1, 5)},
    )


def test_a_while_loop_counts_its_test_once_more_than_its_body(tmp_path: Path) -> None:
    check_coverage(
        """\
        n = 0
        while n < 4:
            n += 1
        print(n)
        """,
        tmp_path,
        counts={1: 1, 2: 5, 3: 4, 4: 1},
    )


def test_a_handled_exception_runs_the_handler_and_finally(tmp_path: Path) -> None:
    check_coverage(
        """\
        def parse(text):
            try:
                value = int(text)
            except ValueError:
                value = None
            finally:
                print("parsed", text)
            return value

        parse("12")
        parse("x")
        """,
        tmp_path,
        lines={1, 2, 3, 4, 5, 7, 8, 10, 11},
        missing=set(),
    )


def test_exception_handlers_count_the_exceptions_they_caught(tmp_path: Path) -> None:
    check_coverage(
        """\
        def parse(text):
            try:
                value = int(text)
            except ValueError:
                value = None
            finally:
                print("parsed", text)
            return value

        for text in ("1", "x", "2", "y", "z"):
            parse(text)
        """,
        tmp_path,
        counts={1: 1, 2: 5, 3: 5, 4: 3, 5: 3, 7: 5, 8: 5, 10: 6, 11: 5},
    )


def test_a_comprehension_counts_its_line_each_time_its_loop_comes_back(tmp_path: Path) -> None:
    # trace's count: the statement, then each item's return to the line (its test, the
    # filter's jump, the append). Up to 3.11 the comprehension is a function of its own,
    # whose start is one more; 3.12 inlines it (PEP 709).
    check_coverage(
        """\
        squares = [n * n for n in range(10) if n % 2]
        print(squares)
        """,
        tmp_path,
        lines={1, 2},
        missing=set(),
        counts={1: 12 if sys.version_info < (3, 12) else 11, 2: 1},
    )


def test_a_function_never_called_misses_its_body_not_its_def(tmp_path: Path) -> None:
    check_coverage(
        """\
        def unused(x):
            y = x + 1
            return y

        class Shape:
            sides = 0

            def area(self):
                return 0
        """,
        tmp_path,
        lines={1, 2, 3, 5, 6, 8, 9},
        missing={2, 3, 9},
    )


def test_a_generator_counts_each_resumption(tmp_path: Path) -> None:
    check_coverage(
        """\
        def evens(limit):
            n = 0
            while n < limit:
                yield n
                n += 2

        total = sum(evens(7))
        """,
        tmp_path,
        counts={1: 1, 2: 1, 3: 5, 4: 4, 5: 4, 7: 1},
    )


def test_a_match_statement_misses_the_cases_nothing_matched(tmp_path: Path) -> None:
    check_coverage(
        """\
        def describe(point):
            match point:
                case (0, 0):
                    return "origin"
                case (x, 0):
                    return "on the x axis"
                case _:
                    return "elsewhere"

        describe((0, 0))
        describe((1, 2))
        """,
        tmp_path,
        lines={1, 2, 3, 4, 5, 6, 7, 8, 10, 11},
        missing={6},
        missing_branches={(5, 6)},
    )


def test_a_multi_line_statement_is_one_statement_on_its_first_line(tmp_path: Path) -> None:
    # The call comes back to its first line once its argument is evaluated: two events
    # there, as trace counts them; the continuation lines are not statements.
    check_coverage(
        """\
        values = [
            1,
            2,
        ]
        total = sum(
            values
        )
        """,
        tmp_path,
        lines={1, 5},
        missing=set(),
        counts={1: 1, 5: 2},
    )


def test_excluded_lines_are_not_statements(tmp_path: Path) -> None:
    check_coverage(
        """\
        def debug_only():  # pragma: no cover
            print("debugging")

        if False:  # pragma: no cover
            print("never")
        print("ran")
        """,
        tmp_path,
        lines={6},
        missing=set(),
    )
