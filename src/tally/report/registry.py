"""The report formats, listed once: each one's name, what it writes and where by default,
the settings it reads, and how it is written from analysed results. (Light to import:
`tally run` reads the list for its command line.)

The command line's report commands and their help (cli/), the façade's
`Coverage.report` (api.py) and the pytest plugin's `--tally-report` choices all come
from FORMATS. Reporters are imported only when their format is written.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, NamedTuple

from tally.warnings import Notice, warn

if TYPE_CHECKING:
    from tally.analysis.analyzer import Analyses
    from tally.config.readers import Config
    from tally.report import FileReport

__all__ = [
    "COMMON",
    "FORMATS",
    "TABLES",
    "TABLE_SETTINGS",
    "ReportFormat",
    "Table",
    "pytest_choices",
    "settings_of",
    "shows_contexts",
    "terminal_table",
    "write_table",
]

# The settings every report takes: which files, how precise, when coverage is too low.
COMMON = (
    "report:include",
    "report:omit",
    "report:precision",
    "report:skip_covered",
    "report:skip_empty",
    "report:fail_under",
    "report:ignore_errors",
)

# The settings of the tables besides COMMON (`tally report`'s flags).
TABLE_SETTINGS = (
    *COMMON,
    "report:show_missing",
    "report:sort",
    "report:format",
    "report:show_counts",
)

# Writes a format's report of `results` to `dest`; returns the line that says so.
Writer = Callable[["Config", "Analyses", str], str]


class ReportFormat(NamedTuple):
    """One report format that writes a file (or a directory)."""

    name: str  # its command (`tally NAME`) and its `--tally-report NAME[:DEST]`
    summary: str  # what it writes, with its default destination
    options: tuple[str, ...]  # its own settings, besides COMMON
    destination: str  # the setting naming where it goes
    write: Writer
    contexts: str | None = None  # the setting that asks for each line's contexts
    in_pytest: bool = True  # offered by `--tally-report` (pytest-cov has no badge)


class Table(NamedTuple):
    """One way to show the terminal table (`tally report`, `--tally-report NAME`)."""

    name: str
    show_missing: bool = False  # with each file's missing lines, whatever the config says
    format: str | None = None  # "markdown" (writable to a file); None: as the config says
    append: bool = False  # written to the end of its file, not over it


# The tables, by the names pytest-cov gives them.
TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table("term"),
        Table("term-missing", show_missing=True),
        Table("markdown", format="markdown"),
        Table("markdown-append", format="markdown", append=True),
    )
}


def settings_of(format: str) -> tuple[str, ...]:
    """The settings a report `format` (a table or a file format) reads. Raises
    UsageError for a format tally doesn't have."""
    if format in TABLES:
        return TABLE_SETTINGS
    form = FORMATS.get(format)
    if form is None:
        from tally.exceptions import UsageError

        raise UsageError(
            f"no report format {format!r}: use one of {', '.join([*TABLES, *FORMATS])}"
        )
    return (*COMMON, *form.options)


def pytest_choices() -> list[str]:
    """The report types `--tally-report` offers: the tables, then the file formats."""
    return [*TABLES, *(name for name, form in FORMATS.items() if form.in_pytest)]


def terminal_table(config: Config, results: Analyses, table: str = "term") -> str:
    """The terminal table (`tally report`) of `results` as `config` asks for it, shown
    the way `table` (a name in TABLES) shows it over the config."""
    from tally.report.text import TextOptions, render_table

    shown = TABLES[table]
    options = TextOptions(
        show_missing=shown.show_missing or config.flag("report:show_missing"),
        skip_covered=config.flag("report:skip_covered"),
        skip_empty=config.flag("report:skip_empty"),
        sort=config.text("report:sort"),
        precision=int(config.get("report:precision")),
        format=shown.format or config.text("report:format"),
        show_counts=config.flag("report:show_counts"),
    )
    return render_table(results, options)


def write_table(config: Config, results: Analyses, table: str, dest: str) -> str:
    """Write a table (the Markdown one, for a pull request) to `dest`, or at its end for
    markdown-append; the line saying so."""
    from tally.report.output import write_output

    text = terminal_table(config, results, table)
    if not TABLES[table].append:
        write_output(dest, text, what="Markdown report")
        return f"Wrote Markdown report to {dest}"
    # Appended whole or not at all, as every report file is written: the old text and
    # the new, written together.
    try:
        with open(dest, encoding="utf-8") as old:
            text = old.read() + text
    except FileNotFoundError:
        pass  # nothing to append to yet
    except (OSError, UnicodeDecodeError) as exc:
        from tally.exceptions import OutputError

        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise OutputError(
            f"can't append the Markdown report to {dest}: {reason}; choose another file"
        ) from None
    write_output(dest, text, what="Markdown report")
    return f"Appended Markdown report to {dest}"


