"""`tally html|xml|json|lcov|badge`: write a report file; exit 2 when under fail_under.

Each command analyses the data as `tally report` does (same --include/--omit/--precision
and config) and writes its format (report/registry.py lists them).
"""

from __future__ import annotations

import argparse
from typing import Any

from tally.cli.options import add_common, add_table_flags
from tally.report.registry import COMMON, FORMATS

__all__ = ["register"]


def register(commands: Any, name: str) -> None:
    """Add the report-writing command `name`."""
    form = FORMATS[name]
    parser = commands.add_parser(name, help=form.summary)
    add_common(parser)
    add_table_flags(parser, COMMON + form.options)
    parser.set_defaults(handler=handle, format_name=name)


def handle(args: argparse.Namespace) -> int:
    """Write the report; 2 if under fail_under."""
    from tally.cli.report import fail_under_status, load_results

    cov, results = load_results(args, [args.format_name])
    said = cov.report(args.format_name, results=results)
    if said:
        print(said)  # a note of what was written, unless the report itself went to stdout
    return fail_under_status(cov.config, results)
