"""Names for the domain's values, shared by every module."""

from __future__ import annotations

from typing import TypeAlias

__all__ = ["Count", "FilePath", "LineCounts", "LineNo", "LineSet"]

LineNo: TypeAlias = int
"""A 1-based source line number."""

Count: TypeAlias = int
"""How many times a line began executing."""

FilePath: TypeAlias = str
"""A canonical absolute file path, as stored in the data file."""

LineSet: TypeAlias = set[LineNo]
LineCounts: TypeAlias = dict[LineNo, Count]