def shows_contexts(config: Config, formats: Iterable[str]) -> bool:
    """Does one of `formats` (names in FORMATS; others are ignored) show the contexts that
    ran each line, by `config`? The analysis reads them only then."""
    return any(
        (form := FORMATS.get(name)) is not None and form.contexts and config.flag(form.contexts)
        for name in formats
    )


def _write_html(config: Config, results: Analyses, directory: str) -> str:
    from tally.report.html import HtmlOptions, HtmlReport

    html = HtmlReport(
        HtmlOptions(
            title=config.text("html:title"),
            precision=int(config.get("report:precision")),
            skip_covered=config.flag("html:skip_covered") or config.flag("report:skip_covered"),
            skip_empty=config.flag("html:skip_empty") or config.flag("report:skip_empty"),
            extra_css=config.text("html:extra_css"),
            show_contexts=config.flag("html:show_contexts"),
            trend=_trend(config),
        )
    )
    html.write(results, directory)
    return (
        f"Wrote HTML report to {os.path.join(directory, 'index.html')} "
        f"({html.written} file pages written, {html.reused} unchanged)"
    )


def _trend(config: Config) -> tuple[tuple[str, float, float | None], ...]:
    """The recorded runs for the HTML report's trend chart; none without a history store
    (and a store that can't be read costs the chart, with a warning, not the report)."""
    from tally.exceptions import TallyError
    from tally.track.history import History

    try:
        runs = History(config.text("tally:history_file")).runs(limit=50)
    except TallyError as err:
        warn(Notice(f"no trend chart: {err.message}", "history-unusable"))
        return ()
    return tuple((r.summary.at, r.summary.total_pc, r.summary.branch_pc) for r in runs)


def _write_annotate(config: Config, results: Analyses, directory: str) -> str:
    from tally.report.annotate import AnnotateReport

    report = AnnotateReport(directory, show_counts=config.flag("report:show_counts"))
    report.write(results)
    where = f"in {directory}" if directory else "beside their sources"
    return f"Wrote {report.written} annotated source files (,cover) {where}"


def _file_writer(reporter: Callable[[Config], FileReport]) -> Writer:
    """The writer of a one-file format whose reporter `reporter(config)` builds."""

    def write(config: Config, results: Analyses, dest: str) -> str:
        from tally.report.output import write_output

        report = reporter(config)
        write_output(dest, report.render(results), what=report.what)
        return "" if dest == "-" else f"Wrote {report.what} to {dest}"

    return write


def _xml(config: Config) -> FileReport:
    from tally.report.xml import XmlOptions, XmlReport

    return XmlReport(
        XmlOptions(
            package_depth=int(config.get("xml:package_depth")),
            skip_empty=config.flag("report:skip_empty"),
            sources=tuple(config.items("run:source")),
        )
    )


def _json(config: Config) -> FileReport:
    from tally.report.json import JsonOptions, JsonReport

    return JsonReport(
        JsonOptions(
            pretty_print=config.flag("json:pretty_print"),
            precision=int(config.get("report:precision")),
            show_contexts=config.flag("json:show_contexts"),
        )
    )


def _lcov(config: Config) -> FileReport:
    from tally.report.lcov import LcovOptions, LcovReport

    return LcovReport(
        LcovOptions(
            line_checksums=config.flag("lcov:line_checksums"),
            skip_empty=config.flag("report:skip_empty"),
        )
    )


def _badge(config: Config) -> FileReport:
    from tally.report.badge import BadgeReport

    return BadgeReport(precision=int(config.get("report:precision")))


FORMATS: dict[str, ReportFormat] = {
    f.name: f
    for f in (
        ReportFormat(
            "html",
            "write an HTML report, counts as a heat map (default htmlcov/)",
            ("html:directory", "html:title", "html:show_contexts"),
            "html:directory",
            _write_html,
            contexts="html:show_contexts",
        ),
        ReportFormat(
            "xml",
            "write a Cobertura XML report (default coverage.xml)",
            ("xml:output",),
            "xml:output",
            _file_writer(_xml),
        ),
        ReportFormat(
            "json",
            "write a JSON report in coverage.py's format (default coverage.json)",
            ("json:output", "json:pretty_print", "json:show_contexts"),
            "json:output",
            _file_writer(_json),
            contexts="json:show_contexts",
        ),
        ReportFormat(
            "lcov",
            "write an LCOV report with hit counts (default coverage.lcov)",
            ("lcov:output",),
            "lcov:output",
            _file_writer(_lcov),
        ),
        ReportFormat(
            "annotate",
            "write each source with its lines marked, as <file>,cover (default beside it)",
            ("tally:annotate_directory", "report:show_counts"),
            "tally:annotate_directory",
            _write_annotate,
        ),
        ReportFormat(
            "badge",
            "write an SVG coverage badge (default coverage.svg)",
            ("tally:badge_output",),
            "tally:badge_output",
            _file_writer(_badge),
            in_pytest=False,
        ),
    )
}
