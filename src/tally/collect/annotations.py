"""The line events of `__annotate__` functions (CPython 3.14+), for the count engine.

Since PEP 649, a function or class with annotations gets an `__annotate__` function that the
compiler writes, whose code starts on the definition's first line and is called whenever the
annotations are asked for (`inspect.signature`, `typing.get_type_hints`, dataclasses, pytest
looking at a test's signature). trace counts each of its line events, so a `def` line's count
is its executions plus those events. The count engine's counters are in the code it rewrote,
and the compiler's `__annotate__` has none; this counts its line events instead, through
sys.monitoring: PY_START turns itself off in every code object but an `__annotate__` of a
measured file (one event per code object), and such code gets local LINE events, counted per
line. Annotations are rarely asked for, so the events cost little.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import CodeType
from typing import Any

from tally.collect import tool_ids
from tally.types import LineNo

__all__ = ["AnnotateCalls"]

_SKIP = -1  # the last line of a call that isn't counted

# The sys.monitoring tool ids this may take (others may hold some: coverage.py has 1).
_TOOL_IDS = (3, 4, 2, 5)


class AnnotateCalls:
    """Counts the line events of the `__annotate__` code of files `measured` names (it
    returns the file's key, or None for a file not measured)."""

    def __init__(self, measured: Callable[[str], str | None]) -> None:
        self._measured = measured
        self._tool: int | None = None
        self._keys: dict[CodeType, str] = {}
        # The line of each code's last event: sys.monitoring fires LINE at every entry of
        # the line table, trace (through sys.settrace) only when the line changes.
        self._last: dict[CodeType, int] = {}
        self.events: dict[str, dict[LineNo, int]] = {}  # file key -> line -> events

    def start(self) -> None:
        """Watch from now on (no-op when every tool id is taken: counts then miss these)."""
        mon: Any = sys.monitoring  # type: ignore[attr-defined,unused-ignore]
        self._tool = tool_ids.claim(_TOOL_IDS, "tally-annotations")
        if self._tool is None:
            return
        self._disable = mon.DISABLE
        self._line_event = mon.events.LINE
        mon.register_callback(self._tool, mon.events.PY_START, self._started)
        mon.register_callback(self._tool, mon.events.LINE, self._line)
        mon.set_events(self._tool, mon.events.PY_START)

    def stop(self) -> None:
        """Stop watching; the events counted so far stay."""
        if self._tool is None:
            return
        events = sys.monitoring.events  # type: ignore[attr-defined,unused-ignore]
        tool_ids.release(self._tool, (events.PY_START, events.LINE), self._keys)
        self._tool = None

    def forget(self) -> None:
        """Drop the events counted so far (a forked child starts from nothing)."""
        self.events.clear()

    def add_to(self, key: str, counts: dict[LineNo, int]) -> None:
        """Add the file's events to `counts`, on the lines already there: a definition's
        first line, where coverage.py reports it (its continuation lines aren't counted)."""
        for line, events in self.events.get(key, {}).items():
            if line in counts:
                counts[line] += events

    def _started(self, code: CodeType, offset: int) -> object:
        if code.co_name != "__annotate__":
            return self._disable
        key = self._measured(code.co_filename)
        if key is None:
            return self._disable
        self._keys[code] = key
        # A new call: its first line counts. But annotationlib also calls the code under
        # stand-in globals (the FORWARDREF and STRING formats), without a `__file__`, and
        # trace counts no frame whose globals lack one: nor does this.
        fake = sys._getframe(1).f_globals.get("__file__") is None
        self._last[code] = _SKIP if fake else 0
        sys.monitoring.set_local_events(self._tool, code, self._line_event)  # type: ignore[attr-defined,unused-ignore,arg-type]
        # The PY_START that started this call comes before its first line event: the
        # LINE events, now on for this code, count from its next instruction on.
        return None

    def _line(self, code: CodeType, line: int) -> None:
        key = self._keys.get(code)
        last = self._last.get(code)
        if key is not None and last not in (line, _SKIP):
            self._last[code] = line
            lines = self.events.setdefault(key, {})
            lines[line] = lines.get(line, 0) + 1
