"""Names for the domain's values, shared by every module."""

from __future__ import annotations

from typing import TypeAlias

__all__ = ["Arc", "Count", "FilePath", "LineCounts", "LineNo", "LineSet"]

LineNo: TypeAlias = int
"""A 1-based source line number."""

Count: TypeAlias = int
"""How many times a line began executing."""

FilePath: TypeAlias = str
"""A canonical absolute file path, as stored in the data file."""

LineSet: TypeAlias = set[LineNo]
LineCounts: TypeAlias = dict[LineNo, Count]

Arc: TypeAlias = tuple[LineNo, LineNo]
"""A way from one line to the next: `(from_line, to_line)`; a negative line is the entry to
or exit from the code object starting at that line (coverage.py's convention)."""
