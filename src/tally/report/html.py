"""The HTML report: an index of files and a page per file, counts shown as a heat map.

The index is a sortable, filterable table (statements, missing, excluded, branches,
partial, coverage, and with counts the hottest line's count). A file page shows the
syntax-highlighted source with each line marked run, missing, partial or excluded, its
execution count shaded from cold to hot, and why each missing branch arm didn't happen.
Everything is escaped, nothing is fetched (the report opens from disk), and a re-run
rewrites only the pages whose content changed (status.json keeps their fingerprints).
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import html
import json
import keyword
import math
import os
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

from tally.analysis.analyzer import Analyses
from tally.analysis.results import FileAnalysis, display_covered, human_key
from tally.analysis.source import read_source
from tally.exceptions import OutputError, TallyError
from tally.report.output import write_output

__all__ = ["HtmlOptions", "HtmlReport", "highlight", "page_name"]

_ASSETS = ("style.css", "tally.js")
_STATUS = "status.json"
_STATUS_FORMAT = 1


@dataclass(frozen=True)
class HtmlOptions:
    """The `[html]` options, and the report precision."""

    title: str = "Coverage report"
    precision: int = 0
    skip_covered: bool = False
    skip_empty: bool = False
    extra_css: str = ""
    show_contexts: bool = False
    # Recorded runs, oldest first, for the trend chart: (when, total %, branch % or None).
    trend: tuple[tuple[str, float, float | None], ...] = ()


def page_name(name: str) -> str:
    """The file page of the source named `name`: readable, safe on every file system,
    and distinct for distinct names (a hash of the full name)."""
    flat = re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_")[-80:]
    digest = hashlib.sha1(name.encode("utf-8", "surrogatepass")).hexdigest()[:10]
    return f"{flat}_{digest}.html"


# One pass of a regular expression over the source: tokenize is pure Python before 3.12
# and took a third of the time of a 5,000-file report. Comments, strings (with prefixes,
# triple-quoted across lines, unterminated to the end of their line), names (keywords are
# some of them) and numbers; everything between is plain text.
_LEXER = re.compile(
    r"""
    (?P<com>\#[^\n]*)
  | (?P<str>[rRbBuUfFtT]{0,2}
      (?: '''(?:[^\\]|\\.)*?(?:'''|\Z) | \"\"\"(?:[^\\]|\\.)*?(?:\"\"\"|\Z)
        | '(?:[^'\\\n]|\\.)*(?:'|$) | "(?:[^"\\\n]|\\.)*(?:"|$) ))
  | (?P<name>[^\W\d]\w*)
  | (?P<num>(?:0[xXoObB][0-9a-fA-F_]+|(?:\d[\d_]*\.?[\d_]*|\.\d[\d_]*)(?:[eE][+-]?\d+)?[jJ]?))
    """,
    re.VERBOSE | re.MULTILINE | re.DOTALL,
)
_KEYWORDS = frozenset(keyword.kwlist)


def highlight(text: str) -> list[str]:
    """Each line of the source `text` as escaped HTML, keywords, strings, comments and
    numbers in spans of their class."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines: list[list[str]] = [[]]

    def add(chunk: str, cls: str | None) -> None:
        parts = chunk.split("\n")
        for i, part in enumerate(parts):
            if i:
                lines.append([])
            if part:
                escaped = html.escape(part)
                lines[-1].append(f'<span class="{cls}">{escaped}</span>' if cls else escaped)

    at = 0
    for match in _LEXER.finditer(text):
        cls = match.lastgroup
        if cls == "name":
            if match.group() not in _KEYWORDS:
                continue
            cls = "key"
        if match.start() > at:
            add(text[at : match.start()], None)
        add(match.group(), cls)
        at = match.end()
    add(text[at:], None)
    if text.endswith("\n") or not text:
        lines.pop()
    return ["".join(line) for line in lines]


def _line_class(analysis: FileAnalysis, line: int) -> str:
    if line in analysis.excluded:
        return "exc"
    if line in analysis.statements:
        if line not in analysis.executed:
            return "mis"
        branches = analysis.branches
        if branches is not None and line in branches.missing:
            return "par"
        return "run"
    return "pln"


def _times(n: int) -> str:
    return "never" if n == 0 else ("once" if n == 1 else f"{n:,} times")


class HtmlReport:
    """Writes the HTML report of analysed results into a directory."""

    what = "HTML report"

    def __init__(self, options: HtmlOptions) -> None:
        self.options = options
        self.written = 0  # file pages written by the last write()
        self.reused = 0  # file pages left as they were

    def write(self, results: Analyses, directory: str) -> None:
        """Write index.html, a page per file and the assets into `directory`."""
        try:
            os.makedirs(directory, exist_ok=True)
        except OSError as exc:
            raise OutputError(
                f"can't write the HTML report to {directory}: {exc.strerror}; "
                "choose another directory with -d"
            ) from None
        extra_css = self._read_extra_css()  # before anything is written
        files = self._chosen(results)
        status = self._read_status(directory)
        settings = self._settings(results)
        old: dict[str, str] = {}
        if status.get("settings") == settings and isinstance(status.get("files"), dict):
            old = status["files"]
        fingerprints: dict[str, str] = {}
        self.written = self.reused = 0
        names = [page_name(a.name) for a in files]
        for i, analysis in enumerate(files):
            page = names[i]
            prev_page = names[i - 1] if i > 0 else ""
            next_page = names[i + 1] if i + 1 < len(names) else ""
            text = self._source(analysis)
            fingerprint = self._fingerprint(analysis, text, prev_page, next_page)
            fingerprints[page] = fingerprint
            target = os.path.join(directory, page)
            if old.get(page) == fingerprint and os.path.exists(target):
                self.reused += 1
                continue
            content = self._file_page(results, analysis, text, prev_page, next_page)
            write_output(target, content, what="HTML report")
            self.written += 1
        for stale in set(old) - set(fingerprints):
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(directory, stale))
        write_output(
            os.path.join(directory, "index.html"), self._index(results, files), what="HTML report"
        )
        for kind, page in _REGION_PAGES.items():
            content = self._region_index(results, files, kind)
            write_output(os.path.join(directory, page), content, what="HTML report")
        self._write_assets(directory, extra_css)
        status_text = json.dumps(
            {"format": _STATUS_FORMAT, "settings": settings, "files": fingerprints}, indent=0
        )
        write_output(os.path.join(directory, _STATUS), status_text, what="HTML report")

    def _read_extra_css(self) -> str | None:
        if not self.options.extra_css:
            return None
        try:
            with open(self.options.extra_css, encoding="utf-8") as handle:
                return handle.read()
        except OSError as exc:
            raise OutputError(
                f"can't read extra_css {self.options.extra_css}: {exc.strerror}; "
                "fix [html] extra_css"
            ) from None

    def _chosen(self, results: Analyses) -> list[FileAnalysis]:
        """The files the report shows, in name order."""
        chosen = []
        for analysis in results.files:
            nums = analysis.numbers
            if self.options.skip_empty and nums.n_statements == 0:
                continue
            if self.options.skip_covered and not nums.n_missing and not nums.n_partial_branches:
                continue
            chosen.append(analysis)
        return sorted(chosen, key=lambda a: human_key(a.name))

    @staticmethod
    def _source(analysis: FileAnalysis) -> str:
        try:
            return read_source(analysis.path)
        except TallyError:
            return ""  # gone since it was analysed: the page shows no source

    def _settings(self, results: Analyses) -> str:
        """What every page depends on: a change re-renders them all."""
        from tally.version import __version__

        assets = "".join(_asset(name) for name in _ASSETS)
        key = json.dumps(
            [
                __version__,
                self.options.title,
                self.options.precision,
                results.has_arcs,
                results.has_counts,
                assets,
                self.options.extra_css,
                self.options.show_contexts,
                self.options.trend,
            ]
        )
        return hashlib.sha1(key.encode()).hexdigest()

    @staticmethod
    def _fingerprint(analysis: FileAnalysis, text: str, prev_page: str, next_page: str) -> str:
        """What one file page depends on besides the settings."""
        branches = analysis.branches
        key = json.dumps(
            [
                analysis.name,
                sorted(analysis.statements),
                sorted(analysis.executed),
                sorted(analysis.excluded),
                sorted((analysis.counts or {}).items()),
                sorted((branches.missing if branches else {}).items()),
                sorted((branches.taken if branches else {}).items()),
                sorted(map(list, (branches.counts if branches else {}).items())),
                sorted((analysis.contexts or {}).items()),
                prev_page,
                next_page,
            ],
            default=list,
        )
        digest = hashlib.sha1(key.encode("utf-8", "surrogatepass"))
        digest.update(text.encode("utf-8", "surrogatepass"))
        return digest.hexdigest()

    @staticmethod
    def _read_status(directory: str) -> dict[str, Any]:
        try:
            with open(os.path.join(directory, _STATUS), encoding="utf-8") as handle:
                status = json.load(handle)
        except (OSError, ValueError):
            return {}
        if not isinstance(status, dict) or status.get("format") != _STATUS_FORMAT:
            return {}
        return status

    @staticmethod
    def _write_assets(directory: str, extra_css: str | None) -> None:
        """The stylesheet and script (rewritten only when they differ), and extra_css."""
        for name in _ASSETS:
            content = _asset(name)
            target = os.path.join(directory, name)
            try:
                with open(target, encoding="utf-8") as handle:
                    if handle.read() == content:
                        continue
            except OSError:
                pass
            write_output(target, content, what="HTML report")
        if extra_css is not None:
            write_output(os.path.join(directory, "extra.css"), extra_css, what="HTML report")

    def _head(self, title: str) -> str:
        extra = '<link rel="stylesheet" href="extra.css">' if self.options.extra_css else ""
        return (
            '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            '<meta name="color-scheme" content="light dark">\n'
            f"<title>{html.escape(title)}</title>\n"
            f'<link rel="stylesheet" href="style.css">{extra}\n'
            '<script src="tally.js" defer></script>\n</head>\n'
        )

    def _footer(self) -> str:
        from tally.version import __version__

        when = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %z")
        return f"<footer>Created by tally {__version__} at {when}</footer>\n</body>\n</html>\n"

    def _columns(self, results: Analyses) -> list[str]:
        columns = ["File", "Statements", "Missing", "Excluded"]
        if results.has_arcs:
            columns += ["Branches", "Partial"]
        columns.append("Coverage")
        if results.has_counts:
            columns.append("Hottest")
        return columns

    def _index(self, results: Analyses, files: list[FileAnalysis]) -> str:
        precision = self.options.precision
        total = results.total
        out = [self._head(self.options.title), "<body>\n<header>\n"]
        shown = display_covered(total.pc_covered, precision)
        out.append(f"<h1>{html.escape(self.options.title)}: {shown}%</h1>\n")
        out.append(
            f'<p class="totals">{total.n_files} files, {total.n_statements} statements, '
            f"{total.n_missing} missing, {total.n_excluded} excluded"
            + (
                f", {total.n_branches} branches, {total.n_partial_branches} partial"
                if results.has_arcs
                else ""
            )
            + "</p>\n"
        )
        out.append(
            '<p class="help">Click a column to sort; <kbd>/</kbd> filters; on a file page '
            "<kbd>j</kbd>/<kbd>k</kbd> go to the next/previous missed line, "
            "<kbd>n</kbd>/<kbd>p</kbd> to the next/previous file, <kbd>u</kbd> back here.</p>\n"
            + _views("file")
            + "</header>\n<main>\n"
        )
        if len(self.options.trend) > 1:
            out.append(trend_svg(self.options.trend))
        out.append(
            '<input id="filter" type="search" placeholder="Filter files…" '
            'aria-label="Filter files">\n'
        )
        out.append('<table class="index">\n<thead><tr>')
        out.extend(f"<th>{c}</th>" for c in self._columns(results))
        out.append("</tr></thead>\n<tbody>\n")
        for analysis in files:
            out.append(self._index_row(results, analysis))
        out.append("</tbody>\n<tfoot><tr><td>Total</td>")
        out.append(
            f"<td>{total.n_statements}</td><td>{total.n_missing}</td><td>{total.n_excluded}</td>"
        )
        if results.has_arcs:
            out.append(f"<td>{total.n_branches}</td><td>{total.n_partial_branches}</td>")
        out.append(f"<td>{display_covered(total.pc_covered, precision)}%</td>")
        if results.has_counts:
            hottest = max((_hottest(a) for a in files), default=0)
            out.append(f"<td>{hottest:,}</td>")
        out.append("</tr></tfoot>\n</table>\n")
        if not files:
            out.append("<p>No files to show.</p>\n")
        out.append("</main>\n")
        out.append(self._footer())
        return "".join(out)

    def _region_index(self, results: Analyses, files: list[FileAnalysis], kind: str) -> str:
        """function_index.html or class_index.html, as coverage.py writes them: a row for
        each function (or class) of each file, and one for its code outside them all."""
        precision = self.options.precision
        title = f"{self.options.title}: {kind}s"
        out = [self._head(title), "<body>\n<header>\n"]
        out.append(f"<h1>{html.escape(title)}</h1>\n{_views(kind)}</header>\n<main>\n")
        columns = ["File", kind.capitalize(), "Statements", "Missing", "Excluded"]
        if results.has_arcs:
            columns += ["Branches", "Partial"]
        columns.append("Coverage")
        out.append('<table class="index">\n<thead><tr>')
        out.extend(f"<th>{c}</th>" for c in columns)
        out.append("</tr></thead>\n<tbody>\n")
        for analysis in files:
            page = page_name(analysis.name)
            for name, region, part in analysis.by_region(kind):
                nums = part.numbers
                anchor = f"#t{region.start}" if region is not None else ""
                shown = html.escape(name) if name else f"(no {kind})"
                cells = [
                    f"<td>{html.escape(analysis.name)}</td>",
                    f'<td><a href="{page}{anchor}">{shown}</a></td>',
                    f"<td>{nums.n_statements}</td><td>{nums.n_missing}</td>"
                    f"<td>{nums.n_excluded}</td>",
                ]
                if results.has_arcs:
                    cells.append(f"<td>{nums.n_branches}</td><td>{nums.n_partial_branches}</td>")
                pc = nums.pc_covered
                cells.append(f'<td data-sort="{pc:.4f}">{display_covered(pc, precision)}%</td>')
                out.append("<tr>" + "".join(cells) + "</tr>\n")
        out.append("</tbody>\n</table>\n</main>\n")
        out.append(self._footer())
        return "".join(out)

    def _index_row(self, results: Analyses, analysis: FileAnalysis) -> str:
        # Kept short: 5,000 rows must stay well under a megabyte.
        nums = analysis.numbers
        pc = nums.pc_covered
        name = html.escape(analysis.name)
        cells = [
            f'<td><a href="{page_name(analysis.name)}">{name}</a></td>',
            f"<td>{nums.n_statements}</td><td>{nums.n_missing}</td><td>{nums.n_excluded}</td>",
        ]
        if results.has_arcs:
            cells.append(f"<td>{nums.n_branches}</td><td>{nums.n_partial_branches}</td>")
        cells.append(
            f'<td data-sort="{pc:.4f}">{display_covered(pc, self.options.precision)}%</td>'
        )
        if results.has_counts:
            hottest = _hottest(analysis)
            cells.append(f'<td data-sort="{hottest}">{hottest:,}</td>')
        return "<tr>" + "".join(cells) + "</tr>\n"

    def _file_page(
        self,
        results: Analyses,
        analysis: FileAnalysis,
        text: str,
        prev_page: str,
        next_page: str,
    ) -> str:
        nums = analysis.numbers
        precision = self.options.precision
        name = html.escape(analysis.name)
        counts = analysis.counts
        hottest = _hottest(analysis)
        scale = math.log1p(hottest) if hottest else 1.0
        nav = f' data-prev="{prev_page}" data-next="{next_page}"'
        out = [self._head(f"{analysis.name}: {display_covered(nums.pc_covered, precision)}%")]
        out.append(f"<body{nav}>\n<header>\n")
        out.append(f"<h1>{name}: {display_covered(nums.pc_covered, precision)}%</h1>\n")
        summary = (
            f"{nums.n_statements} statements, {nums.n_executed} run, {nums.n_missing} missing, "
            f"{nums.n_excluded} excluded"
        )
        if results.has_arcs:
            summary += f", {nums.n_branches} branches, {nums.n_partial_branches} partial"
        if counts is not None:
            summary += f"; {analysis.hits:,} line executions, hottest line {hottest:,}"
        out.append(f'<p class="totals">{summary}</p>\n')
        out.append(
            '<p class="legend"><span class="run">run</span><span class="mis">missing</span>'
            + ('<span class="par">partial</span>' if results.has_arcs else "")
            + '<span class="exc">excluded</span> '
            + '<a href="index.html">index</a>'
            + (f' · <a href="{prev_page}">previous file</a>' if prev_page else "")
            + (f' · <a href="{next_page}">next file</a>' if next_page else "")
            + " · <kbd>j</kbd>/<kbd>k</kbd> next/previous missed line</p>\n"
        )
        out.append('</header>\n<main class="source">\n')
        contexts = analysis.contexts if self.options.show_contexts else None
        names, ids = _context_ids(contexts)
        for number, line_html in enumerate(highlight(text), start=1):
            button = ""
            if contexts and number in contexts and number in analysis.executed:
                button = _context_button(contexts[number], ids)
            out.append(self._line(analysis, number, line_html, counts, scale, button=button))
        if names:
            # Listed once, the lines pointing into the list: a line run by every test of
            # a suite would otherwise repeat all their names.
            out.append('<ol id="contexts" hidden>')
            out.extend(f"<li>{html.escape(name) if name else '(empty)'}</li>" for name in names)
            out.append("</ol>\n")
        out.append("</main>\n")
        out.append(self._footer())
        return "".join(out)

    @staticmethod
    def _line(
        analysis: FileAnalysis,
        number: int,
        line_html: str,
        counts: dict[int, int] | None,
        scale: float,
        *,
        button: str = "",
    ) -> str:
        cls = _line_class(analysis, number)
        count_cell = ""
        if counts is not None:
            n = counts.get(number, 0) if number in analysis.executed else 0
            if n:
                heat = math.log1p(n) / scale
                count_cell = (
                    f'<span class="c" style="--heat:{heat:.3f}" title="run {_times(n)}">'
                    f"{n:,}</span>"
                )
            else:
                count_cell = '<span class="c"></span>'
        notes = []
        branches = analysis.branches
        if branches is not None and number in branches.exits:
            for end in branches.missing.get(number, []):
                if cls == "par":
                    notes.append(
                        branches.descriptions.get(
                            (number, end), f"line {number} didn't jump to line {end}"
                        )
                    )
            if branches.counts and number in analysis.executed:
                for end in branches.taken.get(number, []) + branches.missing.get(number, []):
                    taken = branches.counts.get((number, end), 0)
                    where = "exit" if end < 0 else f"line {end}"
                    notes.append(f"to {where}: {_times(taken)}")
        note = f'<span class="r">{html.escape("; ".join(notes))}</span>' if notes else ""
        return (
            f'<p id="t{number}" class="{cls}">'
            f'<span class="n"><a href="#t{number}">{number}</a></span>'
            f'{count_cell}<span class="t">{line_html or " "}</span>{note}{button}</p>\n'
        )


