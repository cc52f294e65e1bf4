"""The history store (track/history.py): one row per recorded run, the baseline, the
milestones, and what it does with a file that is not a store."""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
from pathlib import Path

import pytest
from support import PY, scored

from tally.exceptions import DataError, NoDataError
from tally.track.history import GitState, History, _lines, _pack_lines
from tally.track.summary import Summary

OLD = scored({"a.py": (10, (3, 4)), "b.py": (10, ()), "gone.py": (5, (1,))})
NEW = scored({"a.py": (10, (4, 7, 8)), "b.py": (10, ()), "new.py": (4, ())})


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
        store.record(scored({"a.py": (10, tuple(range(1, n + 1)))}))
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
    half = scored({"a.py": (10, (1, 2, 3, 4, 5))})  # 50%
    most = scored({"a.py": (10, (1,))})  # 90%
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
