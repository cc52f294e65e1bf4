"""Results arithmetic follows coverage.py: ranges, rounding, fail_under."""

from __future__ import annotations

import pytest

from tally.analysis.results import (
    FileAnalysis,
    Numbers,
    display_covered,
    fail_under_reason,
    format_lines,
    human_key,
)


def test_format_lines_coalesces_over_gaps_between_statements() -> None:
    statements = [1, 2, 3, 4, 5, 10, 11, 12, 13, 14]
    assert format_lines(statements, [1, 2, 5, 10, 11, 13, 14]) == "1-2, 5-11, 13-14"
    assert format_lines(statements, []) == ""


@pytest.mark.parametrize(
    ("pc", "precision", "shown"),
    [(0.0, 0, "0"), (0.1, 0, "1"), (99.9, 0, "99"), (100.0, 0, "100"), (66.666, 2, "66.67")],
)
def test_display_never_rounds_to_0_or_100(pc: float, precision: int, shown: str) -> None:
    assert display_covered(pc, precision) == shown


def test_fail_under_uses_the_thresholds_own_precision() -> None:
    assert fail_under_reason(79.99, 80, 0) is None  # rounds to 80 at precision 0
    assert fail_under_reason(79.99, 80.0, 2) == "total of 79.99 is less than fail-under=80.00"
    assert fail_under_reason(80.04, 80.05, 0) == "total of 80.04 is less than fail-under=80.05"
    assert fail_under_reason(99.999, 100, 0) == "total of 99 is less than fail-under=100"
    assert fail_under_reason(100.0, 100, 0) is None
    assert fail_under_reason(10.0, 0, 0) is None


def test_numbers_add_and_percent() -> None:
    total = Numbers(1, 10, 0, 3) + Numbers(1, 0, 2, 0)
    assert (total.n_files, total.n_statements, total.n_excluded, total.n_executed) == (2, 10, 2, 7)
    assert total.pc_covered == 70.0
    assert Numbers().pc_covered == 100.0


def test_file_analysis_hits_count_statements_only() -> None:
    analysis = FileAnalysis(
        "/p/a.py", "a.py", frozenset({1, 2}), frozenset(), frozenset({1}), counts={1: 5, 3: 7}
    )
    assert analysis.hits == 5
    assert analysis.missing == {2}
    assert analysis.missing_formatted() == "2"
    assert FileAnalysis("/p", "p", frozenset(), frozenset(), frozenset()).hits == 0


def test_human_key_orders_numbers_numerically() -> None:
    assert sorted(["a10.py", "a2.py", "a1.py"], key=human_key) == ["a1.py", "a2.py", "a10.py"]
