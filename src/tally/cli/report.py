"""`tally report`: the terminal table; exit status 2 when coverage is under fail_under."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from tally.cli.options import add_common, add_table_flags, overrides_from
from tally.exceptions import EXIT_FAIL_UNDER, ConfigError, NoDataError
from tally.warnings import Notice, silence, warn

if TYPE_CHECKING:
    from tally.analysis.analyzer import Analyses
    from tally.config.readers import Config
    from tally.data.sqlite import CoverageData

__all__ = ["fail_under_status", "load_results", "register"]

REPORT_KEYS = (
    "report:show_missing",
    "report:skip_covered",
    "report:skip_empty",
    "report:sort",
    "report:precision",
    "report:include",
    "report:omit",
    "report:fail_under",
    "report:format",
    "report:ignore_errors",
)


def register(commands: Any) -> None:
    """Add the `report` command."""
    parser = commands.add_parser("report", help="print a coverage table")
    add_common(parser)
    add_table_flags(parser, REPORT_KEYS)
    parser.add_argument(
        "--hot", type=int, metavar="N", help="also list the N most-executed lines (needs counts)"
    )
    parser.set_defaults(handler=handle)


def _journals(data_file: str) -> list[str]:
    """The raw data journals beside `data_file`: processes that never saved."""
    import glob

    from tally.data.journal import JOURNAL_SUFFIX

    return sorted(glob.glob(glob.escape(data_file) + ".*" + JOURNAL_SUFFIX))


def _incomplete_run(data: CoverageData, journals: list[str]) -> list[Notice]:
    """What a report must say of data from processes that never saved: those combined in
    (the data file's note), and journals beside it not combined yet."""
    from tally.data.journal import INCOMPLETE

    notes = data.meta().get(INCOMPLETE, "").split("\n")
    found = [Notice(f"the run was incomplete: {note}", "incomplete-run") for note in notes if note]
    for journal in journals:
        found.append(
            Notice(
                f"{journal} is the journal of a process that ended without saving; "
                "`tally combine` adds its data",
                "incomplete-run",
            )
        )
    return found


def load_results(
    args: argparse.Namespace, contexts_options: Iterable[str | None] = ()
) -> tuple[Config, Analyses]:
    """The configuration (files, environment, flags) and the data analysed by it, as
    every reporting command starts; warnings on stderr. The contexts that ran each line
    are read only when one of the flags `contexts_options` (such as "json:show_contexts")
    is on."""
    from tally.analysis.analyzer import analyze_data
    from tally.config.readers import load_config
    from tally.data.sqlite import CoverageData

    config = load_config(args.rcfile, overrides=overrides_from(args))
    silence(config.items("run:disable_warnings"))
    for notice in config.warnings:
        warn(notice)
    data_file = config.text("run:data_file")
    journals = _journals(data_file)
    if not os.path.exists(data_file) and journals:
        raise NoDataError(
            f"no data file {data_file}, but journals of processes that ended without saving "
            f"are beside it ({os.path.basename(journals[0])}...): run "
            "`tally combine` to make the data file from them"
        )
    data = CoverageData(data_file)
    for notice in _incomplete_run(data, journals):
        warn(notice)
    results = analyze_data(
        data,
        exclude=config.exclude_regexes(),
        partial=config.partial_regexes(),
        include=config.items("report:include"),
        omit=config.items("report:omit"),
        ignore_errors=config.flag("report:ignore_errors"),
        line_threshold=int(config.get("tally:line_threshold")),
        contexts=any(config.flag(option) for option in contexts_options if option),
    )
    for message in results.skipped_errors:
        warn(Notice(f"skipped: {message}", "skipped-file"))
    return config, results


def handle(args: argparse.Namespace) -> int:
    """Print the table; 2 if under fail_under."""
    from tally.report.registry import terminal_table
    from tally.report.text import hot_lines

    if args.hot is not None and args.hot < 1:
        raise ConfigError(f"--hot takes a positive number of lines, not {args.hot}")
    config, results = load_results(args)
    sys.stdout.write(terminal_table(config, results))
    if args.hot:
        sys.stdout.write("\n" + hot_lines(results, args.hot))
    return fail_under_status(config, results)


def fail_under_status(config: Config, results: Analyses) -> int:
    """The exit status every reporting command ends with: EXIT_FAIL_UNDER, with the reason
    on stderr, when the total is under fail_under; else 0."""
    from tally.analysis.results import fail_under_reason

    reason = fail_under_reason(
        results.total.pc_covered,
        config.number("report:fail_under"),
        int(config.get("report:precision")),
    )
    if reason:
        print(f"tally: coverage failure: {reason}", file=sys.stderr)
        return EXIT_FAIL_UNDER
    return 0
