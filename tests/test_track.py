"""Keeping score: the comparison and gate policies, diff coverage, the score-keeping
commands and views (the history store itself: test_history.py)."""

from __future__ import annotations

import datetime
import io
import json
import subprocess
from pathlib import Path

import pytest
from support import pytest_run, run_tally, scored, write

from tally.exceptions import DataError
from tally.track.diff import _parse
from tally.track.history import History
from tally.track.policies import (
    Goal,
    compare,
    goal_progress,
    regression_reasons,
    threshold_reasons,
)
from tally.track.views import Style, sparkline

OLD = scored({"a.py": (10, (3, 4)), "b.py": (10, ()), "gone.py": (5, (1,))})
NEW = scored({"a.py": (10, (4, 7, 8)), "b.py": (10, ()), "new.py": (4, ())})


# -- policies ------------------------------------------------------------------------------


def test_a_comparison_lists_changed_added_and_removed_files() -> None:
    comparison = compare(OLD, NEW)
    assert [c.name for c in comparison.changed] == ["a.py"]
    assert comparison.changed[0].newly_uncovered == (7, 8)
    assert [c.name for c in comparison.added] == ["new.py"]
    assert [c.name for c in comparison.removed] == ["gone.py"]
    assert comparison.newly_uncovered == 2
    assert comparison.total_delta == pytest.approx(NEW.total_pc - OLD.total_pc)


def test_a_fall_beyond_the_tolerance_is_a_regression() -> None:
    old = scored({"a.py": (1000, tuple(range(1, 101)))})  # 90.0%
    slightly = scored({"a.py": (1000, tuple(range(1, 102)))})  # 89.9%
    assert regression_reasons(compare(old, slightly), tolerance=0.1) == []
    (reason,) = regression_reasons(compare(old, slightly))
    assert reason == "coverage fell from 90.0% to 89.9% (-0.1 points)"
    assert regression_reasons(compare(slightly, old)) == []


def test_branch_coverage_falling_is_a_regression_of_its_own() -> None:
    old = scored({"a.py": (10, ())}, branches=(10, 0))
    new = scored({"a.py": (12, ())}, branches=(10, 2))
    reasons = regression_reasons(compare(old, new))
    assert any(r.startswith("branch coverage fell from 100.0% to 80.0%") for r in reasons)


def test_thresholds_name_what_missed_them() -> None:
    low = scored({"a.py": (10, (1, 2, 3, 4, 5)), "b.py": (10, ())}, branches=(4, 2))
    reasons = threshold_reasons(low, total=80, branch=70, per_file=60)
    assert reasons == [
        "total of 70.8 is less than fail-under=80.0",
        "branch coverage of 50.0 is less than fail-under=70.0",
        "a.py: coverage of 50.0 is less than fail-under=60.0",
    ]
    assert threshold_reasons(low, total=70) == []
    no_branches = scored({"a.py": (10, ())})
    (reason,) = threshold_reasons(no_branches, branch=50)
    assert "needs branch data" in reason


def test_goals_say_how_far_and_how_long() -> None:
    now = scored({"a.py": (100, tuple(range(1, 31)))}, branches=(10, 0))
    goals = [Goal("line", 80, datetime.date(2027, 3, 31)), Goal("branch", 70)]
    line, branch = goal_progress(goals, now, datetime.date(2027, 3, 1))
    assert (line.current, line.reached, line.to_go, line.days_left) == (70.0, False, 10.0, 30)
    assert (branch.current, branch.reached, branch.to_go) == (100.0, True, 0.0)


# -- diff ----------------------------------------------------------------------------------


def test_a_unified_zero_diff_gives_the_added_lines(tmp_path: Path) -> None:
    diff = """\
diff --git a/pkg/mod.py b/pkg/mod.py
--- a/pkg/mod.py
+++ b/pkg/mod.py
@@ -3,0 +4,2 @@ def f():
+    x = 1
+    y = 2
@@ -10 +12 @@ def g():
-    old
+    new
@@ -20,3 +22,0 @@ def h():
diff --git a/old name.py b/new name.py
similarity index 90%
rename from old name.py
rename to new name.py
--- a/old name.py
+++ b/new name.py
@@ -1 +1 @@
-a
+b
diff --git a/gone.py b/gone.py
--- a/gone.py
+++ /dev/null
@@ -1 +0,0 @@
"""
    changed = _parse(diff.splitlines(), str(tmp_path))
    assert changed == {
        str(tmp_path / "pkg" / "mod.py"): {4, 5, 12},
        str(tmp_path / "new name.py"): {1},
    }


