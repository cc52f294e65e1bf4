"""`tally combine`: add parallel data files (processes, workers, CI shards) into one."""

from __future__ import annotations

import argparse
from typing import Any

from tally.cli.options import add_common, add_table_flags, overrides_from
from tally.warnings import warn

__all__ = ["register"]


def register(commands: Any) -> None:
    """Add the `combine` command."""
    parser = commands.add_parser(
        "combine",
        help="combine parallel data files into one",
        usage="tally combine [options] [PATH ...]",
        description="Add the data files given (a directory stands for the parallel data "
        "files in it; none given, those beside the data file) into the data file: lines "
        "and arcs united, counts added, paths remapped by [paths]. The inputs are deleted "
        "afterwards unless --keep.",
    )
    add_common(parser)
    add_table_flags(parser, ["run:append"])
    parser.add_argument(
        "--keep", action="store_true", help="keep the input files after combining them"
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="don't list the files combined")
    parser.add_argument("paths", nargs="*", metavar="PATH", help="data files or directories")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Combine; exit 0 when something was combined (skipped inputs are named on stderr)."""
    from tally.api import Coverage
    from tally.config.readers import load_config

    config = load_config(args.rcfile, overrides=overrides_from(args))
    result = Coverage(config=config).combine(args.paths, keep=args.keep)
    for notice in result.warnings():
        warn(notice)
    if not args.quiet:
        for path in result.combined:
            print(f"Combined data file {path}")
    return 0
