"""A measured subprocess's main script, counted by a trace function.

Python compiles and runs a child's `python script.py` itself, before any import hook can
see it, so the count engine can't put counters in it (and before 3.14 the monitor engine
can't put branch markers in it). For that one file a trace function does the work, as the
stdlib `trace` module does: every line event counted, and each move from line to line kept
as an arc (coverage.py's Python tracer's arcs: `-first_line` for the entry and exit of a
code object). Only frames of that file get a local tracer; every other call costs one
check of its file name.
"""

from __future__ import annotations

import dis
import sys
import threading
from types import CodeType, FrameType
from typing import Any

from tally.collect.capabilities import Capabilities
from tally.measurement import Measurement
from tally.types import Arc, Count, LineNo

__all__ = ["ScriptTracer"]

_YIELDS = {dis.opmap[name] for name in ("YIELD_VALUE",) if name in dis.opmap}


class ScriptTracer:
    """Counts the lines (and with `branch` the arcs) run in the file `filename`, measured
    as `path`. An engine (engine.Engine) for that one file, beside the process's own."""

    name = "trace"
    # What runs in the script counts in the totals only: it is one file, the program's
    # entry, and contexts are per test.
    capabilities = Capabilities(counts=True, branches=True, contexts=False, sees_child_main=True)

    def __init__(self, filename: str, path: str, *, branch: bool) -> None:
        self.filename = filename
        self.path = path
        self.branch = branch
        self.counts: dict[LineNo, Count] = {}
        self.arcs: dict[Arc, Count] = {}
        # A suspended generator's last line, so its arcs go on from there when it resumes.
        self._suspended: dict[FrameType, LineNo] = {}
        self._running = False
        self._before: Any = None  # the trace function in place before start()

    def start(self) -> None:
        """Trace this thread and threads started from now on."""
        self._before = sys.gettrace()
        sys.settrace(self._call)
        threading.settrace(self._call)
        self._running = True

    def stop(self) -> None:
        """Stop tracing (only if the trace function is still ours), putting back the one
        that was there before."""
        if not self._running:
            return
        self._running = False
        if sys.gettrace() == self._call:
            sys.settrace(self._before)
        threading.settrace(self._before)

    def forget(self) -> None:
        """Drop what was counted so far (a forked child starts from nothing)."""
        self.counts.clear()
        self.arcs.clear()

    def switch_context(self, name: str) -> None:
        """Contexts are not kept apart here (capabilities.contexts is off)."""

    def compile_main(self, path: str, source: str) -> CodeType:
        """The script as Python compiles it: the trace function sees it run."""
        return compile(source, path, "exec", dont_inherit=True)

    def measurement(self, *, contexts: bool = True) -> Measurement:
        """The script's counts, and arcs when measuring branches (totals only: no
        contexts)."""
        counts = {self.path: dict(self.counts)} if self.counts else {}
        lines = {path: set(found) for path, found in counts.items()}
        arcs = {path: dict(self.arcs) for path in counts} if self.branch else None
        return Measurement(lines, counts, {}, arcs)

    # The trace functions run only as sys.settrace's hook, where coverage.py can't see
    # them (its own tracer is the one replaced); test_process checks what they count
    # against the stdlib trace module.
    def _call(self, frame: FrameType, event: str, arg: Any) -> Any:  # pragma: no cover
        if frame.f_code.co_filename != self.filename:
            return None
        counts = self.counts
        if not self.branch:

            def count_line(frame: FrameType, event: str, arg: Any) -> Any:
                if event == "line":
                    line = frame.f_lineno
                    counts[line] = counts.get(line, 0) + 1
                return count_line

            return count_line
        arcs = self.arcs
        suspended = self._suspended
        first = -frame.f_code.co_firstlineno
        last = suspended.pop(frame, first)

        def count_arc(frame: FrameType, event: str, arg: Any) -> Any:
            nonlocal last
            if event == "line":
                line = frame.f_lineno
                counts[line] = counts.get(line, 0) + 1
                arcs[(last, line)] = arcs.get((last, line), 0) + 1
                last = line
            elif event == "return":
                if _suspends(frame):
                    suspended[frame] = last
                else:
                    arcs[(last, first)] = arcs.get((last, first), 0) + 1
            return count_arc

        return count_arc


def _suspends(frame: FrameType) -> bool:  # pragma: no cover - called by the tracer
    """Is this 'return' event a generator or coroutine yielding, not returning?"""
    code = frame.f_code.co_code
    at = frame.f_lasti
    return 0 <= at < len(code) and code[at] in _YIELDS