# -- the commands --------------------------------------------------------------------------

PROGRAM = """\
import sys

def f(x):
    if x > 0:
        return "positive"
    return "other"

for arg in sys.argv[1:]:
    f(int(arg))
"""


def measure(root: Path, *args: str) -> None:
    result = run_tally("run", "--branch", "prog.py", *args, cwd=root)
    assert result.returncode == 0, result.stderr


def test_record_history_records_each_tally_run(tmp_path: Path) -> None:
    write(tmp_path / "prog.py", PROGRAM)
    write(tmp_path / ".coveragerc", "[tally]\nrecord_history = true\n")
    measure(tmp_path, "1")
    measure(tmp_path, "1", "-1")
    runs = History(str(tmp_path / ".tally" / "history.sqlite")).runs()
    assert [r.summary.totals.n_missing for r in runs] == [1, 0]
    assert runs[0].summary.branch_pc == 75.0 and runs[1].summary.branch_pc == 100.0
    result = run_tally("history", cwd=tmp_path)
    assert result.returncode == 0
    assert "↑" in result.stdout and "Branches" in result.stdout


def test_record_history_records_a_pytest_run(tmp_path: Path) -> None:
    write(tmp_path / "mod.py", "def f(x):\n    return x\n\n\ndef g(x):\n    return -x\n")
    write(tmp_path / "test_prog.py", "from mod import f\n\n\ndef test_f():\n    assert f(1)\n")
    write(tmp_path / ".coveragerc", "[tally]\nrecord_history = true\n")
    result = pytest_run(tmp_path, "-q", "--tally=.", "test_prog.py")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "tally: recorded run 1 in .tally/history.sqlite" in result.stdout
    assert len(History(str(tmp_path / ".tally" / "history.sqlite")).runs()) == 1


def test_compare_reads_json_reports_and_data_files_alike(tmp_path: Path) -> None:
    write(tmp_path / "prog.py", PROGRAM)
    measure(tmp_path, "1", "-1")
    assert run_tally("json", "-o", "full.json", cwd=tmp_path).returncode == 0
    (tmp_path / ".coverage").rename(tmp_path / "full.coverage")
    measure(tmp_path, "1")
    both = run_tally("compare", "--old", "full.json", "--new", ".coverage", cwd=tmp_path)
    assert both.returncode == 1  # a regression: exit 1
    assert "full.json → .coverage" in both.stdout
    assert "Regression: coverage fell from 100.0% to 81.8% (-18.2 points); branch" in both.stdout
    back = run_tally("compare", "--old", ".coverage", "--new", "full.coverage", cwd=tmp_path)
    assert back.returncode == 0
    assert "Coverage improved by 18.2 points." in back.stdout
    tolerated = run_tally(
        "compare", "--old", "full.json", "--new", ".coverage", "--tolerance", "30", cwd=tmp_path
    )
    assert tolerated.returncode == 0


