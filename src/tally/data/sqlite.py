"""Read and write `.coverage` data files: atomic writes, clear errors for bad files."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Mapping
from typing import Any

from tally.data.numbits import numbits_to_nums, nums_to_numbits, pack_counts, unpack_counts
from tally.data.schema import COVERAGE_SCHEMA_VERSION, DDL, TALLY_SCHEMA_VERSION
from tally.exceptions import DataError, NoDataError
from tally.measurement import Measurement, copy_part
from tally.types import Arc, Count, LineNo

__all__ = [
    "CoverageData",
    "StoredData",
    "arc_rows_measurement",
    "arc_table_rows",
    "read_stored",
    "stored_of",
    "write_data",
]


def _connect_readonly(path: str) -> Any:
    import sqlite3
    from pathlib import Path

    uri = Path(os.path.abspath(path)).as_uri() + "?mode=ro"
    return sqlite3.connect(uri, uri=True)


class StoredData:
    """A data file's tables as stored: per file path, its line sets still packed as
    numbits and its counts as counts blobs (one of each per context), and its arcs.
    Reading stops there so that `combine` can add files without decoding every line."""

    __slots__ = (
        "arc_lines",
        "arcs",
        "context_arcs",
        "context_lines",
        "contexts_apart",
        "count_blobs",
        "line_blobs",
        "meta",
        "paths",
    )

    def __init__(self) -> None:
        self.meta: dict[str, str] = {}
        self.paths: list[str] = []
        self.line_blobs: dict[str, list[bytes]] = {}
        self.count_blobs: dict[str, list[bytes]] = {}
        self.arc_lines: dict[str, set[LineNo]] = {}  # lines a branch-measured file ran
        self.arcs: dict[str, dict[Arc, Count]] = {}
        # With contexts other than '': per context, per file, its numbits (line data) or
        # its arc rows, (n, n) for "line n ran" included (branch data).
        self.context_lines: dict[str, dict[str, bytes]] = {}
        self.context_arcs: dict[str, dict[str, set[Arc]]] = {}
        self.contexts_apart = False  # the file has contexts other than '' (read or not)

    def has_arcs(self) -> bool:
        return self.meta.get("has_arcs") == "1"

    def has_counts(self) -> bool:
        return self.meta.get("tally_counts") == "1" or bool(self.count_blobs)


def read_stored(path: str, *, contexts: bool = True) -> StoredData:
    """Read the data file at `path` as stored; each context's lines and arcs too unless
    `contexts` is off. Raises NoDataError when it doesn't exist and DataError when it
    isn't a readable coverage data file of schema 7."""
    if not os.path.exists(path):
        raise NoDataError(f"no data file {path}: run `tally run` first")
    import sqlite3

    if os.path.isdir(path):
        raise DataError(f"data file {path} is a directory, not a coverage data file")
    try:
        conn = _connect_readonly(path)
        try:
            return _read_tables(conn, path, contexts=contexts)
        finally:
            conn.close()
    except sqlite3.DatabaseError as err:
        raise DataError(
            f"couldn't read data file {path}: {err} (corrupt, truncated or not a "
            "coverage data file; delete it with `tally erase` and measure again)"
        ) from None
    except ValueError as err:
        raise DataError(f"couldn't read data file {path}: {err}") from None


def _read_tables(conn: Any, path: str, *, contexts: bool) -> StoredData:
    tables = {r[0] for r in conn.execute("select name from sqlite_master where type='table'")}
    if "coverage_schema" not in tables:
        raise DataError(
            f"data file {path} is an SQLite database but not coverage "
            "data (no coverage_schema table)"
        )
    row = conn.execute("select version from coverage_schema").fetchone()
    if row is None or row[0] != COVERAGE_SCHEMA_VERSION:
        found = None if row is None else row[0]
        raise DataError(
            f"data file {path} has schema version {found}; tally reads "
            f"version {COVERAGE_SCHEMA_VERSION} (coverage.py 5.x-7.x)"
        )
    stored = StoredData()
    stored.meta = dict(conn.execute("select key, value from meta"))
    files = dict(conn.execute("select id, path from file"))
    stored.paths = list(files.values())
    names: dict[int, str] = dict(conn.execute("select id, context from context"))
    # Only a file with contexts other than '' keeps them apart.
    stored.contexts_apart = any(names.values())
    split = contexts and stored.contexts_apart
    query = "select file_id, context_id, numbits from line_bits"
    for file_id, context_id, blob in conn.execute(query):
        stored.line_blobs.setdefault(files[file_id], []).append(blob)
        if split:
            stored.context_lines.setdefault(names.get(context_id, ""), {})[files[file_id]] = blob
    if "arc" in tables:
        query = "select file_id, context_id, fromno, tono from arc"
        if not split:  # each arc once, whatever contexts it was taken in (SQLite's work)
            query = "select distinct file_id, 0, fromno, tono from arc"
        for file_id, context_id, fromno, tono in conn.execute(query):
            name = files[file_id]
            stored.arc_lines.setdefault(name, set()).update(n for n in (fromno, tono) if n > 0)
            if fromno != tono:  # (n, n) records only that line n ran
                stored.arcs.setdefault(name, {}).setdefault((fromno, tono), 0)
            if split:
                in_context = stored.context_arcs.setdefault(names.get(context_id, ""), {})
                in_context.setdefault(name, set()).add((fromno, tono))
    if "tally_arc_counts" in tables:
        query = "select file_id, fromno, tono, count from tally_arc_counts"
        for file_id, fromno, tono, n in conn.execute(query):
            taken = stored.arcs.setdefault(files[file_id], {})
            taken[(fromno, tono)] = taken.get((fromno, tono), 0) + n
    if "tally_counts" in tables:
        for file_id, blob in conn.execute("select file_id, counts from tally_counts"):
            stored.count_blobs.setdefault(files[file_id], []).append(blob)
    return stored


