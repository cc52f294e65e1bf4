"""Combine data files: parallel runs, subprocesses and CI shards, added into one data file.

Lines and arcs are united, counts added. File paths recorded elsewhere (another machine, a
container, Windows) are remapped to this tree by `[paths]` (coverage.py's rules: the first
entry of each list is the local root, the others are roots the same files had elsewhere,
globs allowed, matched case-insensitively as a path prefix), and failing that by their
trailing components when those name a file here.
"""

from __future__ import annotations

import contextlib
import hashlib
import ntpath
import os
import re
from array import array
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from operator import add

from tally.data.journal import INCOMPLETE, JOURNAL_SUFFIX, is_journal_of, read_journal
from tally.data.numbits import counts_parts, line_numbers, numbits_to_nums
from tally.data.sqlite import (
    StoredData,
    arc_rows_measurement,
    arc_table_rows,
    read_stored,
    write_data,
)
from tally.exceptions import ConfigError, DataError, NoDataError
from tally.measurement import Measurement, mixed_branch_data
from tally.paths import canonical, flavor_of, glob_to_regex
from tally.warnings import Notice

__all__ = ["CombineResult", "PathAliases", "combine", "data_files_to_combine"]


def _separator(path: str) -> str:
    """The separator a path uses: a backslash for Windows paths, else a slash."""
    return "\\" if flavor_of(path) is ntpath or ("\\" in path and "/" not in path) else "/"


class PathAliases:
    """`[paths]` remapping, plus the search by trailing components."""

    def __init__(
        self,
        entries: Mapping[str, list[str]],
        cwd: str,
        *,
        relative: bool = False,
        exists: Callable[[str], bool] = os.path.exists,
    ) -> None:
        self.cwd = cwd
        self.relative = relative
        self.exists = exists
        self.aliases: list[tuple[re.Pattern[str], str]] = []
        self._mapped: dict[str, str] = {}  # every data file names the same files
        for name, patterns in entries.items():
            if len(patterns) < 2:
                raise ConfigError(
                    f"[paths] {name} needs the local directory first, then at least one "
                    "place the same files were measured elsewhere"
                )
            result = patterns[0]
            if not relative and not os.path.isabs(result) and flavor_of(result) is os.path:
                result = os.path.join(cwd, result)
            result = result.rstrip("\\/") + _separator(result)
            for pattern in patterns[1:]:
                self.aliases.append((self._regex(pattern), result))

    def _regex(self, pattern: str) -> re.Pattern[str]:
        if pattern.rstrip("\\/").endswith("*"):
            raise ConfigError(f"[paths] pattern {pattern!r} must not end with a wildcard")
        absolute = os.path.isabs(pattern) or flavor_of(pattern) is ntpath
        if not self.relative and not absolute and not pattern.startswith("*"):
            pattern = os.path.join(self.cwd, pattern)
        pattern = pattern.rstrip("\\/") + "/"
        # A pattern without a slash would match a name anywhere; a root is a prefix.
        source = glob_to_regex(pattern if "/" in pattern.rstrip("/") else "/" + pattern)
        if not pattern.startswith("/") and "/" not in pattern.rstrip("/"):
            source = source.removeprefix(r"[/\\]")
        return re.compile(source, re.IGNORECASE)

    def map(self, path: str) -> str:
        """The local path for `path` as recorded: the first `[paths]` alias whose result
        exists here (or the first that matches at all), else the longest run of trailing
        components (two or more) that names a file under the current directory, else
        `path` unchanged."""
        known = self._mapped.get(path)
        if known is None:
            known = self._mapped[path] = self._map(path)
        return known

    def _map(self, path: str) -> str:
        first: str | None = None
        for regex, result in self.aliases:
            found = regex.match(path)
            if found is None:
                continue
            mapped = result + path[found.end() :]
            mapped = mapped.replace(_separator(path), _separator(result))
            if not self.relative:
                mapped = canonical(mapped)
            if self.exists(mapped):
                return mapped
            first = first or mapped
        if first is not None:
            return first
        return self._by_tail(path)

    def _by_tail(self, path: str) -> str:
        local = path if self.relative else canonical(path, self.cwd)
        if self.exists(local if os.path.isabs(local) else os.path.join(self.cwd, local)):
            return path
        parts = [p for p in re.split(r"[/\\]", path) if p]
        for start in range(1, len(parts) - 1):
            tail = os.path.join(*parts[start:])
            if self.exists(os.path.join(self.cwd, tail)):
                return tail if self.relative else os.path.join(self.cwd, tail)
        return path


