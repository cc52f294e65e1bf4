"""The monitor engine: sys.monitoring (PEP 669) LINE events, each disabled after it fires."""

from __future__ import annotations

import sys
from types import CodeType
from typing import Any

from tally.collect.filter import FileFilter
from tally.data.sqlite import Measurement
from tally.paths import canonical
from tally.types import LineNo

__all__ = ["MonitorEngine"]

# Tool ids 0-5 exist; 0 is for debuggers, 1 coverage.py, 2 profilers, 5 optimizers
# (PEP 669). tally takes 3, or the next free one so it can run beside other tools.
_PREFERRED_IDS = (3, 4, 2)


class MonitorEngine:
    """Enables LINE events only on the code objects of measured files (on PY_START, as
    coverage.py's sysmon core does); every LINE callback records the line and returns
    DISABLE, so each line costs one callback in the whole run."""

    name = "monitor"
    supports_counts = False

    def __init__(self, file_filter: FileFilter) -> None:
        self.filter = file_filter
        self._lines: dict[str, set[LineNo]] = {}
        self._code_lines: dict[CodeType, set[LineNo]] = {}
        self._file_lines: dict[str, set[LineNo] | None] = {}
        self._tool: int | None = None

    def start(self) -> None:
        """Claim a tool id and watch PY_START everywhere."""
        mon: Any = sys.monitoring  # type: ignore[attr-defined,unused-ignore]
        for tool in _PREFERRED_IDS:
            if mon.get_tool(tool) is None:
                mon.use_tool_id(tool, "tally")
                self._tool = tool
                break
        else:
            from tally.exceptions import TallyError

            raise TallyError(
                "no free sys.monitoring tool id (3, 4 and 2 are taken by other "
                "tools); run with --engine count"
            )
        events = mon.events
        mon.register_callback(self._tool, events.PY_START, self._on_start)
        mon.register_callback(self._tool, events.LINE, self._on_line)
        mon.set_events(self._tool, events.PY_START)
        # Code seen in an earlier start() had its events disabled; let them fire again.
        mon.restart_events()

    def stop(self) -> None:
        """Stop all events and release the tool id."""
        if self._tool is None:
            return
        mon: Any = sys.monitoring  # type: ignore[attr-defined,unused-ignore]
        tool, self._tool = self._tool, None
        mon.set_events(tool, 0)
        for code in self._code_lines:
            mon.set_local_events(tool, code, 0)
        mon.register_callback(tool, mon.events.PY_START, None)
        mon.register_callback(tool, mon.events.LINE, None)
        mon.free_tool_id(tool)
        self._code_lines.clear()

    def _on_start(self, code: CodeType, offset: int) -> Any:
        mon: Any = sys.monitoring  # type: ignore[attr-defined,unused-ignore]
        filename = code.co_filename
        if filename in self._file_lines:
            lines = self._file_lines[filename]
        else:
            lines = None
            if self.filter.should_measure(filename):
                lines = self._lines.setdefault(canonical(filename, self.filter.cwd), set())
            self._file_lines[filename] = lines
        if lines is not None and code not in self._code_lines and self._tool is not None:
            self._code_lines[code] = lines
            mon.set_local_events(self._tool, code, mon.events.LINE)
        return mon.DISABLE

    def _on_line(self, code: CodeType, line: int) -> Any:
        lines = self._code_lines.get(code)
        if lines is not None:
            lines.add(line)
        return sys.monitoring.DISABLE  # type: ignore[attr-defined,unused-ignore]

    def measurement(self) -> Measurement:
        """The lines seen so far."""
        return Measurement(
            {p: set(s) for p, s in self._lines.items()}, None, {"tally_engine": self.name}
        )

    def compile_main(self, path: str, source: str) -> CodeType:
        """The main script runs as compiled: PY_START sees it like any other code."""
        return compile(source, path, "exec", dont_inherit=True)
