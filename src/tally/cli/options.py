"""argparse flags generated from the option table, so the CLI and config never drift."""

from __future__ import annotations

import argparse
from collections.abc import Iterable

from tally.config.options import OPTIONS, Option

__all__ = ["add_common", "add_table_flags", "overrides_from"]

_SHORT = {"report:show_missing": "-m", "html:directory": "-d", "tally:annotate_directory": "-d"}


def add_common(parser: argparse.ArgumentParser) -> None:
    """--data-file, --rcfile and --debug, which every command takes."""
    parser.add_argument(
        "--data-file",
        dest="run:data_file",
        metavar="FILE",
        help="the data file (default .coverage; env COVERAGE_FILE)",
    )
    parser.add_argument(
        "--rcfile",
        metavar="FILE",
        help="the config file (default: .coveragerc, coverage.ini, setup.cfg, "
        "tox.ini, pyproject.toml; env COVERAGE_RCFILE)",
    )
    parser.add_argument(
        "--debug", action="store_true", help="explain choices (engine, config files) on stderr"
    )


def add_table_flags(parser: argparse.ArgumentParser, keys: Iterable[str]) -> None:
    """Add the flag of each option in `keys` (section:name) as the table declares it."""
    by_key = {o.key: o for o in OPTIONS}
    for key in keys:
        option = by_key[key]
        assert option.cli is not None, f"{key} has no flag in the option table"
        flags = [option.cli] + ([_SHORT[key]] if key in _SHORT else [])
        if option.type == "bool":
            # A flag for an option that is on by default turns it off (--no-...).
            on = not option.cli.startswith("--no-")
            parser.add_argument(*flags, dest=key, action="store_const", const=on, help=option.help)
        else:
            parser.add_argument(*flags, dest=key, metavar=_metavar(option), help=_help(option))


def _metavar(option: Option) -> str:
    if option.type in ("globs", "list", "regexes"):
        return "PAT1,PAT2,..."
    if option.type == "choice":
        return "{" + ",".join(option.choices) + "}"
    return option.name.upper()


def _help(option: Option) -> str:
    if option.type in ("globs", "list"):
        return option.help + " Comma-separated."
    return option.help


def overrides_from(args: argparse.Namespace) -> dict[str, object]:
    """The `section:name` values given on the command line, for load_config()."""
    return {k: v for k, v in vars(args).items() if ":" in k and v is not None}
