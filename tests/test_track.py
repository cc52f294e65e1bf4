"""Keeping score: the history store, the comparison and gate policies, diff coverage."""

from __future__ import annotations

import datetime
import sqlite3
import subprocess
from pathlib import Path

import pytest
from support import PY

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


def summary(
    files: dict[str, tuple[int, tuple[int, ...]]], *, branches: tuple[int, int] | None = None
) -> Summary:
    """A summary of files {name: (statements, missing lines)}; `branches` (ways, missing
    ways) go to the first file."""
    scores = {}
    for i, (name, (statements, missing)) in enumerate(files.items()):
        ways, missed = branches if branches and i == 0 else (0, 0)
        scores[name] = FileScore(
            statements, len(missing), ways, min(missed, 1), missed, tuple(sorted(missing))
        )
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
    assert [r.summary.totals.missing for r in store.runs()] == [0, 1, 2, 3, 4]
    assert [r.summary.totals.missing for r in store.runs(limit=2)] == [3, 4]


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
    with sqlite3.connect(path) as conn:
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
from tally.track.summary import FileScore, Summary

store = History(sys.argv[1])
for i in range(5):
    score = FileScore(10, i, missing_lines=tuple(range(1, i + 1)))
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
    with sqlite3.connect(path) as conn:
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
