"""The history store: one SQLite row per recorded run, the baseline, and when milestones fell.

Default `.tally/history.sqlite` (`[tally] history_file`). Every write is one transaction
taken with BEGIN IMMEDIATE and a busy timeout, so recorders running at once (CI shards,
xdist) queue rather than corrupt it. A store that can't be read is an error that names it
and says what to do; it is never silently reset.

Schema history (HISTORY_SCHEMA_VERSION):
    1: run, run_file, baseline, milestone, meta.
"""

from __future__ import annotations

import datetime
import os
import sqlite3
import sys
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass

from tally.analysis.results import Numbers
from tally.exceptions import DataError, NoDataError
from tally.track.summary import FileScore, Summary
from tally.types import LineNo

__all__ = ["HISTORY_SCHEMA_VERSION", "GitState", "History", "Run", "git_state"]

HISTORY_SCHEMA_VERSION = 1

_DDL = """
create table if not exists meta (
    key text primary key,
    value text
);
-- One row per recorded run: when, where in git, with what, and its totals.
create table if not exists run (
    id integer primary key,
    at text not null,                 -- ISO 8601, with the UTC offset
    git_commit text,                  -- null outside a git repository
    git_branch text,
    git_dirty integer,                -- 1: uncommitted changes to tracked files
    tally_version text,
    python_version text,
    statements integer not null,
    missing integer not null,
    branches integer not null,        -- branch ways (0 without branch coverage)
    partial integer not null,         -- branch lines with a way not taken
    missing_branches integer not null,
    has_branches integer not null,
    label text                        -- what was recorded: a data file, a report
);
-- Each run's files: their numbers and missing lines ("1-3,7"), for per-file deltas.
create table if not exists run_file (
    run_id integer not null references run (id),
    path text not null,
    statements integer not null,
    missing integer not null,
    branches integer not null,
    partial integer not null,
    missing_branches integer not null,
    missing_lines text not null,
    primary key (run_id, path)
);
-- The one baseline: a recorded run, and when it was made the baseline.
create table if not exists baseline (
    id integer primary key check (id = 1),
    run_id integer not null references run (id),
    set_at text not null
);
-- When each milestone (a total percentage) was first reached, and by which run.
create table if not exists milestone (
    threshold real primary key,
    run_id integer not null references run (id),
    reached_at text not null
);
"""


@dataclass(frozen=True)
class GitState:
    """Where in git a run was made."""

    commit: str | None = None
    branch: str | None = None
    dirty: bool | None = None


@dataclass(frozen=True)
class Run:
    """A recorded run: its id, its git state and versions, and its summary."""

    id: int
    summary: Summary
    git: GitState
    tally_version: str = ""
    python_version: str = ""


