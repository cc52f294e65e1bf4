"""Keeping score: the history store, the comparison and gate policies, diff coverage."""

from __future__ import annotations

import contextlib
import datetime
import io
import json
import sqlite3
import subprocess
from pathlib import Path

import pytest
from support import PY, pytest_run, run_tally, write

from tally.analysis.results import Numbers
from tally.exceptions import DataError, NoDataError
from tally.track.diff import _parse
from tally.track.history import GitState, History, _lines, _pack_lines
from tally.track.policies import (
    Goal,
    compare,
    goal_progress,
    regression_reasons,
    threshold_reasons,
)
from tally.track.summary import FileScore, Summary
from tally.track.views import Style, sparkline


def summary(
    files: dict[str, tuple[int, tuple[int, ...]]], *, branches: tuple[int, int] | None = None
) -> Summary:
    """A summary of files {name: (statements, missing lines)}; `branches` (ways, missing
    ways) go to the first file."""
    scores = {}
    for i, (name, (statements, missing)) in enumerate(files.items()):
        ways, missed = branches if branches and i == 0 else (0, 0)
        numbers = Numbers(1, statements, 0, len(missing), ways, min(missed, 1), missed)
        scores[name] = FileScore(numbers, tuple(sorted(missing)))
    return Summary(scores, has_branches=branches is not None)


OLD = summary({"a.py": (10, (3, 4)), "b.py": (10, ()), "gone.py": (5, (1,))})
NEW = summary({"a.py": (10, (4, 7, 8)), "b.py": (10, ()), "new.py": (4, ())})


# -- the store -----------------------------------------------------------------------------


def test_a_recorded_run_reads_back_as_it_was(tmp_path: Path) -> None:
    store = History(str(tmp_path / ".tally" / "history.sqlite"))
    git = GitState("abc123", "main", True)
    run = store.record(OLD, git=git)
    (back,) = store.runs()
    assert back.id == run.id
    assert back.git == git
    assert dict(back.summary.files) == dict(OLD.files)
    assert back.summary.total_pc == OLD.total_pc
    assert back.summary.at  # stamped when recorded


def test_runs_come_oldest_first_and_limit_keeps_the_latest(tmp_path: Path) -> None:
    store = History(str(tmp_path / "h.sqlite"))
    for n in range(5):
        store.record(summary({"a.py": (10, tuple(range(1, n + 1)))}))
    assert [r.summary.totals.n_missing for r in store.runs()] == [0, 1, 2, 3, 4]
    assert [r.summary.totals.n_missing for r in store.runs(limit=2)] == [3, 4]


def test_the_baseline_is_not_overwritten_without_force(tmp_path: Path) -> None:
    store = History(str(tmp_path / "h.sqlite"))
    first = store.record(OLD, baseline=True)
    with pytest.raises(DataError, match="use --force to replace it"):
        store.record(NEW, baseline=True)
    assert len(store.runs()) == 1  # the refused run wasn't recorded either
    baseline = store.baseline()
    assert baseline is not None and baseline[0].id == first.id
    second = store.record(NEW, baseline=True, force=True)
    baseline = store.baseline()
    assert baseline is not None and baseline[0].id == second.id


def test_milestones_keep_the_date_they_were_first_reached(tmp_path: Path) -> None:
    store = History(str(tmp_path / "h.sqlite"))
    half = summary({"a.py": (10, (1, 2, 3, 4, 5))})  # 50%
    most = summary({"a.py": (10, (1,))})  # 90%
    store.record(Summary(half.files, at="2026-01-01T10:00:00+00:00"), milestones=[40, 60, 80])
    store.record(Summary(most.files, at="2026-02-01T10:00:00+00:00"), milestones=[40, 60, 80])
    store.record(Summary(most.files, at="2026-03-01T10:00:00+00:00"), milestones=[40, 60, 80])
    assert store.milestones() == {
        40.0: "2026-01-01T10:00:00+00:00",
        60.0: "2026-02-01T10:00:00+00:00",
        80.0: "2026-02-01T10:00:00+00:00",
    }


