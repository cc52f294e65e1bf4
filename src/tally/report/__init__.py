"""Reports: each format a module whose reporter receives analysed results and renders them.

A one-file format (xml, json, lcov, badge) is a FileReport; the CLI writes what it renders
with report.output.write_output. The HTML report writes a directory of pages itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from tally.analysis.analyzer import Analyses

__all__ = ["FileReport"]


class FileReport(Protocol):
    """A report that is one file: its text from the results, and what to call it."""

    what: str  # "XML report": how messages name it

    def render(self, results: Analyses) -> str:
        """The whole report's text."""
        ...