def _context_parts(stored: StoredData) -> dict[str, Measurement]:
    """A stored file's contexts, each a Measurement of its lines (and arcs)."""
    parts: dict[str, Measurement] = {}
    for name, by_file in stored.context_lines.items():
        parts[name] = Measurement({p: set(numbits_to_nums(b)) for p, b in by_file.items()})
    for name, arc_rows in stored.context_arcs.items():
        parts[name] = arc_rows_measurement(arc_rows)
    return parts


def stored_of(measured: Measurement) -> StoredData:
    """A measurement as reading its data file would give it back, without the file: what
    `combine` adds when this process's data goes straight into the combined file."""
    stored = StoredData()
    branch = measured.arcs is not None
    stored.meta = {**measured.meta, "has_arcs": "1" if branch else "0"}
    stored.meta["tally_counts"] = "1" if measured.counts is not None else "0"
    stored.paths = list(measured.lines)
    for path, lines in measured.lines.items():
        if branch:
            stored.arc_lines[path] = set(lines)
        else:
            stored.line_blobs[path] = [nums_to_numbits(lines)]
    if measured.arcs is not None:
        stored.arcs = {path: dict(taken) for path, taken in measured.arcs.items() if taken}
    if measured.counts is not None:
        for path, counts in measured.counts.items():
            if counts:
                stored.count_blobs[path] = [pack_counts(counts)]
    # As reading does: contexts are kept apart only when one is other than ''.
    stored.contexts_apart = any(measured.contexts)
    for name, part in measured.contexts.items() if stored.contexts_apart else ():
        for path, lines in part.lines.items():
            if branch:
                rows = arc_table_rows(lines, _arcs_in(part, path))
                stored.context_arcs.setdefault(name, {})[path] = rows
            else:
                stored.context_lines.setdefault(name, {})[path] = nums_to_numbits(lines)
    return stored


def arc_rows_measurement(arc_rows: Mapping[str, set[Arc]]) -> Measurement:
    """Branch data as the `arc` table holds it, per file, as a Measurement: (n, n) rows
    are the lines that ran, the others the arcs taken."""
    lines = {path: {n for row in rows for n in row if n > 0} for path, rows in arc_rows.items()}
    arcs = {
        path: dict.fromkeys((r for r in rows if r[0] != r[1]), 0) for path, rows in arc_rows.items()
    }
    return Measurement(lines, None, None, arcs)


def _add_counts_into(mine: dict[LineNo, Count], blob: bytes) -> None:
    """Add the counts packed in `blob` into `mine`."""
    for line, n in unpack_counts(blob).items():
        mine[line] = mine.get(line, 0) + n


