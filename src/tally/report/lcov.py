"""The LCOV report, as coverage.py writes it, with real hit counts when measured.

Per file (`SF:`): a `DA:line,hits` per statement, where hits is how many times it ran
when counts were measured; `FN`/`FNDA` per function (hit count: the times its first
statement ran, when counted); `BRDA:line,0,description,taken` per branch arm, taken being
the arm's count when arm counts were measured; and the LF/LH, FNF/FNH, BRF/BRH totals.
genhtml reads it.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from tally.analysis.analyzer import Analyses
from tally.analysis.results import FileAnalysis

__all__ = ["LcovOptions", "LcovReport"]


@dataclass(frozen=True)
class LcovOptions:
    """The `[lcov]` options."""

    line_checksums: bool = False
    skip_empty: bool = False


def _field(text: str) -> str:
    """`text` safe as one LCOV field: the format has no escaping, so control characters
    (a newline in a file name) become "?"."""
    return text if text.isprintable() else "".join(c if c.isprintable() else "?" for c in text)


def _line_hash(line: str) -> str:
    """LCOV's line checksum: the MD5 of the line, base64, without padding."""
    digest = hashlib.md5(line.encode("utf-8"), usedforsecurity=False).digest()
    return base64.b64encode(digest).decode("ascii").rstrip("=")


class LcovReport:
    """Renders analysed results as LCOV tracefile records."""

    what = "LCOV report"

    def __init__(self, options: LcovOptions | None = None) -> None:
        self.options = options or LcovOptions()

    def render(self, results: Analyses) -> str:
        """The report's text."""
        out: list[str] = []
        for analysis in sorted(results.files, key=lambda a: a.name):
            if self.options.skip_empty and not analysis.statements:
                continue
            out.append(f"SF:{_field(analysis.name)}")
            out.extend(self._lines(analysis))
            out.extend(self._functions(analysis))
            if results.has_arcs:
                out.extend(self._branches(analysis))
            out.append("end_of_record")
        return "".join(line + "\n" for line in out)

    @staticmethod
    def _hits(analysis: FileAnalysis, line: int) -> int:
        """How many times `line` ran: its count when measured (at least 1 if it ran)."""
        if line not in analysis.executed:
            return 0
        if analysis.counts is None:
            return 1
        return max(analysis.counts.get(line, 0), 1)

    def _lines(self, analysis: FileAnalysis) -> list[str]:
        source: list[str] = []
        if self.options.line_checksums:
            from tally.analysis.source import read_source

            source = read_source(analysis.path).splitlines()
        out = []
        for line in sorted(analysis.statements):
            checksum = f",{_line_hash(source[line - 1])}" if line <= len(source) else ""
            out.append(f"DA:{line},{self._hits(analysis, line)}{checksum}")
        if analysis.statements:
            out.append(f"LF:{len(analysis.statements)}")
            out.append(f"LH:{len(analysis.executed)}")
        return out

    def _functions(self, analysis: FileAnalysis) -> list[str]:
        # A function's lines, not its `def` line: lcov 2.4+ calls a file inconsistent when
        # a line hit (the signature, run as the module loads) lies in a function that
        # wasn't (coverage.py 7.18 changed its FN: records for this).
        functions = sorted(
            (min(r.lines), max(r.lines), r.name, r.start, r.lines)
            for r in analysis.regions
            if r.kind == "function" and r.lines
        )
        if not functions:
            return []
        out = []
        found = hit = 0
        names: set[str] = set()
        for first, last, region_name, start, lines in functions:
            part = analysis.within(lines)
            if not part.statements:
                continue
            found += 1
            ran = bool(part.executed)
            hit += ran
            name = _field(region_name)
            if name in names:
                name += f"@{start}"
            else:
                names.add(name)
            times = int(ran)
            if ran and analysis.counts is not None:
                times = max(analysis.counts.get(min(part.statements), 0), 1)
            out.append(f"FN:{first},{last},{name}")
            out.append(f"FNDA:{times},{name}")
        out.append(f"FNF:{found}")
        out.append(f"FNH:{hit}")
        return out

    def _branches(self, analysis: FileAnalysis) -> list[str]:
        branches = analysis.branches
        if branches is None:
            return []
        out = []
        total = hit = 0
        for line in sorted(branches.exits):
            taken = branches.taken.get(line, [])
            missing = branches.missing.get(line, [])
            ways = branches.exits[line]
            total += ways
            hit += ways - len(missing)
            if not taken:
                # No way on was taken: the line raised, or never ran (lcov's "-").
                ends = [(end, "-") for end in missing]
            else:
                counted = bool(branches.counts)
                ends = [
                    (end, str(branches.counts.get((line, end), 1) if counted else 1))
                    for end in taken
                ]
                ends += [(end, "0") for end in missing]
            # Exits after the ways within: an `if` at a function's end reads "else: leave".
            ends.sort(key=lambda e: (e[0] < 0, e))
            for end, times in ends:
                action = branches.actions.get((line, end), f"jump to line {end}")
                out.append(f"BRDA:{line},0,{_field(action)},{times}")
        if total:
            out.append(f"BRF:{total}")
            out.append(f"BRH:{hit}")
        return out
