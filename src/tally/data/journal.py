"""The raw data journal: a measured process's data, appended while it runs.

A process that is killed (SIGKILL, a crash in C code, the machine's OOM killer) never
reaches the code that writes its data file. So while it runs it appends what it measured
to a journal beside the data file (`<data file>-tally.<host>.<pid>.<random>.raw`), every
`[tally] flush_interval` seconds, and deletes the journal once its data file is written.
A journal left behind is a process that ended without saving; `tally combine` folds it in
and the data file says the run was incomplete.

The file: a magic line, then records, each its payload's length and CRC-32 (two
little-endian 32-bit numbers) and the payload (zlib-compressed JSON). The first record
says which process this is; each later one holds what was new since the record before:
lines and arcs first seen, and how much each count grew. A record cut short or damaged
ends the reading, so a killed process loses at most what it measured after its last
whole record.
"""

from __future__ import annotations

import contextlib
import json
import os
import struct
import time
import zlib
from collections.abc import Iterator, Mapping
from typing import Any

from tally.data.numbits import nums_to_numbits, pack_counts
from tally.data.sqlite import StoredData
from tally.exceptions import DataError
from tally.measurement import Measurement
from tally.types import Arc, Count, LineNo
from tally.warnings import Notice

__all__ = [
    "INCOMPLETE",
    "JOURNAL_INFIX",
    "JOURNAL_SUFFIX",
    "Journal",
    "incomplete_run",
    "is_journal_of",
    "journal_path",
    "journals_beside",
    "read_journal",
]

JOURNAL_SUFFIX = ".raw"
JOURNAL_INFIX = "-tally."  # after the data file's name, before the process's suffix
# The meta key of a data file with data from processes that ended without saving: a line
# for each, saying whose data it was and how far it got.
INCOMPLETE = "tally_incomplete"
_MAGIC = b"tally raw data journal 1\n"
_HEADER = struct.Struct("<II")  # payload length, CRC-32 of the payload


class Journal:
    """The journal one process appends to. Creating it writes the magic line and the
    record that names the process."""

    def __init__(self, path: str, about: Mapping[str, Any]) -> None:
        self.path = path
        self._sent_lines: dict[str, set[LineNo]] = {}
        self._sent_counts: dict[str, dict[LineNo, Count]] = {}
        self._sent_arcs: dict[str, dict[Arc, Count]] = {}
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_TRUNC, 0o644)
        os.write(self._fd, _MAGIC)
        self._append({"kind": "process", **about})

    def _append(self, doc: Mapping[str, Any]) -> None:
        payload = zlib.compress(json.dumps(doc, separators=(",", ":")).encode(), 1)
        # One write call per record: a reader sees whole records or a cut-off tail.
        os.write(self._fd, _HEADER.pack(len(payload), zlib.crc32(payload)) + payload)

    def flush(self, measured: Measurement) -> bool:
        """Append what `measured` holds beyond what earlier flushes wrote. Returns whether
        there was anything new."""
        lines: dict[str, list[LineNo]] = {}
        for path, found in measured.lines.items():
            sent = self._sent_lines.setdefault(path, set())
            new = found - sent
            if new:
                lines[path] = sorted(new)
                sent |= new
        counts = _grown(measured.counts or {}, self._sent_counts)
        arcs = _grown(measured.arcs or {}, self._sent_arcs)
        if not (lines or counts or arcs):
            return False
        self._append(
            {
                "kind": "data",
                "at": time.time(),
                "lines": lines,
                "counts": {p: [[line, n] for line, n in c.items()] for p, c in counts.items()},
                "arcs": {p: [[a, b, n] for (a, b), n in c.items()] for p, c in arcs.items()},
            }
        )
        return True

    def close(self, *, remove: bool) -> None:
        """Stop appending; with `remove`, delete the journal (its data is saved)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        if remove:
            with contextlib.suppress(OSError):  # gone already: nothing to lose
                os.remove(self.path)


def _grown(
    now: Mapping[str, Mapping[Any, Count]], sent: dict[str, dict[Any, Count]]
) -> dict[str, dict[Any, Count]]:
    """Per file, the keys whose count grew since `sent`, by how much; `sent` catches up."""
    grown: dict[str, dict[Any, Count]] = {}
    for path, counts in now.items():
        before = sent.setdefault(path, {})
        for key, n in counts.items():
            old = before.get(key)
            if old is None or n > old:
                grown.setdefault(path, {})[key] = n - (old or 0)
                before[key] = n
    return grown


def _records(path: str, data: bytes) -> Iterator[dict[str, Any]]:
    """The whole records of a journal's bytes; stops at the first cut-off or damaged one."""
    if not data.startswith(_MAGIC):
        raise DataError(f"{path} is not a tally raw data journal (no journal header)")
    at = len(_MAGIC)
    while at + _HEADER.size <= len(data):
        size, crc = _HEADER.unpack_from(data, at)
        payload = data[at + _HEADER.size : at + _HEADER.size + size]
        if len(payload) < size or zlib.crc32(payload) != crc:
            return
        try:
            yield json.loads(zlib.decompress(payload))
        except (zlib.error, ValueError):
            return
        at += _HEADER.size + size


