"""The terminal report: coverage.py's table (plus Hits when counted), markdown, total, hot lines."""

from __future__ import annotations

import linecache
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tally.analysis.analyzer import Analyses
from tally.analysis.results import FileAnalysis, display_covered, human_key
from tally.exceptions import ConfigError

__all__ = ["TextOptions", "hot_lines", "render_table"]


@dataclass(frozen=True)
class TextOptions:
    """How the table looks (the `[report]` options)."""

    show_missing: bool = False
    skip_covered: bool = False
    skip_empty: bool = False
    sort: str = "name"
    precision: int = 0
    format: str = "text"
    show_counts: bool = True  # the Hits column, when the run was asked for counts


def _plural(n: int, thing: str) -> str:
    return f"{n} {thing}" if n == 1 else f"{n} {thing}s"


def render_table(results: Analyses, options: TextOptions) -> str:
    """The report as text, every line ending in a newline."""
    precision = options.precision
    # Hits before Cover, so that the TOTAL line still ends in its percentage: the
    # coverage regexes CI services document for coverage.py read it there.
    counted = results.has_counts and results.counts_asked and options.show_counts
    branched = results.has_arcs
    rows: list[tuple[FileAnalysis, list[str]]] = []
    skipped_covered = skipped_empty = 0
    total = results.total
    for analysis in results.files:
        nums = analysis.numbers
        if options.skip_covered and nums.n_missing == 0 and nums.n_partial_branches == 0:
            skipped_covered += 1
            continue
        if options.skip_empty and nums.n_statements == 0:
            skipped_empty += 1
            continue
        values = [analysis.name, str(nums.n_statements), str(nums.n_missing)]
        if branched:
            values += [str(nums.n_branches), str(nums.n_partial_branches)]
        if counted:
            values.append(str(analysis.hits))
        values.append(display_covered(nums.pc_covered, precision))
        if options.show_missing:
            values.append(analysis.missing_formatted())
        rows.append((analysis, values))
    if options.format == "total":
        return display_covered(total.pc_covered, precision) + "\n"
    rows = _sorted(rows, options.sort, counted)
    header = ["Name", "Stmts", "Miss", *(["Branch", "BrPart"] if branched else [])]
    header += [*(["Hits"] if counted else []), "Cover"]
    if options.show_missing:
        header.append("Missing")
    total_row = ["TOTAL", str(total.n_statements), str(total.n_missing)]
    if branched:
        total_row += [str(total.n_branches), str(total.n_partial_branches)]
    if counted:
        total_row.append(str(sum(a.hits for a in results.files)))
    total_row.append(display_covered(total.pc_covered, precision))
    if options.show_missing:
        total_row.append("")
    end_lines = []
    if options.skip_covered and skipped_covered:
        end_lines.append(f"\n{_plural(skipped_covered, 'file')} skipped due to complete coverage.")
    if options.skip_empty and skipped_empty:
        end_lines.append(f"\n{_plural(skipped_empty, 'empty file')} skipped.")
    if results.below_threshold:
        end_lines.append(
            f"\n{_plural(results.below_threshold, 'file')} below line_threshold skipped."
        )
    table = [v for _, v in rows]
    if options.format == "markdown":
        text = _markdown(header, table, total_row)
    else:
        text = _text(header, table, total_row)
    return text + "".join(line + "\n" for line in end_lines)


def _sorted(
    rows: list[tuple[FileAnalysis, list[str]]], sort: str, counted: bool
) -> list[tuple[FileAnalysis, list[str]]]:
    option = (sort or "name").lower()
    reverse = option.startswith("-")
    option = option.lstrip("+-")
    keys: dict[str, Callable[[FileAnalysis], Any]] = {
        "name": lambda a: human_key(a.name),
        "stmts": lambda a: (a.numbers.n_statements, a.name),
        "miss": lambda a: (a.numbers.n_missing, a.name),
        "cover": lambda a: (a.numbers.pc_covered, a.name),
        "branch": lambda a: (a.numbers.n_branches, a.name),
        "brpart": lambda a: (a.numbers.n_partial_branches, a.name),
    }
    if counted:
        keys["hits"] = lambda a: (a.hits, a.name)
    if option not in keys:
        raise ConfigError(
            f"invalid sorting option {sort!r}: use one of "
            + ", ".join(keys)
            + " (prefix - to reverse)"
        )
    key = keys[option]
    return sorted(rows, key=lambda row: key(row[0]), reverse=reverse)


