"""Warnings to the user: each has a slug, and `[run] disable_warnings` silences it by slug.

Every warning is a `Notice` (its message and slug), made where the trouble is seen and printed
through `warn()` (or `text()`, where the caller has its own way of writing, such as pytest's
terminal), as `tally: warning: <message> (<slug>)`, the shape of coverage.py's
`CoverageWarning: <message> (<slug>)`. docs/configuration.md lists the slugs from SLUGS.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import NamedTuple, TextIO

__all__ = ["SLUGS", "Notice", "silence", "text", "warn"]

# Every slug, with what it warns of. coverage.py's own slugs keep coverage.py's names, so a
# `disable_warnings` list written for coverage.py silences the same warnings here.
SLUGS: dict[str, str] = {
    "module-not-imported": "a source module (`--source NAME`, `source_pkgs`) was never imported",
    "no-data-collected": "the run measured nothing",
    "unknown-option": "a config file has a section or option tally doesn't know; it is ignored",
    "unsupported-option": "a coverage.py option tally doesn't support is set; it is ignored",
    "comment-in-pattern": "an include/omit pattern in a config file has a `#` comment after "
    "it, which coverage.py reads as part of the pattern",
    "engine-unavailable": "the engine asked for can't run here, or can't count; another is used",
    "couldnt-instrument": "a measured module couldn't be instrumented; it runs unmeasured",
    "no-subprocess-hook": "`patch = subprocess` without tally's start-up hook installed",
    "journal-unwritable": "the data journal can't be written; a killed process loses its data",
    "incomplete-run": "a process of the run ended without saving; its data may be partial",
    "worker-lost": "no data came back from a pytest-xdist worker",
    "skipped-input": "`tally combine` skipped an input it couldn't read",
    "counts-dropped": "combined data has no counts, because some of its inputs had none",
    "skipped-file": "a report left out a source file it couldn't read (`--ignore-errors`)",
    "history-unusable": "the history store couldn't be written or read for this run",
}

_silenced: set[str] = set()  # the slugs of the config in use (silence() sets it)


class Notice(NamedTuple):
    """One warning: what to tell the user, and its slug."""

    message: str
    slug: str

    def __str__(self) -> str:
        return f"{self.message} ({self.slug})"


def silence(slugs: Iterable[str]) -> None:
    """From now on, leave out the warnings with these slugs (the config's
    `[run] disable_warnings`); replaces what an earlier call silenced."""
    _silenced.clear()
    _silenced.update(slugs)


def text(notice: Notice) -> str | None:
    """The line to print for a warning, or None when its slug is silenced."""
    assert notice.slug in SLUGS, f"unknown warning slug {notice.slug!r}"
    if notice.slug in _silenced:
        return None
    return f"tally: warning: {notice}"


def warn(notice: Notice, *, stream: TextIO | None = None) -> None:
    """Print a warning on stderr (or `stream`) unless its slug is silenced."""
    line = text(notice)
    if line is not None:
        print(line, file=stream or sys.stderr)
