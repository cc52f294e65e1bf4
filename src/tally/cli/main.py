"""`tally`'s entry point: parse the command line, run one command, set the exit status."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from tally.exceptions import EXIT_ERROR, TallyError, UsageError

__all__ = ["main"]

DESCRIPTION = "tally measures which lines of a Python program ran, and how many times."

EPILOG = """\
exit status: 0 ok; 1 an error (message on stderr), or a regression (baseline check,
compare, check --no-regression); 2 coverage under fail_under (report, html, xml, json,
lcov, badge) or under a threshold (check, diff).
`tally run` exits with the program's own status.
"""

# The commands as `tally --help` lists them, each once, by what they are for; the report
# formats (report/registry.py) join the report group.
GROUPS = {
    "measure": ("run", "combine", "erase"),
    "report": ("report",),
    "track": ("baseline", "compare", "check", "diff", "history"),
    "inspect": ("debug",),
}


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as a TallyError (exit 1), not its own exit 2,
    which coverage.py reserves for fail_under."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message} (see `{self.prog} --help`)")


# command -> the module under tally.cli that defines it; the report formats
# (report/registry.py) share cli/formats.py, and are added only when asked for, so that
# `tally run` doesn't load their list.
COMMANDS = {
    "run": "run",
    "report": "report",
    "combine": "combine",
    "baseline": "track",
    "compare": "track",
    "check": "track",
    "diff": "track",
    "history": "track",
    "erase": "erase",
    "debug": "debug",
}


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The command line; only the named command's parser when `argv` names one, so that
    `tally run` doesn't pay to build (and import) every other command."""
    import importlib

    from tally.version import __version__

    first = next((a for a in argv if not a.startswith("-")), None)
    known = dict(COMMANDS)
    if first not in COMMANDS:
        from tally.report.registry import FORMATS

        known.update(dict.fromkeys(FORMATS, "formats"))
    parser = _Parser(
        prog="tally",
        usage="tally [-h] [--version] COMMAND ...",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"tally {__version__}")
    # argparse's own list of the commands is left out: the description lists them, grouped.
    commands = parser.add_subparsers(
        dest="command",
        metavar="COMMAND",
        parser_class=_Parser,
        help=argparse.SUPPRESS,
        prog="tally",
    )
    names = [first] if first in known else list(known)
    for name in names:
        module = importlib.import_module(f"tally.cli.{known[name]}")
        if known[name] == name:
            module.register(commands)
        else:
            module.register(commands, name)
    if len(names) > 1:
        parser.description = DESCRIPTION + "\n\n" + _command_list(commands)
    return parser


def _command_list(commands: argparse._SubParsersAction[Any]) -> str:
    """The commands, each once with its summary, grouped as GROUPS says (a command in no
    group, a report format, goes in the report group)."""
    summaries = {action.dest: action.help or "" for action in commands._choices_actions}
    grouped = {group: list(names) for group, names in GROUPS.items()}
    placed = {name for names in GROUPS.values() for name in names}
    grouped["report"] += [name for name in summaries if name not in placed]
    width = max(map(len, summaries)) + 2
    lines = ["commands:"]
    for group, names in grouped.items():
        lines.append(f"  {group}")
        lines += [f"    {name:<{width}}{summaries[name]}" for name in names]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (the only place that decides it)."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    try:
        parser = build_parser(args_list)
        args = parser.parse_args(args_list)
        if args.command is None:
            parser.print_help()
            return EXIT_ERROR
        status: int = args.handler(args)
        return status
    except TallyError as err:
        # With --debug, the slug and status too (docs/errors.md); the line stays one line.
        detail = f" ({err.slug}, exit {err.exit_code})" if "--debug" in args_list else ""
        print(f"tally: {err.message}{detail}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("tally: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_ERROR