def trend_svg(points: tuple[tuple[str, float, float | None], ...]) -> str:
    """A line chart of coverage over recorded runs (and of branch coverage when every run
    has it), inline SVG: no script, no network."""
    width, height, pad = 600, 160, 30
    n = len(points)
    values = [p[1] for p in points] + [p[2] for p in points if p[2] is not None]
    low = max(0.0, math.floor((min(values) - 1) / 10) * 10)  # a tens line below them all

    def xy(i: int, value: float) -> tuple[float, float]:
        x = pad + (width - 2 * pad) * (i / (n - 1))
        y = height - pad - (height - 2 * pad) * ((value - low) / (100.0 - low))
        return x, y

    def polyline(cls: str, series: list[float]) -> str:
        joined = " ".join(f"{x:.1f},{y:.1f}" for x, y in (xy(i, v) for i, v in enumerate(series)))
        return f'<polyline class="{cls}" points="{joined}"/>'

    lines = [polyline("total", [p[1] for p in points])]
    branches = [p[2] for p in points if p[2] is not None]
    if len(branches) == n:
        lines.append(polyline("branch", branches))
    dots = []
    for i, (when, total, _) in enumerate(points):
        x, y = xy(i, total)
        label = html.escape(f"{when}: {total:.1f}%")
        dots.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3"><title>{label}</title></circle>')
    axis = (
        f'<text x="2" y="{pad}">100%</text><text x="2" y="{height - pad}">{low:.0f}%</text>'
        f'<text x="{pad}" y="{height - 6}">{html.escape(points[0][0][:10])}</text>'
        f'<text x="{width - pad}" y="{height - 6}" text-anchor="end">'
        f"{html.escape(points[-1][0][:10])}</text>"
    )
    caption = f"Coverage over the last {n} recorded runs" + (
        " (dashed: branches)" if len(lines) > 1 else ""
    )
    return (
        f'<figure class="trend"><svg viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{caption}">{axis}{"".join(lines)}{"".join(dots)}</svg>'
        f"<figcaption>{caption}</figcaption></figure>\n"
    )


