"""Program running details and count derivations, tested directly."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tally.collect.counting import derive_case_counts
from tally.collect.program import Program, exit_status
from tally.exceptions import ProgramError


@pytest.mark.parametrize(("code", "status"), [(None, 0), (0, 0), (3, 3), (256 + 4, 4), (-1, 255)])
def test_exit_status_is_pythons(code: object, status: int) -> None:
    assert exit_status(code) == status


def test_exit_with_a_message_prints_it_and_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert exit_status("fatal: no config") == 1
    assert capsys.readouterr().err == "fatal: no config\n"


def test_nothing_to_run_is_a_program_error() -> None:
    with pytest.raises(ProgramError, match="nothing to run"):
        Program([])


def test_case_lines_count_how_often_they_were_tested(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text(
        textwrap.dedent("""\
        def f(v):
            match v:
                case 1:
                    return "one"
                case 2:
                    return "two"
                case _:
                    return "other"
        """)
    )
    # The match ran 10 times: case 1 entered 3 times, case 2 twice, the wildcard 5 times.
    counts = {2: 10, 3: 3, 4: 3, 5: 2, 6: 2, 7: 5, 8: 5}
    derive_case_counts(str(source), counts)
    assert (counts[3], counts[5], counts[7]) == (10, 7, 5)


def test_case_derivation_skips_files_without_match_or_unparsable(tmp_path: Path) -> None:
    plain = tmp_path / "p.py"
    plain.write_text("x = 1\n")
    counts = {1: 4}
    derive_case_counts(str(plain), counts)
    broken = tmp_path / "b.py"
    broken.write_text("match (:\n")
    derive_case_counts(str(broken), counts)
    derive_case_counts(str(tmp_path / "missing.py"), counts)
    assert counts == {1: 4}


def test_a_case_never_reached_gets_no_count(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text("match 1:\n    case 1:\n        pass\n    case 2:\n        pass\n")
    counts = {1: 1, 2: 1, 3: 1}
    derive_case_counts(str(source), counts)
    assert 4 not in counts and counts[2] == 1
