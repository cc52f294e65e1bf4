"""`tally`'s entry point: parse the command line, run one command, set the exit status."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from tally.exceptions import EXIT_ERROR, TallyError, UsageError

__all__ = ["main"]

DESCRIPTION = """\
tally measures which lines of a Python program ran, and how many times.

commands:
  run      run a program (script, -m module, -c code) and measure it
  report   print a coverage table (exit 2 under fail_under)
{formats}  combine  combine parallel data files and journals into one
  baseline record a baseline (set), show progress (status), gate on it (check)
  compare  compare two runs: totals and per-file deltas
  check    gate CI on thresholds and regressions
  diff     coverage of the lines changed since a git ref
  history  recorded runs with a sparkline
  erase    delete the data file
  debug    show sys, config or data details

exit status: 0 ok; 1 an error (message on stderr), or a regression (baseline check,
compare, check --no-regression); 2 coverage under fail_under (report, html, xml, json,
lcov, badge) or under a threshold (check, diff).
`tally run` exits with the program's own status.
"""


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
    description = DESCRIPTION.format(formats="")
    if first not in COMMANDS:
        from tally.report.registry import FORMATS

        known = {"run": "run", "report": "report", **dict.fromkeys(FORMATS, "formats")}
        known.update(COMMANDS)
        lines = "".join(f"  {name:<8} {form.summary}\n" for name, form in FORMATS.items())
        description = DESCRIPTION.format(formats=lines)
    parser = _Parser(
        prog="tally", description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"tally {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    names = [first] if first in known else list(known)
    for name in names:
        module = importlib.import_module(f"tally.cli.{known[name]}")
        if known[name] == name:
            module.register(commands)
        else:
            module.register(commands, name)
    return parser


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