def data_files_to_combine(data_file: str, given: Iterable[str]) -> list[str]:
    """The files `tally combine` reads: each given file, the parallel data files in each
    given directory, or with none given those beside `data_file` (`.coverage.*`, rescued
    files and the journals of processes that never saved included, never the data file
    itself or its JSON twin)."""
    base = os.path.basename(data_file)
    directories: list[str] = []
    files: list[str] = []
    for entry in given:
        if os.path.isdir(entry):
            directories.append(entry)
        elif os.path.isfile(entry):
            files.append(os.path.abspath(entry))
        else:
            raise NoDataError(f"can't combine {entry}: no such file or directory")
    if not files and not directories:
        directories.append(os.path.dirname(os.path.abspath(data_file)))
    for directory in directories:
        for name in sorted(os.listdir(directory)):
            parallel = name.startswith(base + ".") and not name.endswith((".json", ".tmp"))
            if parallel or is_journal_of(name, base):
                files.append(os.path.abspath(os.path.join(directory, name)))
    target = os.path.abspath(data_file)
    return [f for f in dict.fromkeys(files) if f != target]


@dataclass
class CombineResult:
    """What `combine` did: the files added in, those skipped with the reason."""

    combined: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    uncounted: list[str] = field(default_factory=list)  # inputs without counts, when some had
    incomplete: list[str] = field(default_factory=list)  # journals' notes: processes killed

    def warnings(self) -> list[Notice]:
        """What a user should hear about: each input skipped, and counts dropped."""
        found = [Notice(f"skipped {path}: {why}", "skipped-input") for path, why in self.skipped]
        found += [
            Notice(f"the run was incomplete: {note}", "incomplete-run") for note in self.incomplete
        ]
        if self.uncounted:
            found.append(
                Notice(
                    f"{len(self.uncounted)} of the files combined have no execution counts "
                    f"(e.g. {self.uncounted[0]}), so the combined data has none: measure "
                    "every part with --count to keep them",
                    "counts-dropped",
                )
            )
        return found


class _Sum:
    """The data being combined, kept packed where adding allows: each file's line sets as
    numbits integers OR-ed together (a union without decoding a line), counts summed."""

    def __init__(self) -> None:
        self.bits: dict[str, int] = {}
        self.arc_lines: dict[str, set[int]] = {}
        # Per file: its counts summed by the lines they are for (packed line numbers).
        self.counts: dict[str, dict[bytes, array[int]]] = {}
        self.arcs: dict[str, dict[tuple[int, int], int]] = {}
        self.branch: bool | None = None
        self.meta: dict[str, str] = {}
        # Once some input has contexts other than '': each context's lines as numbits
        # integers (line data) or its arc rows (branch data), per file.
        self.context_bits: dict[str, dict[str, int]] | None = None
        self.context_arcs: dict[str, dict[str, set[tuple[int, int]]]] | None = None

    def add(self, stored: StoredData, local: Callable[[str], str]) -> None:
        """Add one data file, its paths mapped by `local`. Raises ValueError for a
        malformed counts blob, and DataError for branch data among line data (or the other
        way round), before anything of the file is added."""
        counted = [
            (local(name), [counts_parts(blob) for blob in blobs])
            for name, blobs in stored.count_blobs.items()
        ]
        if stored.paths:
            if self.branch is None:
                self.branch = stored.has_arcs()
            elif self.branch != stored.has_arcs():
                raise mixed_branch_data()
        self._add_contexts(stored, local)  # first: it may start from what came before
        for name in stored.paths:
            self.bits.setdefault(local(name), 0)
        for name, blobs in stored.line_blobs.items():
            _or_into(self.bits, local(name), blobs)
        for name, lines in stored.arc_lines.items():
            self.arc_lines.setdefault(local(name), set()).update(lines)
        for name, taken in stored.arcs.items():
            into = self.arcs.setdefault(local(name), {})
            for arc, n in taken.items():
                into[arc] = into.get(arc, 0) + n
        for path, parts in counted:
            sums = self.counts.setdefault(path, {})
            for packed, counts in parts:
                summed = sums.get(packed)
                # Element by element in C: runs with the same lines add as two arrays.
                sums[packed] = counts if summed is None else array("Q", map(add, summed, counts))
        for key, text in stored.meta.items():
            self.meta.setdefault(key, text)

    def _add_contexts(self, stored: StoredData, local: Callable[[str], str]) -> None:
        """Keep each context's lines apart, from the first input that has contexts on
        (what came before it, all in the default context ''). Called before the input's
        data is added to the totals."""
        contextful = bool(stored.context_lines or stored.context_arcs)
        if self.context_bits is None:
            if not contextful:
                return
            self.context_bits = {"": dict(self.bits)} if not stored.context_arcs else {}
            self.context_arcs = {"": self._rows()} if stored.context_arcs else {}
        assert self.context_arcs is not None
        if not contextful:  # a file without contexts: all of it ran in ''
            into_bits = self.context_bits.setdefault("", {})
            for name, blobs in stored.line_blobs.items():
                _or_into(into_bits, local(name), blobs)
            into_arcs = self.context_arcs.setdefault("", {})
            for name, lines in stored.arc_lines.items():
                rows = into_arcs.setdefault(local(name), set())
                rows.update(arc_table_rows(lines, stored.arcs.get(name, {})))
            return
        for context, by_file in stored.context_lines.items():
            into_bits = self.context_bits.setdefault(context, {})
            for name, blob in by_file.items():
                _or_into(into_bits, local(name), [blob])
        for context, arc_rows in stored.context_arcs.items():
            into_arcs = self.context_arcs.setdefault(context, {})
            for name, rows in arc_rows.items():
                into_arcs.setdefault(local(name), set()).update(rows)

    def _rows(self) -> dict[str, set[tuple[int, int]]]:
        """The branch data added so far as arc rows per file ((n, n): line n ran)."""
        return {
            path: arc_table_rows(lines, self.arcs.get(path, {}))
            for path, lines in self.arc_lines.items()
        }

    def measurement(self, *, counted: bool) -> Measurement:
        """The sum, unpacked for writing; with counts only when `counted`."""
        lines = {path: _lines_of(value) for path, value in self.bits.items()}
        for path, found in self.arc_lines.items():
            lines.setdefault(path, set()).update(found)
        arcs = {path: self.arcs.get(path, {}) for path in lines} if self.branch else None
        counts = {path: _added(sums) for path, sums in self.counts.items()} if counted else None
        return Measurement(lines, counts, self.meta, arcs, self._context_parts())

    def _context_parts(self) -> dict[str, Measurement]:
        """Each context's lines (and arcs), when some input had contexts."""
        parts: dict[str, Measurement] = {}
        for context, by_file in (self.context_bits or {}).items():
            parts[context] = Measurement({path: _lines_of(v) for path, v in by_file.items()})
        for context, arc_rows in (self.context_arcs or {}).items():
            parts[context] = arc_rows_measurement(arc_rows)
        return parts