class CoverageData:
    """A data file, read when opened; what ran in each context is read (again) only
    when first asked for.

    `CoverageData(".coverage")` raises NoDataError when the file doesn't exist and
    DataError when it isn't a readable coverage data file of schema 7.
    """

    def __init__(self, path: str | os.PathLike[str] = ".coverage") -> None:
        self.path = os.fspath(path)
        stored = read_stored(self.path, contexts=False)
        self._meta = stored.meta
        self._arcs = stored.arcs
        self._lines: dict[str, set[LineNo]] = stored.arc_lines
        for name, blobs in stored.line_blobs.items():
            found = self._lines.setdefault(name, set())
            for blob in blobs:
                found.update(numbits_to_nums(blob))
        self._counts: dict[str, dict[LineNo, Count]] = {}
        try:
            for name, blobs in stored.count_blobs.items():
                mine = self._counts[name] = unpack_counts(blobs[0])
                for blob in blobs[1:]:
                    _add_counts_into(mine, blob)
        except ValueError as err:
            raise DataError(f"couldn't read data file {self.path}: {err}") from None
        for name in stored.paths:
            self._lines.setdefault(name, set())
        # Read when first asked for: most reports never look at contexts, and a test
        # suite's thousands of them took longer to read than everything else.
        self._has_contexts = stored.contexts_apart
        self._read_contexts: dict[str, Measurement] | None = None if self._has_contexts else {}

    @property
    def _contexts(self) -> dict[str, Measurement]:
        if self._read_contexts is None:
            self._read_contexts = _context_parts(read_stored(self.path))
        return self._read_contexts

    def measured_files(self) -> list[str]:
        """The files with data, sorted."""
        return sorted(self._lines)

    def lines(self, path: str) -> list[LineNo] | None:
        """The executed lines of `path`, sorted; None when the file wasn't measured."""
        lines = self._lines.get(path)
        return None if lines is None else sorted(lines)

    def counts(self, path: str) -> dict[LineNo, Count]:
        """{line: times it began executing} for `path`; empty when counts weren't measured."""
        return dict(self._counts.get(path, {}))

    def has_arcs(self) -> bool:
        """Was branch coverage measured (coverage.py's has_arcs)?"""
        return self._meta.get("has_arcs") == "1"

    def arcs(self, path: str) -> list[Arc] | None:
        """The branch arcs taken in `path`, sorted; None without branch data for it."""
        if not self.has_arcs() or path not in self._lines:
            return None
        return sorted(self._arcs.get(path, {}))

    def arc_counts(self, path: str) -> dict[Arc, Count]:
        """{arc: times taken} for `path`; empty unless counts and branches were measured."""
        if not self.has_counts():
            return {}
        return dict(self._arcs.get(path, {}))

    def has_counts(self) -> bool:
        """Were execution counts measured?"""
        return self._meta.get("tally_counts") == "1" or bool(self._counts)

    def meta(self) -> dict[str, str]:
        """The file's meta table: versions, engine, what was measured."""
        return dict(self._meta)

    def has_contexts(self) -> bool:
        """Were lines recorded in contexts other than the default ''?"""
        return self._has_contexts

    def measured_contexts(self) -> list[str]:
        """The contexts the data was recorded in, sorted (only '' without per-test
        contexts)."""
        return sorted(self._contexts) if self._contexts else [""]

    def contexts_by_line(self, path: str) -> dict[LineNo, list[str]]:
        """{line: the contexts it ran in, sorted} for `path`, as coverage.py's
        contexts_by_lineno (lines that ran only in the default context have [''])."""
        found: dict[LineNo, list[str]] = {}
        for name, part in sorted(self._contexts.items()):
            for line in part.lines.get(path, ()):
                found.setdefault(line, []).append(name)
        if not self._contexts:
            for line in self._lines.get(path, ()):
                found[line] = [""]
        return found

    def measurement(self) -> Measurement:
        """Everything in this file, as a Measurement that can be added to."""
        counts = {p: dict(c) for p, c in self._counts.items()} if self.has_counts() else None
        arcs = None
        if self.has_arcs():
            arcs = {p: dict(self._arcs.get(p, {})) for p in self._lines}
        lines = {p: set(s) for p, s in self._lines.items()}
        contexts = {name: copy_part(part) for name, part in self._contexts.items()}
        return Measurement(lines, counts, dict(self._meta), arcs, contexts)


def write_data(path: str, measurement: Measurement, *, append: bool = False) -> None:
    """Write `measurement` to `path` atomically (a new file renamed over the old one).

    With `append`, the existing file's data is added in first. A reader never sees a half
    written file, and a crash while writing leaves the old file as it was.
    """
    import sqlite3
    import tempfile

    path = os.path.abspath(path)
    if append and os.path.exists(path):
        combined = CoverageData(path).measurement()
        combined.update(measurement)
        combined.meta.update(measurement.meta)
        measurement = combined
    directory = os.path.dirname(path)
    try:
        os.makedirs(directory, exist_ok=True)
        fd, temp = tempfile.mkstemp(
            prefix=os.path.basename(path) + ".", suffix=".tmp", dir=directory
        )
    except OSError as err:
        raise DataError(f"can't write data file {path}: {err.strerror}") from None
    os.close(fd)
    try:
        _write_sqlite(temp, measurement)
        os.replace(temp, path)
    except (OSError, sqlite3.Error) as err:
        message = getattr(err, "strerror", None) or str(err)
        raise DataError(f"can't write data file {path}: {message}") from None
    finally:
        if os.path.exists(temp):
            os.remove(temp)


