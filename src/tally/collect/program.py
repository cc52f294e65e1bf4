"""Run a program the way `python` would: argv, __main__, sys.path[0], exit status, tracebacks."""

from __future__ import annotations

import os
import sys
import types
from collections.abc import Callable
from types import CodeType, TracebackType

from tally.exceptions import NoSourceError, ProgramError
from tally.paths import TALLY_DIR, canonical, is_under

__all__ = ["Program", "exit_status"]


def exit_status(code: object) -> int:
    """The process exit status Python gives `sys.exit(code)`."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF if code >= 0 else code % 256
    print(code, file=sys.stderr)
    return 1


class Program:
    """The measured program: a script path, `-m module`, or `-c code`, with its arguments."""

    def __init__(self, args: list[str], *, module: bool = False, command: bool = False) -> None:
        if not args:
            raise ProgramError("nothing to run: give a script, -m MODULE or -c CODE")
        self.args = args
        self.module = module
        self.command = command

    @property
    def main_file(self) -> str | None:
        """The script's absolute path (None for -m and -c)."""
        if self.module or self.command:
            return None
        return os.path.abspath(self.args[0])

    def check(self) -> None:
        """Fail before measuring starts if the program can't be found."""
        if self.module:
            import importlib.util

            try:
                found = importlib.util.find_spec(self.args[0]) is not None
            except (ImportError, ValueError):
                found = False
            if not found:
                raise ProgramError(
                    f"no module named {self.args[0]!r} to run: check the "
                    "name and that its package is importable from here"
                )
        elif not self.command:
            path = self.args[0]
            if not os.path.exists(path):
                raise ProgramError(f"no file to run: {path!r}")
            if os.path.isdir(path) and not os.path.exists(os.path.join(path, "__main__.py")):
                raise ProgramError(f"can't run directory {path!r}: it has no __main__.py")

    def run(self, compile_main: Callable[[str, str], CodeType]) -> int:
        """Run the program; return its exit status. Its own exceptions are shown as Python
        shows them (without tally's frames); KeyboardInterrupt propagates to the caller."""
        try:
            if self.module:
                self._run_module()
            elif self.command:
                self._run_command()
            else:
                self._run_script(compile_main)
        except SystemExit as exc:
            return exit_status(exc.code)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # the program's own error: show it as Python would
            _show_exception(exc)
            return 1
        return 0

    def _run_module(self) -> None:
        import runpy

        sys.argv = list(self.args)
        sys.path[0] = os.getcwd()
        # runpy's __main__ runner is what `python -m` itself uses; the module is found by the
        # import system, so the count engine's hook instruments it.
        run_as_main = getattr(runpy, "_run_module_as_main", None)
        if run_as_main is not None:
            run_as_main(self.args[0], alter_argv=True)
        else:  # pragma: no cover - every CPython 3.11-3.15 has it
            runpy.run_module(self.args[0], run_name="__main__", alter_sys=True)

    def _run_command(self) -> None:
        sys.argv = ["-c", *self.args[1:]]
        sys.path[0] = ""
        main = _fresh_main(None)
        exec(compile(self.args[0], "<string>", "exec"), main.__dict__)

    def _run_script(self, compile_main: Callable[[str, str], CodeType]) -> None:
        path = os.path.abspath(self.args[0])
        if os.path.isdir(path):
            sys.path[0] = path
            path = os.path.join(path, "__main__.py")
        else:
            sys.path[0] = os.path.dirname(path)
        sys.argv = list(self.args)
        from tally.analysis.source import read_source

        try:
            source = read_source(path)
        except NoSourceError as err:
            raise ProgramError(err.message) from None
        try:
            code = compile_main(path, source)
        except SyntaxError:
            # Python shows a syntax error in the script as a traceback of the script's own.
            code = compile(source, path, "exec", dont_inherit=True)
        main = _fresh_main(path)
        exec(code, main.__dict__)


def _fresh_main(path: str | None) -> types.ModuleType:
    main = types.ModuleType("__main__")
    if path is not None:
        main.__file__ = path
    main.__dict__["__builtins__"] = __builtins__
    main.__dict__["__cached__"] = None
    sys.modules["__main__"] = main
    return main


def _user_traceback(tb: TracebackType | None) -> TracebackType | None:
    """`tb` as plain Python would have it: without tally's frames, nor the import
    machinery's frames that led into them (CPython removes its import frames from a
    traceback when the error comes from compiling or running the module, which tally's
    loader does in between), nor runpy's frames at the start."""
    chain = []
    while tb is not None:
        chain.append(tb)
        tb = tb.tb_next
    ours = [_ours(t.tb_frame.f_code.co_filename) for t in chain]
    kept: list[TracebackType] = []
    for i, entry in enumerate(chain):
        if ours[i] or (_importlib(entry) and _into_ours(chain, ours, i)):
            continue
        if not kept and entry.tb_frame.f_code.co_filename.endswith(os.sep + "runpy.py"):
            continue  # runpy's frames are Python's machinery, not the program's
        kept.append(entry)
    for entry, after in zip(kept, [*kept[1:], None], strict=True):
        entry.tb_next = after
    return kept[0] if kept else None


def _ours(filename: str) -> bool:
    """A frame of tally's code, or of the stand-in for a module that didn't compile?"""
    from tally.collect.importer import RAISING_NAME

    return filename == RAISING_NAME or is_under(canonical(filename), TALLY_DIR)


def _importlib(entry: TracebackType) -> bool:
    return entry.tb_frame.f_code.co_filename.startswith("<frozen importlib._bootstrap")


def _into_ours(chain: list[TracebackType], ours: list[bool], start: int) -> bool:
    """Does the run of import machinery frames from `start` lead into a frame of tally's?"""
    i = start
    while i < len(chain) and _importlib(chain[i]):
        i += 1
    return i < len(chain) and ours[i]


def _show_exception(exc: BaseException) -> None:
    tb = _user_traceback(exc.__traceback__)
    # The default hook prints the exception's own __traceback__, so trim that too.
    exc.__traceback__ = tb
    try:
        sys.excepthook(type(exc), exc, tb)
    except Exception:
        import traceback

        traceback.print_exception(type(exc), exc, tb)
