"""`tally html|xml|json|lcov|badge`: write a report file; exit 2 when under fail_under.

Each command analyses the data as `tally report` does (same --include/--omit/--precision
and config), hands the results to its format's reporter, and writes what it renders.
"""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING, Any

from tally.cli.options import add_common, add_table_flags
from tally.warnings import Notice, warn

if TYPE_CHECKING:
    from tally.config.readers import Config
    from tally.report import FileReport

__all__ = ["FORMATS", "register"]

_COMMON = (
    "report:include",
    "report:omit",
    "report:precision",
    "report:skip_covered",
    "report:skip_empty",
    "report:fail_under",
    "report:ignore_errors",
)

# command -> (help, its own options)
FORMATS: dict[str, tuple[str, tuple[str, ...]]] = {
    "html": (
        "write an HTML report (default htmlcov/)",
        ("html:directory", "html:title", "html:show_contexts"),
    ),
    "xml": ("write a Cobertura XML report (default coverage.xml)", ("xml:output",)),
    "json": (
        "write a JSON report in coverage.py's format (default coverage.json)",
        ("json:output", "json:pretty_print", "json:show_contexts"),
    ),
    "lcov": ("write an LCOV report (default coverage.lcov)", ("lcov:output",)),
    "badge": ("write an SVG badge of the total (default coverage.svg)", ("tally:badge_output",)),
}


def register(commands: Any, name: str) -> None:
    """Add the report-writing command `name`."""
    help_text, own = FORMATS[name]
    parser = commands.add_parser(name, help=help_text)
    add_common(parser)
    add_table_flags(parser, _COMMON + own)
    parser.set_defaults(handler=handle, format_name=name)


def handle(args: argparse.Namespace) -> int:
    """Write the report; 2 if under fail_under."""
    from tally.cli.report import fail_under_status, load_results
    from tally.report.output import write_output

    name: str = args.format_name
    contexts_option = {"html": "html:show_contexts", "json": "json:show_contexts"}.get(name)
    config, results = load_results(args, contexts_option)
    precision = int(config.get("report:precision"))
    if name == "html":
        from tally.report.html import HtmlOptions, HtmlReport

        directory = config.text("html:directory")
        html = HtmlReport(
            HtmlOptions(
                title=config.text("html:title"),
                precision=precision,
                skip_covered=config.flag("html:skip_covered") or config.flag("report:skip_covered"),
                skip_empty=config.flag("html:skip_empty") or config.flag("report:skip_empty"),
                extra_css=config.text("html:extra_css"),
                show_contexts=config.flag("html:show_contexts"),
                trend=_trend(config),
            )
        )
        html.write(results, directory)
        _say(
            f"Wrote HTML report to {os.path.join(directory, 'index.html')} "
            f"({html.written} file pages written, {html.reused} unchanged)"
        )
    else:
        reporter, key = _file_reporter(name, config, precision)
        dest = config.text(key)
        write_output(dest, reporter.render(results), what=reporter.what)
        if dest != "-":
            _say(f"Wrote {reporter.what} to {dest}")
    return fail_under_status(config, results)


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


def _file_reporter(name: str, config: Config, precision: int) -> tuple[FileReport, str]:
    """The reporter of the one-file format `name`, and the option naming its output."""
    if name == "xml":
        from tally.report.xml import XmlOptions, XmlReport

        xml_options = XmlOptions(
            package_depth=int(config.get("xml:package_depth")),
            skip_empty=config.flag("report:skip_empty"),
            sources=tuple(config.items("run:source")),
        )
        return XmlReport(xml_options), "xml:output"
    if name == "json":
        from tally.report.json import JsonOptions, JsonReport

        json_options = JsonOptions(
            pretty_print=config.flag("json:pretty_print"),
            precision=precision,
            show_contexts=config.flag("json:show_contexts"),
        )
        return JsonReport(json_options), "json:output"
    if name == "lcov":
        from tally.report.lcov import LcovOptions, LcovReport

        lcov_options = LcovOptions(
            line_checksums=config.flag("lcov:line_checksums"),
            skip_empty=config.flag("report:skip_empty"),
        )
        return LcovReport(lcov_options), "lcov:output"
    from tally.report.badge import BadgeReport

    return BadgeReport(precision=precision), "tally:badge_output"


def _say(message: str) -> None:
    """A one-line note of what was written, on stdout unless the report itself is there."""
    print(message)
