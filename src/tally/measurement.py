"""What one run measured, as engines hand it over and storage writes it: the value both
sides know, apart from either (engines import no storage code; storage imports no engine)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from tally.exceptions import DataError
from tally.types import Arc, Count, LineNo

__all__ = ["Measurement", "copy_part", "mixed_branch_data"]


class Measurement:
    """What one run measured: executed lines per file, counts when they were counted, and
    with branch coverage the arcs taken (and how often, when counted).

    `arcs` holds the branch arcs seen, `(from_line, to_line)` (a negative `to_line` is the
    exit of the code object starting there); every executed line is in `lines` as well.
    The mappings may work each file out when asked (the count engine's do), so a caller
    that wants to keep a snapshot copies them.

    `contexts`, when measured (per-test contexts), holds what ran in each context: its
    lines, and arcs with branch coverage (their counts are in the totals only). The
    top-level lines and arcs are then the union of the contexts', the default context ''
    holding what ran outside any other.
    """

    def __init__(
        self,
        lines: Mapping[str, set[LineNo]] | None = None,
        counts: Mapping[str, Mapping[LineNo, Count]] | None = None,
        meta: dict[str, str] | None = None,
        arcs: Mapping[str, Mapping[Arc, Count]] | None = None,
        contexts: dict[str, Measurement] | None = None,
    ) -> None:
        self.lines: Mapping[str, set[LineNo]] = {} if lines is None else lines
        self.counts = counts
        self.meta: dict[str, str] = {} if meta is None else meta
        # {file: {arc: times taken}}; 0 where taken but not counted (the monitor engine).
        self.arcs = arcs
        self.contexts: dict[str, Measurement] = {} if contexts is None else contexts

    def context_parts(self) -> dict[str, Measurement]:
        """What ran in each context: the contexts measured, or else all of it in ''."""
        if self.contexts:
            return self.contexts
        return {"": Measurement(self.lines, None, None, self.arcs)}

    def update(self, other: Measurement) -> None:
        """Add `other` to this measurement: lines and arcs united, counts summed.

        Raises DataError when one measured branches and the other didn't: coverage.py's
        files hold either lines or arcs, never both.
        """
        if (self.arcs is None) != (other.arcs is None) and (self.lines and other.lines):
            raise mixed_branch_data()
        lines = {path: set(found) for path, found in self.lines.items()}
        for path, found in other.lines.items():
            lines.setdefault(path, set()).update(found)
        self.lines = lines
        self.counts = _add_counts(self.counts, other.counts)
        self.arcs = _add_counts(self.arcs, other.arcs)
        for key, value in other.meta.items():
            self.meta.setdefault(key, value)
        if self.contexts or other.contexts:
            parts = {name: copy_part(part) for name, part in self.context_parts().items()}
            for name, part in other.context_parts().items():
                if name in parts:
                    parts[name].update(part)
                else:
                    parts[name] = copy_part(part)
            self.contexts = parts


def copy_part(part: Measurement) -> Measurement:
    """A context's part, copied so that adding to it changes nothing else."""
    lines = {path: set(found) for path, found in part.lines.items()}
    arcs = None if part.arcs is None else {p: dict(a) for p, a in part.arcs.items()}
    return Measurement(lines, None, None, arcs)


def mixed_branch_data() -> DataError:
    """The error for adding branch data to line data (or the other way round)."""
    return DataError(
        "can't combine branch coverage data with line coverage data: measure both "
        "with the same --branch setting"
    )


_K = TypeVar("_K")


def _add_counts(
    mine: Mapping[str, Mapping[_K, Count]] | None, theirs: Mapping[str, Mapping[_K, Count]] | None
) -> dict[str, dict[_K, Count]] | None:
    """Per-file counters summed key by key; None when neither side has any."""
    if theirs is None:
        return None if mine is None else {path: dict(c) for path, c in mine.items()}
    total = {path: dict(c) for path, c in (mine or {}).items()}
    for path, counted in theirs.items():
        into = total.setdefault(path, {})
        for key, n in counted.items():
            into[key] = into.get(key, 0) + n
    return total
