"""`tally run`: run a program under measurement and save its data however it ends."""

from __future__ import annotations

import argparse
import atexit
import os
import signal
import sys
import threading
from types import FrameType
from typing import Any

from tally.cli.options import add_common, add_table_flags, overrides_from
from tally.exceptions import TallyError

__all__ = ["die_of", "register"]

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


def _warn(message: str) -> None:
    print(f"tally: warning: {message}", file=sys.stderr)


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
    for message in cov.warnings:
        _warn(message)
    if args.debug:
        print(f"tally: engine {cov.choice.name}: " + "; ".join(cov.choice.reasons), file=sys.stderr)
        print(f"tally: config files read: {', '.join(config.files) or 'none'}", file=sys.stderr)
        print(f"tally: data file: {cov.data_file}", file=sys.stderr)
    for entry in cov.unmeasured_sources():
        _warn(
            f"--source {entry!r} is neither a directory nor an importable module; "
            "nothing from it will be measured"
        )
    saver = _Saver(cov)
    saver.install_signal_handlers(sigterm=config.flag("run:sigterm"))
    cov.start()
    try:
        status = program.run(cov.compile_main)
    except KeyboardInterrupt:
        # Python's own behaviour: traceback, then die of SIGINT (exit status 130 in a shell).
        import traceback

        traceback.print_exc()
        saver.save_now()
        die_of(signal.SIGINT)
        return 130  # pragma: no cover - _die_of does not return
    saver.save_when_done()
    return status


class _Saver:
    """Saves the data exactly once: now, at exit after the program's threads finish, or on a
    signal. Errors while saving are reported as one line, never a traceback."""

    def __init__(self, cov: Any) -> None:
        self.cov = cov
        self.saved = False

    def save_now(self) -> None:
        if self.saved:
            return
        self.saved = True
        self.cov.stop()
        try:
            path = self.cov.save()
        except TallyError as err:
            print(self.cov.rescued_message(err), file=sys.stderr)
            return
        if not any(self.cov.last_saved.lines.values()):
            _warn(
                f"no data was collected (data file {path}); check --source/--include "
                "and that the program imports the code you meant to measure"
            )

    def save_when_done(self) -> None:
        """Save now if the program left no running threads; else at exit, after Python has
        waited for them (atexit runs after threading's shutdown join)."""
        others = [
            t
            for t in threading.enumerate()
            if t is not threading.main_thread() and not t.daemon and t.is_alive()
        ]
        if others:
            atexit.register(self.save_now)
        else:
            self.save_now()

    def install_signal_handlers(self, *, sigterm: bool) -> None:
        if not sigterm or threading.current_thread() is not threading.main_thread():
            return
        if signal.getsignal(signal.SIGTERM) not in (signal.SIG_DFL, None):
            return  # someone else's handler: leave it alone

        def on_sigterm(signum: int, frame: FrameType | None) -> None:
            self.save_now()
            die_of(signal.SIGTERM)

        signal.signal(signal.SIGTERM, on_sigterm)


def die_of(signum: int) -> None:
    """End the process by `signum` with its default action, as an unhandled signal would."""
    sys.stdout.flush()
    sys.stderr.flush()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)
