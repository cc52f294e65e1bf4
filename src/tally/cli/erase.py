"""`tally erase`: delete the data file."""

from __future__ import annotations

import argparse
from typing import Any

from tally.cli.options import add_common, overrides_from

__all__ = ["register"]


def register(commands: Any) -> None:
    """Add the `erase` command."""
    parser = commands.add_parser("erase", help="delete the data file")
    add_common(parser)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Delete the data file named by --data-file / COVERAGE_FILE / [run] data_file."""
    from tally.api import Coverage
    from tally.config.readers import load_config

    config = load_config(args.rcfile, overrides=overrides_from(args))
    Coverage(config=config).erase()
    return 0