def _text(header: list[str], rows: list[list[str]], total: list[str]) -> str:
    # Column widths and formats as coverage.py's report.py writes them.
    cover = header.index("Cover")
    max_name = max([len(r[0]) for r in rows] + [5]) + 1
    max_n = max(len(total[cover]) + 2, len(" Cover")) + 1
    max_n = max([max_n] + [len(r[cover]) + 2 for r in rows])
    head_fmt = {
        "Name": "{:{name_len}}",
        "Stmts": "{:>7}",
        "Miss": "{:>7}",
        "Branch": "{:>7}",
        "BrPart": "{:>7}",
        "Hits": "{:>9}",
        "Cover": "{:>{n}}",
        "Missing": "{:>10}",
    }
    header_str = "".join(head_fmt[h].format(h, name_len=max_name, n=max_n) for h in header)
    rule = "-" * len(header_str)
    row_fmt = dict(head_fmt, Cover="{:>{n}}%", Missing="   {:9}")
    out = [header_str, rule]

    def line(values: list[str]) -> str:
        return "".join(
            row_fmt[h].format(v, name_len=max_name, n=max_n - 1)
            for h, v in zip(header, values, strict=True)
        )

    out.extend(line(r) for r in rows)
    if rows:
        out.append(rule)
    out.append(line(total))
    return "".join(s.rstrip() + "\n" for s in out)


def _escape(text: str) -> str:
    return text.replace("_", "\\_").replace("*", "\\*")


def _markdown(header: list[str], rows: list[list[str]], total: list[str]) -> str:
    max_name = max([len(_escape(r[0])) for r in rows] + [len("**TOTAL**")]) + 1
    cover = header.index("Cover")
    max_n = max(len(total[cover]) + 6, len(" Cover "))
    fmt = {
        "Name": "| {:{name_len}}|",
        "Stmts": "{:>9} |",
        "Miss": "{:>9} |",
        "Branch": "{:>9} |",
        "BrPart": "{:>9} |",
        "Hits": "{:>9} |",
        "Cover": "{:>{n}} |",
        "Missing": "{:>10} |",
    }
    items = [fmt[h].format(h, name_len=max_name, n=max_n) for h in header]
    out = [
        "".join(items),
        "|"
        + " ".join(
            ["- |".rjust(len(items[0]) - 1, "-")]
            + ["-: |".rjust(len(i) - 1, "-") for i in items[1:]]
        ),
    ]
    row_fmt = dict(fmt, Cover="{:>{n}}% |")
    for r in rows:
        out.append(
            "".join(
                row_fmt[h].format(_escape(v), name_len=max_name, n=max_n - 1)
                for h, v in zip(header, r, strict=True)
            )
        )
    total_fmt = dict(fmt, Name="|{:{name_len}} |", Cover="{:>{n}} |")
    cells = []
    for h, v in zip(header, total, strict=True):
        shown = v if v == "" else (f" **{v}%**" if h == "Cover" else f" **{v}**")
        cells.append(total_fmt[h].format(shown, name_len=max_name, n=max_n))
    out.append("".join(cells))
    return "".join(s.rstrip() + "\n" for s in out)


def hot_lines(results: Analyses, n: int) -> str:
    """The `n` most-executed statements: rank, count, file:line, and the line's source."""
    if not results.has_counts:
        raise ConfigError("--hot needs execution counts: measure with `tally run --count`")
    entries = []
    for analysis in results.files:
        for line, count in (analysis.counts or {}).items():
            if line in analysis.statements and count:
                entries.append((count, analysis.name, line, analysis.path))
    entries.sort(key=lambda e: (-e[0], human_key(e[1]), e[2]))
    chosen = entries[:n]
    width = max([len(f"{e[0]:,}") for e in chosen] + [5])
    where_width = max([len(f"{e[1]}:{e[2]}") for e in chosen] + [9])
    out = [f"{'Rank':>4}  {'Count':>{width}}  {'Line':<{where_width}}  Source"]
    for rank, (count, name, line, path) in enumerate(chosen, start=1):
        source = linecache.getline(path, line).strip()
        out.append(
            f"{rank:>4}  {count:>{width},}  {name + ':' + str(line):<{where_width}}  {source}"
        )
    return "\n".join(out) + "\n"