def _context_ids(contexts: dict[int, list[str]] | None) -> tuple[list[str], dict[str, int]]:
    """The contexts named on a file page, sorted, and each one's place in that list."""
    names = sorted({name for found in (contexts or {}).values() for name in found})
    return names, {name: i for i, name in enumerate(names)}


def _context_button(found: list[str], ids: dict[str, int]) -> str:
    """The button that lists the contexts `found` that ran a line."""
    label = f"{len(found)} context{'s' if len(found) != 1 else ''}"
    refs = " ".join(str(ids[name]) for name in found)
    return (
        f'<button type="button" class="x" data-ctx="{refs}" aria-expanded="false" '
        f'title="the contexts that ran this line">{label}</button>'
    )


# The index pages of functions and classes, by region kind (coverage.py's names).
_REGION_PAGES = {"function": "function_index.html", "class": "class_index.html"}


def _views(current: str) -> str:
    """The links between the three indexes, the `current` one ("file", "function",
    "class") shown as where the reader is."""
    pages = {"file": ("Files", "index.html"), "function": ("Functions", _REGION_PAGES["function"])}
    pages["class"] = ("Classes", _REGION_PAGES["class"])
    links = [
        f"<b>{label}</b>" if kind == current else f'<a href="{page}">{label}</a>'
        for kind, (label, page) in pages.items()
    ]
    return '<p class="views">' + " · ".join(links) + "</p>\n"


def _hottest(analysis: FileAnalysis) -> int:
    """The count of the file's most-executed statement (0 without counts)."""
    if not analysis.counts:
        return 0
    return max((c for n, c in analysis.counts.items() if n in analysis.statements), default=0)


def _asset(name: str) -> str:
    return resources.files("tally.report").joinpath("assets", name).read_text(encoding="utf-8")