def _write_sqlite(temp: str, m: Measurement) -> None:
    import datetime
    import sqlite3

    meta = {
        "has_arcs": "0",
        "version": _tally_version(),
        "when": datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S"),
        "sys_argv": str(getattr(sys, "argv", None)),
        "tally_schema": str(TALLY_SCHEMA_VERSION),
        "tally_version": _tally_version(),
        "python_version": ".".join(map(str, sys.version_info[:3])),
    }
    meta.update(m.meta)
    # What this file holds, whatever the measurements it was made from said, and an id of
    # its own: two runs' files never look like copies of one file to `combine`.
    meta["tally_counts"] = "1" if m.counts is not None else "0"
    meta["has_arcs"] = meta["tally_branches"] = "1" if m.arcs is not None else "0"
    meta["tally_file_id"] = os.urandom(8).hex()
    conn = sqlite3.connect(temp)
    try:
        # A fresh private file: no journal needed; we fsync before the rename instead.
        conn.execute("pragma journal_mode = off")
        conn.execute("pragma synchronous = off")
        conn.executescript(DDL)
        with conn:
            conn.execute(
                "insert into coverage_schema (version) values (?)", (COVERAGE_SCHEMA_VERSION,)
            )
            conn.executemany("insert into meta (key, value) values (?, ?)", meta.items())
            parts = m.context_parts()
            names = ["", *sorted(name for name in parts if name)]  # '' is always id 1
            conn.executemany(
                "insert into context (id, context) values (?, ?)", enumerate(names, start=1)
            )
            paths = sorted(m.lines)
            conn.executemany("insert into file (id, path) values (?, ?)", enumerate(paths, start=1))
            conn.executemany(
                "insert into tracer (file_id, tracer) values (?, '')",
                ((i,) for i in range(1, len(paths) + 1)),
            )
            # Each file's contexts, found once: a run with per-test contexts has tens of
            # thousands of them, each holding a few of the files.
            in_contexts: dict[str, list[tuple[int, Measurement]]] = {}
            for context_id, name in enumerate(names, start=1):
                part = parts.get(name)
                if part is not None:
                    for path in part.lines:
                        in_contexts.setdefault(path, []).append((context_id, part))
            # One pass over the files: a measurement may work each file out when asked.
            for file_id, path in enumerate(paths, start=1):
                holders = in_contexts.get(path, [])
                if m.arcs is not None:
                    _write_arcs(conn, file_id, path, holders)
                else:
                    conn.executemany(
                        "insert into line_bits (file_id, context_id, numbits) values (?, ?, ?)",
                        (
                            (file_id, context_id, nums_to_numbits(part.lines[path]))
                            for context_id, part in holders
                        ),
                    )
                # Counts are the totals, kept with the default context.
                counts = m.counts.get(path) if m.counts is not None else None
                if counts:
                    conn.execute(
                        "insert into tally_counts (file_id, context_id, counts) values (?, 1, ?)",
                        (file_id, pack_counts(counts)),
                    )
                if m.arcs is not None and m.counts is not None:
                    conn.executemany(
                        "insert into tally_arc_counts (file_id, context_id, fromno, tono, count) "
                        "values (?, 1, ?, ?, ?)",
                        ((file_id, a, b, n) for (a, b), n in sorted(m.arcs.get(path, {}).items())),
                    )
    finally:
        conn.close()
    with open(temp, "rb+") as handle:
        os.fsync(handle.fileno())


def _write_arcs(conn: Any, file_id: int, path: str, holders: list[tuple[int, Measurement]]) -> None:
    """A branch-measured file's rows in each context that holds it (arc_table_rows)."""
    conn.executemany(
        "insert into arc (file_id, context_id, fromno, tono) values (?, ?, ?, ?)",
        (
            (file_id, context_id, a, b)
            for context_id, part in holders
            for a, b in sorted(arc_table_rows(part.lines[path], _arcs_in(part, path)))
        ),
    )


def _arcs_in(part: Measurement, path: str) -> Mapping[Arc, Count]:
    """The arcs a context took in a file (none when it recorded none)."""
    return part.arcs.get(path, {}) if part.arcs is not None else {}


def arc_table_rows(lines: Iterable[LineNo], arcs: Iterable[Arc]) -> set[Arc]:
    """Branch data as coverage.py's `arc` table holds it: the arcs taken, and each other
    line that ran as the arc (n, n), which coverage.py 7.x reads as "line n ran". A line
    at either end of an arc taken needs no row of its own: coverage.py (and tally) read
    both ends of every arc as lines that ran."""
    taken = set(arcs)
    ends = {n for arc in taken for n in arc}
    return {(n, n) for n in lines if n not in ends} | taken


def _tally_version() -> str:
    from tally.version import __version__

    return __version__
