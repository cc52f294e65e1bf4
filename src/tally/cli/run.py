"""`tally run`: run a program under measurement and save its data however it ends."""

from __future__ import annotations

import argparse
import signal
import sys
from typing import Any

from tally.cli.options import add_common, add_table_flags, overrides_from
from tally.process import Cause, MeasuredProcess, die_of
from tally.warnings import Notice, warn

__all__ = ["register"]

RUN_KEYS = (
    "run:branch",
    "tally:counts",
    "tally:engine",
    "run:source",
    "run:include",
    "run:omit",
    "run:append",
    "run:parallel",
    "run:context",
)


def register(commands: Any) -> None:
    """Add the `run` command."""
    parser = commands.add_parser(
        "run",
        help="run a program and measure it",
        usage="tally run [options] [-m MODULE | -c CODE | SCRIPT] [ARGS...]",
    )
    add_common(parser)
    add_table_flags(parser, RUN_KEYS)
    parser.add_argument(
        "-m", "--module", action="store_true", help="the program is a module to run, like python -m"
    )
    parser.add_argument(
        "-c",
        dest="command_string",
        action="store_true",
        help="the program is a string of code, like python -c",
    )
    parser.add_argument(
        "program",
        nargs=argparse.REMAINDER,
        help="the script (or module, or code) and its arguments",
    )
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Run the program; return its exit status."""
    from tally.api import Coverage
    from tally.collect.program import Program
    from tally.config.readers import load_config

    config = load_config(args.rcfile, overrides=overrides_from(args))
    program_args = list(args.program)
    if not program_args and config.text("run:command_line"):
        import shlex

        program_args = shlex.split(config.text("run:command_line"))
        if program_args[:1] == ["-m"]:
            args.module, program_args = True, program_args[1:]
    program = Program(program_args, module=args.module, command=args.command_string)
    if not config.flag("tally:enabled"):
        # TALLY_ENABLED=0: run the program plainly, measuring nothing.
        return program.run(lambda path, source: compile(source, path, "exec"))
    program.check()
    cov = Coverage(config=config, main_file=program.main_file)
    for notice in cov.warnings:
        warn(notice)
    if args.debug:
        print(f"tally: engine {cov.choice.name}: " + "; ".join(cov.choice.reasons), file=sys.stderr)
        print(f"tally: config files read: {', '.join(config.files) or 'none'}", file=sys.stderr)
        print(f"tally: data file: {cov.data_file}", file=sys.stderr)
    process = MeasuredProcess(cov)
    process.save_on_sigterm()
    process.start()
    for notice in process.warnings:
        warn(notice)
    try:
        status = program.run(cov.compile_main)
    except KeyboardInterrupt:
        # Python's own behaviour: traceback, then die of SIGINT (exit status 130 in a shell).
        import traceback

        traceback.print_exc()
        process.save(Cause.SIGNAL)
        die_of(signal.SIGINT)
        return 130  # pragma: no cover - die_of does not return
    process.save_when_done()
    recording = config.flag("tally:record_history") and not config.flag("run:parallel")
    if recording and cov.last_saved is not None:  # saved now, not at exit after threads
        told = _record_history(args.rcfile, cov.data_file)
        if isinstance(told, str):
            print(told, file=sys.stderr)
        else:
            warn(told)
    return status


def _record_history(rcfile: str | None, data_file: str) -> str | Notice:
    """[tally] record_history after the run saved `data_file`: analysed as `tally report`
    would (the config files and the environment, not this command's flags)."""
    from tally.cli.report import configured
    from tally.exceptions import TallyError
    from tally.track.gates import not_recorded, record_history

    try:
        cov = configured(rcfile, {"run:data_file": data_file})
        return record_history(cov.config, cov.analyze())
    except TallyError as err:
        return not_recorded(err.message)
