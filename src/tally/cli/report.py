"""`tally report`: the terminal table; exit status 2 when coverage is under fail_under."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from tally.cli.options import add_common, add_table_flags, overrides_from
from tally.exceptions import EXIT_FAIL_UNDER, ConfigError
from tally.report.registry import TABLE_SETTINGS

if TYPE_CHECKING:
    from tally.analysis.analyzer import Analyses
    from tally.api import Coverage
    from tally.config.readers import Config

__all__ = ["configured", "fail_under_status", "load_results", "register"]


def register(commands: Any) -> None:
    """Add the `report` command."""
    parser = commands.add_parser("report", help="print a coverage table")
    add_common(parser)
    add_table_flags(parser, TABLE_SETTINGS)
    parser.add_argument(
        "--hot", type=int, metavar="N", help="also list the N most-executed lines (needs counts)"
    )
    parser.set_defaults(handler=handle)


def load_results(
    args: argparse.Namespace, formats: Iterable[str] = ()
) -> tuple[Coverage, Analyses]:
    """The façade over the configuration (files, environment, flags), and the data
    analysed by it, as every reporting command starts; warnings on stderr. The contexts
    that ran each line are read only when one of the report `formats` shows them."""
    cov = configured(args.rcfile, overrides_from(args))
    return cov, cov.analyze(formats=formats)


def configured(rcfile: str | None, overrides: Mapping[str, object]) -> Coverage:
    """The façade over the config files (`rcfile`, else the usual ones), the environment
    and `overrides`, as a reporting command reads them; the config's warnings on stderr."""
    from tally.api import Coverage
    from tally.warnings import warn

    cov = Coverage.configured(rcfile, overrides)
    for notice in cov.config.warnings:
        warn(notice)
    return cov


def handle(args: argparse.Namespace) -> int:
    """Print the table; 2 if under fail_under."""
    from tally.report.text import hot_lines

    if args.hot is not None and args.hot < 1:
        raise ConfigError(f"--hot takes a positive number of lines, not {args.hot}")
    cov, results = load_results(args)
    sys.stdout.write(cov.report("term", results=results))
    if args.hot:
        sys.stdout.write("\n" + hot_lines(results, args.hot))
    return fail_under_status(cov.config, results)


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