def test_a_corrupt_store_is_an_error_and_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    path.write_bytes(b"this is not a database, but someone's precious file" * 100)
    before = path.read_bytes()
    store = History(str(path))
    with pytest.raises(DataError, match=r"history store .*h\.sqlite can't be read or written"):
        store.runs()
    with pytest.raises(DataError, match="move it aside"):
        store.record(OLD)
    assert path.read_bytes() == before


def test_another_sqlite_database_is_not_taken_for_a_store(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite"
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("create table precious (x)")
    with pytest.raises(DataError, match="not a tally history store"):
        History(str(path)).record(OLD)


def test_reading_a_missing_store_says_how_to_make_one(tmp_path: Path) -> None:
    store = History(str(tmp_path / "none.sqlite"))
    assert store.runs() == []
    assert store.baseline() is None
    with pytest.raises(NoDataError, match="record a run first"), store._connect(write=False):
        pass


RECORDER = """\
import sys
from tally.track.history import History
from tally.analysis.results import Numbers
from tally.track.summary import FileScore, Summary

store = History(sys.argv[1])
for i in range(5):
    score = FileScore(Numbers(1, 10, 0, i), missing_lines=tuple(range(1, i + 1)))
    store.record(Summary({f"w{sys.argv[2]}.py": score}))
"""


def test_recorders_running_at_once_all_get_their_runs_in(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    script = tmp_path / "recorder.py"
    script.write_text(RECORDER)
    procs = [subprocess.Popen([PY, str(script), str(path), str(n)]) for n in range(8)]
    assert [p.wait(timeout=120) for p in procs] == [0] * 8
    runs = History(str(path)).runs()
    assert len(runs) == 40
    assert {name for r in runs for name in r.summary.files} == {f"w{n}.py" for n in range(8)}
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        assert conn.execute("pragma integrity_check").fetchone() == ("ok",)


@pytest.mark.parametrize(
    ("lines", "text"), [((), ""), ((7,), "7"), ((1, 2, 3, 7, 9, 10), "1-3,7,9-10")]
)
def test_missing_lines_are_stored_as_ranges(lines: tuple[int, ...], text: str) -> None:
    assert _pack_lines(lines) == text
    assert _lines(text) == lines


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
    old = summary({"a.py": (1000, tuple(range(1, 101)))})  # 90.0%
    slightly = summary({"a.py": (1000, tuple(range(1, 102)))})  # 89.9%
    assert regression_reasons(compare(old, slightly), tolerance=0.1) == []
    (reason,) = regression_reasons(compare(old, slightly))
    assert reason == "coverage fell from 90.0% to 89.9% (-0.1 points)"
    assert regression_reasons(compare(slightly, old)) == []


def test_branch_coverage_falling_is_a_regression_of_its_own() -> None:
    old = summary({"a.py": (10, ())}, branches=(10, 0))
    new = summary({"a.py": (12, ())}, branches=(10, 2))
    reasons = regression_reasons(compare(old, new))
    assert any(r.startswith("branch coverage fell from 100.0% to 80.0%") for r in reasons)


def test_thresholds_name_what_missed_them() -> None:
    low = summary({"a.py": (10, (1, 2, 3, 4, 5)), "b.py": (10, ())}, branches=(4, 2))
    reasons = threshold_reasons(low, total=80, branch=70, per_file=60)
    assert reasons == [
        "total of 70.8 is less than fail-under=80.0",
        "branch coverage of 50.0 is less than fail-under=70.0",
        "a.py: coverage of 50.0 is less than fail-under=60.0",
    ]
    assert threshold_reasons(low, total=70) == []
    no_branches = summary({"a.py": (10, ())})
    (reason,) = threshold_reasons(no_branches, branch=50)
    assert "needs branch data" in reason


def test_goals_say_how_far_and_how_long() -> None:
    now = summary({"a.py": (100, tuple(range(1, 31)))}, branches=(10, 0))
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