def _or_into(bits: dict[str, int], path: str, blobs: Iterable[bytes]) -> None:
    """OR numbits blobs into a file's line set, kept as one integer (a union without
    decoding a line)."""
    value = bits.get(path, 0)
    for blob in blobs:
        value |= int.from_bytes(blob, "little")
    bits[path] = value


def _lines_of(value: int) -> set[int]:
    """The line numbers of a line set kept as an integer by _or_into."""
    return set(numbits_to_nums(value.to_bytes((value.bit_length() + 7) // 8, "little")))


def _added(sums: dict[bytes, array[int]]) -> dict[int, int]:
    """One file's counts from its sums by line set."""
    total: dict[int, int] = {}
    for lines, counts in sums.items():
        for line, n in zip(line_numbers(lines), counts, strict=True):
            total[line] = total.get(line, 0) + n
    return total


def combine(
    data_file: str,
    inputs: list[str],
    aliases: PathAliases,
    *,
    keep: bool = False,
    append: bool = False,
    measured: Mapping[str, StoredData] | None = None,
) -> CombineResult:
    """Add `inputs` into `data_file` (with `append`, on top of what it holds) and delete them
    unless `keep`; `measured` adds data that was never written ({what it is: the data}, as
    stored_of() gives it). An unreadable input is skipped and named, never fatal; so is a
    copy of one already read. Raises NoDataError when nothing could be read."""
    result = CombineResult()
    total = _Sum()
    for label, stored in (measured or {}).items():
        total.add(stored, aliases.map)
        if not stored.has_counts():
            result.uncounted.append(label)
    seen: set[str] = set()
    sources = ([data_file] if append and os.path.exists(data_file) else []) + inputs
    for path in sources:
        try:
            with open(path, "rb") as handle:
                digest = hashlib.sha256(handle.read()).hexdigest()
        except OSError as err:
            result.skipped.append((path, err.strerror or str(err)))
            continue
        if digest in seen:
            result.skipped.append((path, "a duplicate of a file already combined"))
            continue
        try:
            stored = read_journal(path) if path.endswith(JOURNAL_SUFFIX) else read_stored(path)
        except DataError as err:
            if path == data_file:  # writing over it would lose it: stop, keep every file
                raise DataError(
                    f"can't --append to {data_file}: {err.message}; move it aside, or "
                    "combine without --append"
                ) from None
            result.skipped.append((path, err.message))
            continue
        seen.add(digest)
        note = stored.meta.pop(INCOMPLETE, None)
        if note:
            result.incomplete.extend(note.split("\n"))
        if not stored.has_counts():
            result.uncounted.append(path)
        try:
            total.add(stored, aliases.map)
        except ValueError as err:  # a malformed counts blob
            result.skipped.append((path, f"couldn't read its counts: {err}"))
            continue
        if path != data_file:
            result.combined.append(path)
    if not result.combined and not measured:
        reasons = "; ".join(f"{p}: {why}" for p, why in result.skipped)
        raise NoDataError(
            "no data to combine"
            + (f" ({reasons})" if reasons else f": no parallel data files beside {data_file}")
        )
    # Counts from some runs only would read as "never ran" for the others' lines.
    counted = not result.uncounted
    if counted or not total.counts:
        result.uncounted = []
    combined = total.measurement(counted=counted)
    if result.incomplete:
        combined.meta[INCOMPLETE] = "\n".join(result.incomplete)
    write_data(data_file, combined)
    if not keep:
        for path in result.combined:
            with contextlib.suppress(OSError):  # gone already: nothing lost
                os.remove(path)
    return result