def read_journal(path: str) -> StoredData:
    """A journal's data, as a data file's would be read (combine adds either kind). Its
    meta says the process ended without saving, and when it last flushed."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as err:
        raise DataError(f"can't read journal {path}: {err.strerror}") from None
    about: dict[str, Any] = {}
    lines: dict[str, set[LineNo]] = {}
    counts: dict[str, dict[LineNo, Count]] = {}
    arcs: dict[str, dict[Arc, Count]] = {}
    last = None
    for record in _records(path, data):
        if record.get("kind") == "process":
            about = record
            continue
        last = record.get("at")
        for name, found in record["lines"].items():
            lines.setdefault(name, set()).update(found)
        for name, pairs in record["counts"].items():
            into = counts.setdefault(name, {})
            for line, n in pairs:
                into[line] = into.get(line, 0) + n
        for name, triples in record["arcs"].items():
            taken = arcs.setdefault(name, {})
            for a, b, n in triples:
                taken[(a, b)] = taken.get((a, b), 0) + n
    if not about:
        raise DataError(f"journal {path} is cut off before its first record")
    return _stored(about, lines, counts, arcs, _incomplete(about, last))


def _incomplete(about: Mapping[str, Any], last: float | None) -> str:
    """The note a journal's data carries: whose it was and how far it got."""
    who = f"process {about.get('pid')} on {about.get('host')} ({about.get('command', '?')})"
    if last is None:
        return f"{who} ended without saving and before its first flush: none of its data"
    flushed = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(last))
    return f"{who} ended without saving: its data is as of its last flush at {flushed}"


def _stored(
    about: Mapping[str, Any],
    lines: dict[str, set[LineNo]],
    counts: dict[str, dict[LineNo, Count]],
    arcs: dict[str, dict[Arc, Count]],
    note: str,
) -> StoredData:
    stored = StoredData()
    branch = bool(about.get("branch"))
    stored.meta = {str(k): str(v) for k, v in about.get("meta", {}).items()}
    stored.meta.update({"has_arcs": "1" if branch else "0", INCOMPLETE: note})
    if about.get("counts"):
        stored.meta["tally_counts"] = "1"
    stored.paths = sorted(lines)
    for name, found in lines.items():
        if branch:
            stored.arc_lines[name] = found
        else:
            stored.line_blobs[name] = [nums_to_numbits(found)]
    for name, by_line in counts.items():
        stored.count_blobs[name] = [pack_counts(by_line)]
    if branch:
        for name in lines:
            stored.arcs[name] = arcs.get(name, {})
    return stored


def journal_path(data_file: str, suffix: str) -> str:
    """The journal of the process whose parallel suffix is `suffix`, beside `data_file`.
    Not `<data file>.*`: coverage.py's `combine` reads every file named so as a data file,
    and a journal is not one."""
    return f"{data_file}{JOURNAL_INFIX}{suffix}{JOURNAL_SUFFIX}"


def is_journal_of(name: str, data_file_name: str) -> bool:
    """Is the file `name` a journal of the data file named `data_file_name` (both base
    names)?"""
    return name.startswith(data_file_name + JOURNAL_INFIX) and name.endswith(JOURNAL_SUFFIX)


def journals_beside(data_file: str) -> list[str]:
    """The journals beside `data_file`: of processes that never saved."""
    import glob

    return sorted(glob.glob(glob.escape(data_file) + JOURNAL_INFIX + "*" + JOURNAL_SUFFIX))


def incomplete_run(meta: dict[str, str], journals: list[str]) -> list[Notice]:
    """What a report must say of data from processes that never saved: those combined in
    (the data file's `meta` notes them), and `journals` not combined yet."""
    notes = meta.get(INCOMPLETE, "").split("\n")
    found = [Notice(f"the run was incomplete: {note}", "incomplete-run") for note in notes if note]
    for journal in journals:
        found.append(
            Notice(
                f"{journal} is the journal of a process that ended without saving; "
                "`tally combine` adds its data",
                "incomplete-run",
            )
        )
    return found