def test_the_progress_report_is_json_with_everything(tmp_path: Path) -> None:
    write(tmp_path / "prog.py", PROGRAM)
    write(tmp_path / ".coveragerc", "[tally]\ngoal = 90\ngoal_date = 2099-01-01\n")
    measure(tmp_path, "1")
    assert run_tally("baseline", "set", cwd=tmp_path).returncode == 0
    again = run_tally("baseline", "set", cwd=tmp_path)
    assert again.returncode == 1
    assert again.stderr.startswith("tally: a baseline was set at ")
    assert "use --force" in again.stderr
    result = run_tally("baseline", "report", "out/progress.json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    doc = json.loads((tmp_path / "out" / "progress.json").read_text())
    assert doc["baseline"]["percent_covered"] == pytest.approx(100 * 9 / 11)
    assert doc["current"]["statements"] == 7
    (goal,) = doc["goals"]
    assert goal["target"] == 90.0 and goal["reached"] is False and goal["by"] == "2099-01-01"
    assert [m["percent"] for m in doc["milestones"]] == [40.0, 60.0, 80.0]
    assert all(m["reached_at"] for m in doc["milestones"])  # 81.8% reached all three
    assert doc["comparison_with_baseline"]["regression"] is False


def test_a_corrupt_history_store_is_one_line_and_exit_1(tmp_path: Path) -> None:
    write(tmp_path / "prog.py", PROGRAM)
    measure(tmp_path, "1")
    (tmp_path / ".tally").mkdir()
    (tmp_path / ".tally" / "history.sqlite").write_bytes(b"\x00garbage" * 512)
    for args in (("history",), ("baseline", "status"), ("history", "record")):
        result = run_tally(*args, cwd=tmp_path)
        assert result.returncode == 1, args
        assert result.stderr.startswith("tally: history store .tally/history.sqlite can't be")
        assert len(result.stderr.strip().splitlines()) == 1
    assert (tmp_path / ".tally" / "history.sqlite").read_bytes() == b"\x00garbage" * 512


def test_diff_outside_git_or_with_an_unknown_ref_says_so(tmp_path: Path) -> None:
    write(tmp_path / "prog.py", PROGRAM)
    measure(tmp_path, "1")
    outside = run_tally("diff", "--base", "main", cwd=tmp_path)
    assert outside.returncode == 1
    assert "is not in a git repository" in outside.stderr
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=tmp_path, check=True)
    unknown = run_tally("diff", "--base", "origin/nope", cwd=tmp_path)
    assert unknown.returncode == 1
    assert unknown.stderr.startswith("tally: git can't find 'origin/nope'")


def test_colour_only_on_a_terminal_and_never_with_no_color(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    assert Style.for_stream("text", 1, Terminal()).colour
    assert "\x1b[32m↑ 2.0 points" in Style.for_stream("text", 1, Terminal()).delta(2.0)
    assert not Style.for_stream("text", 1, io.StringIO()).colour
    assert not Style.for_stream("markdown", 1, Terminal()).colour
    monkeypatch.setenv("NO_COLOR", "1")
    assert not Style.for_stream("text", 1, Terminal()).colour
    assert Style.for_stream("text", 1, Terminal()).delta(-2.0) == "↓ 2.0 points"


def test_sparklines_span_the_range_they_show() -> None:
    assert sparkline([50.0, 75.0, 100.0]) == "▁▅█"
    assert sparkline([80.0, 80.0]) == "▄▄"


def test_the_pytest_plugin_fails_a_run_whose_coverage_fell(tmp_path: Path) -> None:
    """--tally-no-regression: the policy `tally check --no-regression` applies, in pytest."""
    write(tmp_path / "mod.py", "def f(x):\n    return x\n\n\ndef g(x):\n    return -x\n")
    write(tmp_path / "test_f.py", "from mod import f\n\n\ndef test_f():\n    assert f(1)\n")
    write(tmp_path / "test_g.py", "from mod import g\n\n\ndef test_g():\n    assert g(1)\n")

    def gated_run(*tests: str) -> subprocess.CompletedProcess[str]:
        return pytest_run(
            tmp_path, "-q", "--tally=.", "--tally-report=", "--tally-no-regression", *tests
        )

    first = gated_run("test_f.py", "test_g.py")
    assert first.returncode == 1  # nothing recorded yet: the gate can't pass
    assert "can't check for a regression: nothing to compare with" in first.stdout
    assert run_tally("baseline", "set", cwd=tmp_path).returncode == 0
    same = gated_run("test_f.py", "test_g.py")
    assert same.returncode == 0, same.stdout
    fewer = gated_run("test_f.py")
    assert fewer.returncode == 1
    assert "tally: coverage failure: coverage fell from 100.0% to" in fewer.stdout


def test_a_file_that_is_not_a_json_report_is_named_in_one_line(tmp_path: Path) -> None:
    from tally.track.summary import summary_from_json

    (tmp_path / "text.json").write_text("not json at all")
    (tmp_path / "other.json").write_text('{"some": "thing"}')
    with pytest.raises(DataError, match=r"can't read .*missing\.json: No such file"):
        summary_from_json(str(tmp_path / "missing.json"))
    with pytest.raises(DataError, match=r"text\.json is not a JSON report"):
        summary_from_json(str(tmp_path / "text.json"))
    with pytest.raises(DataError, match=r"other\.json is JSON but not a coverage JSON report"):
        summary_from_json(str(tmp_path / "other.json"))
