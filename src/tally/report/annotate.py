"""The annotate report: a copy of each measured source, `<file>,cover`, with a margin that
marks each line, as coverage.py's `annotate` writes it (and each statement's count when
the run was asked for counts).

The margin: `> ` a line that ran, `! ` one that didn't, `- ` an excluded line, two
spaces for a blank line or a comment; a line inside a statement takes its statement's
mark, and `else:` alone on its line the mark of the statement after it, as coverage.py
marks them. With counts, the mark is followed by the count of a statement's first line
(blank on other lines), seven columns wide.
"""

from __future__ import annotations

import hashlib
import ntpath
import os
import re
from dataclasses import dataclass

from tally.analysis.analyzer import Analyses
from tally.analysis.results import FileAnalysis
from tally.analysis.source import read_source
from tally.report.output import write_output

__all__ = ["AnnotateReport", "annotated_name"]

_BLANK = re.compile(r"\s*(#|$)")
_ELSE = re.compile(r"\s*else\s*:\s*(#|$)")


def annotated_name(name: str) -> str:
    """The file name, in a directory of annotated files, of the source named `name`
    (relative): coverage.py's flat name, `z_<hash of its directory>_<name>`."""
    directory, base = ntpath.split(name)
    stem, extension = os.path.splitext(base)
    prefix = ""
    if directory:
        prefix = f"z_{hashlib.sha3_256(directory.encode('utf-8')).hexdigest()[:16]}_"
    return f"{prefix}{stem.replace('.', '_')}{extension}"


@dataclass
class AnnotateReport:
    """Writes the `,cover` files, beside each source or in `directory`."""

    directory: str = ""
    show_counts: bool = True  # [report] show_counts: the counts, when they were asked for
    written: int = 0

    def write(self, results: Analyses) -> None:
        counted = results.has_counts and results.counts_asked and self.show_counts
        for analysis in results.files:
            if self.directory:
                target = os.path.join(self.directory, annotated_name(analysis.name))
            else:
                target = analysis.path
            text = "".join(margined(analysis, read_source(analysis.path), counted=counted))
            write_output(target + ",cover", text, what="annotated source", elsewhere="-d")
            self.written += 1


def margined(analysis: FileAnalysis, source: str, *, counted: bool) -> list[str]:
    """The lines of `source`, each with its margin (coverage.py's annotate.py rules)."""
    statements = sorted(analysis.statements)
    missing = sorted(analysis.missing)
    counts = analysis.counts or {}
    out = []
    i = j = 0
    covered = True
    for number, line in enumerate(source.splitlines(True), start=1):
        while i < len(statements) and statements[i] < number:
            i += 1
        while j < len(missing) and missing[j] < number:
            j += 1
        if i < len(statements) and statements[i] == number:
            covered = j >= len(missing) or missing[j] > number
        if _BLANK.match(line):
            mark = "  "
        elif _ELSE.match(line):
            ran = j >= len(missing) or (i < len(statements) and statements[i] != missing[j])
            mark = "> " if ran else "! "
        elif number in analysis.excluded:
            mark = "- "
        else:
            mark = "> " if covered else "! "
        if counted:
            count = counts.get(number, 0) if number in analysis.statements else None
            mark += f"{'' if count is None else count:>7} "
        out.append(mark + line)
    return out