def git_state(cwd: str) -> GitState:
    """The commit, branch and dirty flag of the git checkout at `cwd` (empty outside one,
    or without git)."""
    import subprocess

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=30, check=False
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return GitState()
    branch = git("rev-parse", "--abbrev-ref", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no")
    return GitState(commit, branch, None if status is None else bool(status))


def now() -> str:
    """The time now, ISO 8601 with the local UTC offset, to the second."""
    return datetime.datetime.now().astimezone().isoformat(timespec="seconds")


class History:
    """The history store at `path`; opened (and made, for writing) on each use."""

    def __init__(self, path: str) -> None:
        self.path = path

    def exists(self) -> bool:
        return os.path.exists(self.path)

    @contextmanager
    def _connect(self, *, write: bool) -> Iterator[sqlite3.Connection]:
        """A connection in one transaction (immediate, for writing); every SQLite failure
        becomes one error naming the store."""
        if not write and not self.exists():
            raise NoDataError(
                f"no history store {self.path}: record a run first "
                "(`tally baseline set`, `tally history record`, or [tally] record_history)"
            )
        try:
            if write:
                os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        except OSError as err:
            raise DataError(f"can't open history store {self.path}: {err.strerror}") from None
        except sqlite3.Error as err:
            raise self._broken(err) from None
        with closing(conn):
            try:
                conn.execute("begin immediate" if write else "begin")
                self._check_schema(conn, write=write)
                yield conn
                conn.execute("commit")
            except sqlite3.Error as err:
                if conn.in_transaction:
                    conn.execute("rollback")
                raise self._broken(err) from None

    def _broken(self, err: sqlite3.Error) -> DataError:
        return DataError(
            f"history store {self.path} can't be read or written ({err}); it was left as it "
            "is: move it aside to start a new history, or restore it from a backup"
        )

    def _check_schema(self, conn: sqlite3.Connection, *, write: bool) -> None:
        tables = {r[0] for r in conn.execute("select name from sqlite_master where type='table'")}
        if "meta" not in tables:
            if tables or not write:
                raise DataError(
                    f"{self.path} is an SQLite database but not a tally history store; "
                    "point [tally] history_file somewhere else"
                )
            # Statement by statement: executescript() would commit the open transaction.
            for statement in filter(str.strip, _DDL.split(";")):
                conn.execute(statement)
            conn.execute(
                "insert into meta (key, value) values ('schema_version', ?)",
                (str(HISTORY_SCHEMA_VERSION),),
            )
            return
        row = conn.execute("select value from meta where key = 'schema_version'").fetchone()
        if row is None or row[0] != str(HISTORY_SCHEMA_VERSION):
            raise DataError(
                f"history store {self.path} has schema version {row[0] if row else None}; "
                f"this tally reads version {HISTORY_SCHEMA_VERSION}"
            )

    # -- writing -----------------------------------------------------------------------

    def record(
        self,
        summary: Summary,
        *,
        git: GitState | None = None,
        milestones: Sequence[float] = (),
        baseline: bool = False,
        force: bool = False,
    ) -> Run:
        """Add a run; note the `milestones` its total reaches for the first time. With
        `baseline`, make it the baseline too (refused when there is one, unless `force`)."""
        from tally.version import __version__

        git = git or GitState()
        at = summary.at or now()
        python = ".".join(map(str, sys.version_info[:3]))
        t = summary.totals
        with self._connect(write=True) as conn:
            if baseline and not force:
                old = conn.execute("select set_at from baseline").fetchone()
                if old is not None:
                    raise DataError(
                        f"a baseline was set at {old[0]}: use --force to replace it",
                        slug="baseline-exists",
                    )
            run_id = conn.execute(
                "insert into run (at, git_commit, git_branch, git_dirty, tally_version, "
                "python_version, statements, missing, branches, partial, missing_branches, "
                "has_branches, label) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    at,
                    git.commit,
                    git.branch,
                    None if git.dirty is None else int(git.dirty),
                    __version__,
                    python,
                    t.n_statements,
                    t.n_missing,
                    t.n_branches,
                    t.n_partial_branches,
                    t.n_missing_branches,
                    int(summary.has_branches),
                    summary.label,
                ),
            ).lastrowid
            assert run_id is not None
            conn.executemany(
                "insert into run_file (run_id, path, statements, missing, branches, partial, "
                "missing_branches, missing_lines) values (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    (
                        run_id,
                        path,
                        s.numbers.n_statements,
                        s.numbers.n_missing,
                        s.numbers.n_branches,
                        s.numbers.n_partial_branches,
                        s.numbers.n_missing_branches,
                        _pack_lines(s.missing_lines),
                    )
                    for path, s in summary.files.items()
                ),
            )
            for threshold in milestones:
                if summary.total_pc >= threshold:
                    conn.execute(
                        "insert or ignore into milestone (threshold, run_id, reached_at) "
                        "values (?, ?, ?)",
                        (float(threshold), run_id, at),
                    )
            if baseline:
                conn.execute(
                    "insert or replace into baseline (id, run_id, set_at) values (1, ?, ?)",
                    (run_id, now()),
                )
        return Run(run_id, summary, git, __version__, python)

    # -- reading -----------------------------------------------------------------------

    def runs(self, limit: int | None = None) -> list[Run]:
        """The recorded runs, oldest first; the last `limit` of them when given."""
        if not self.exists():
            return []
        with self._connect(write=False) as conn:
            query = "select id from run order by id desc" + (" limit ?" if limit else "")
            ids = [r[0] for r in conn.execute(query, (limit,) if limit else ())]
            return [self._run(conn, run_id) for run_id in reversed(ids)]

    def baseline(self) -> tuple[Run, str] | None:
        """The baseline run and when it was set; None without one."""
        if not self.exists():
            return None
        with self._connect(write=False) as conn:
            row = conn.execute("select run_id, set_at from baseline").fetchone()
            return None if row is None else (self._run(conn, row[0]), row[1])

    def milestones(self) -> dict[float, str]:
        """{milestone: when it was first reached}."""
        if not self.exists():
            return {}
        with self._connect(write=False) as conn:
            return dict(conn.execute("select threshold, reached_at from milestone"))

    @staticmethod
    def _run(conn: sqlite3.Connection, run_id: int) -> Run:
        row = conn.execute(
            "select at, git_commit, git_branch, git_dirty, tally_version, python_version, "
            "has_branches, label from run where id = ?",
            (run_id,),
        ).fetchone()
        at, commit, branch, dirty, version, python, has_branches, label = row
        files = {
            path: FileScore(
                Numbers(1, stmts, 0, missing, branches, partial, missing_branches), _lines(text)
            )
            for path, stmts, missing, branches, partial, missing_branches, text in conn.execute(
                "select path, statements, missing, branches, partial, missing_branches, "
                "missing_lines from run_file where run_id = ? order by path",
                (run_id,),
            )
        }
        summary = Summary(files, has_branches=bool(has_branches), at=at, label=label or "")
        git = GitState(commit, branch, None if dirty is None else bool(dirty))
        return Run(run_id, summary, git, version or "", python or "")


def _pack_lines(lines: Sequence[LineNo]) -> str:
    """Lines as ranges: (1, 2, 3, 7) is "1-3,7"."""
    parts: list[str] = []
    start = prev = None
    for line in lines:
        if prev is not None and line == prev + 1:
            prev = line
            continue
        if start is not None:
            parts.append(str(start) if start == prev else f"{start}-{prev}")
        start = prev = line
    if start is not None:
        parts.append(str(start) if start == prev else f"{start}-{prev}")
    return ",".join(parts)


def _lines(text: str) -> tuple[LineNo, ...]:
    lines: list[LineNo] = []
    for part in filter(None, text.split(",")):
        first, _, last = part.partition("-")
        lines.extend(range(int(first), int(last or first) + 1))
    return tuple(lines)
