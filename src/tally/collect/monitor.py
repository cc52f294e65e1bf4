"""The monitor engine: sys.monitoring (PEP 669) LINE events, each disabled after it fires.
With branch coverage, on 3.14+ BRANCH_LEFT/BRANCH_RIGHT events, each way disabled after it
is first taken; on 3.12/3.13 markers compiled in at the start of each arm (markers.py),
whose LINE events say which arms ran."""

from __future__ import annotations

import sys
from types import CodeType
from typing import TYPE_CHECKING, Any

from tally.collect import tool_ids
from tally.collect.capabilities import capabilities_of, uses_markers
from tally.collect.filter import FileFilter
from tally.collect.importer import (
    InstrumentingFinder,
    PytestPatch,
    install_finder,
    instrumented_or_none,
    watch_pytest,
)
from tally.measurement import Measurement
from tally.paths import canonical
from tally.types import LineNo

if TYPE_CHECKING:
    from tally.collect.codecache import CodeCache
    from tally.collect.jumps import OneLiner

__all__ = ["MonitorEngine"]

# The engine takes id 3, or the next free one of these (collect/tool_ids.py).
_PREFERRED_IDS = (3, 4, 2)


class MonitorEngine:
    """Enables LINE events only on the code objects of measured files (on PY_START, as
    coverage.py's sysmon core does); every LINE callback records the line and returns
    DISABLE, so each line costs one callback in the whole run."""

    name = "monitor"

    def __init__(
        self, file_filter: FileFilter, *, branch: bool = False, cache: CodeCache | None = None
    ) -> None:
        self.filter = file_filter
        self.branch = branch
        self._lines: dict[str, set[LineNo]] = {}
        # Code objects are known by id(): hashing a code object hashes its bytecode, every
        # time (about 1 us for a 350-instruction function on 3.14), and the callbacks look
        # their code up on every event. _codes holds each one, so its id stays its own.
        self._codes: dict[int, CodeType] = {}
        self._code_lines: dict[int, set[LineNo]] = {}
        # Branch events as they came: (code, instruction offset, destination offset).
        # Turning them into line arcs reads the bytecode, so it waits for measurement().
        self._jumps: dict[int, set[tuple[int, int]]] = {}
        self._code_files: dict[int, str] = {}  # measured code -> its file
        self._wanted = 0  # the local events measured code gets
        # With contexts: the code objects whose events fired (and were disabled) since the
        # last switch; the switch enables their events again, and only theirs.
        self._touched: set[int] = set()
        self._switching = False
        self._file_lines: dict[str, set[LineNo] | None] = {}
        self._context = ""
        # Per context: the lines and branch events banked at context switches.
        self._contexts: dict[str, _Seen] = {}
        # What measurement() worked out, kept: the arc each branch event stands for, and
        # each file's statement map (every context, and every journal flush, asks again).
        self._arc_of: dict[int, dict[tuple[int, int], tuple[LineNo, LineNo] | None]] = {}
        self._maps: dict[str, dict[LineNo, LineNo]] = {}
        self._one_liner_cache: dict[str, tuple[int, list[OneLiner]]] = {}
        self._path_codes: dict[str, list[int]] = {}  # the started code objects of each file
        self._tool: int | None = None
        self.capabilities = capabilities_of("monitor", branch=branch)
        self.markers = uses_markers(branch)
        self._finder: InstrumentingFinder | None = None
        self._pytest: PytestPatch | None = None
        if self.markers:
            self._finder = InstrumentingFinder(
                file_filter.should_measure, _nothing, "markers", cache
            )
            self._pytest = PytestPatch("markers", self._wants)

    def _wants(self, path: str) -> bool:
        """Put markers in this test file pytest is compiling?"""
        return self._tool is not None and self.filter.should_measure(path)

    def start(self) -> None:
        """Claim a tool id and watch PY_START everywhere."""
        mon: Any = sys.monitoring  # type: ignore[attr-defined,unused-ignore]
        self._tool = tool_ids.claim(_PREFERRED_IDS, "tally")
        if self._tool is None:
            from tally.exceptions import TallyError

            raise TallyError(
                "no free sys.monitoring tool id (3, 4 and 2 are taken by other "
                "tools); run with --engine count"
            )
        events = mon.events
        self._wanted = events.LINE
        if self.branch and not self.markers:
            self._wanted |= events.BRANCH_LEFT | events.BRANCH_RIGHT
        mon.register_callback(self._tool, events.PY_START, self._on_start)
        on_line = self._on_line_switching if self._switching else self._on_line
        mon.register_callback(self._tool, events.LINE, on_line)
        if self.branch and not self.markers:
            mon.register_callback(self._tool, events.BRANCH_LEFT, self._on_branch)
            mon.register_callback(self._tool, events.BRANCH_RIGHT, self._on_branch)
        mon.set_events(self._tool, events.PY_START)
        # Code seen in an earlier start() had its events disabled; let them fire again.
        mon.restart_events()
        if self._finder is not None and self._pytest is not None:
            install_finder(self._finder)
            watch_pytest(self._pytest)

    def stop(self) -> None:
        """Stop all events and release the tool id."""
        if self._tool is None:
            return
        mon: Any = sys.monitoring  # type: ignore[attr-defined,unused-ignore]
        tool, self._tool = self._tool, None
        if self._finder in sys.meta_path:
            sys.meta_path.remove(self._finder)
        events = [mon.events.PY_START, mon.events.LINE]
        if self.branch and not self.markers:
            events += [mon.events.BRANCH_LEFT, mon.events.BRANCH_RIGHT]
        tool_ids.release(tool, events, (self._codes[code_id] for code_id in self._code_lines))
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
        code_id = id(code)
        if lines is not None and code_id not in self._code_lines and self._tool is not None:
            self._code_lines[code_id] = lines
            path = self._code_files[code_id] = canonical(filename, self.filter.cwd)
            if code_id not in self._codes:
                self._path_codes.setdefault(path, []).append(code_id)
            self._codes[code_id] = code
            mon.set_local_events(self._tool, code, self._wanted)
        return mon.DISABLE

    def _on_line(self, code: CodeType, line: int) -> Any:
        lines = self._code_lines.get(id(code))
        if lines is not None:
            lines.add(line)
        return sys.monitoring.DISABLE  # type: ignore[attr-defined,unused-ignore]

    def _on_line_switching(self, code: CodeType, line: int) -> Any:
        """_on_line once contexts switch: notes the code object, to enable it again."""
        code_id = id(code)
        lines = self._code_lines.get(code_id)
        if lines is not None:
            lines.add(line)
            self._touched.add(code_id)
        return sys.monitoring.DISABLE  # type: ignore[attr-defined,unused-ignore]

    def _on_branch(self, code: CodeType, offset: int, destination: int) -> Any:
        self._jumps.setdefault(id(code), set()).add((offset, destination))
        return sys.monitoring.DISABLE  # type: ignore[attr-defined,unused-ignore]

    def forget(self) -> None:
        """Drop the lines and arcs seen so far, and let their events fire again (a forked
        child starts from nothing)."""
        for found in self._lines.values():
            found.clear()
        self._jumps.clear()
        self._contexts.clear()
        if self._tool is not None:
            sys.monitoring.restart_events()  # type: ignore[attr-defined,unused-ignore]

    def switch_context(self, name: str) -> None:
        """What ran since the last switch was the current context's; go on in `name`,
        with the events of the code that ran enabled again, so that its lines fire once
        more.

        Not sys.monitoring.restart_events(): that enables every disabled event of every
        tool, PY_START of all the code that isn't measured (pytest's own, the standard
        library's) included, and each of those fired again after every switch, doubling
        the time of a suite of small tests. Setting a code object's local events anew
        enables its disabled ones, and costs only the code that ran."""
        if name == self._context:
            return
        if self._switching:
            touched, self._touched = self._touched, set()
        else:  # the first switch: every code object measured so far may have fired
            touched = set(self._code_files)
            self._switching = True
            if self._tool is not None:
                mon: Any = sys.monitoring  # type: ignore[attr-defined,unused-ignore]
                mon.register_callback(self._tool, mon.events.LINE, self._on_line_switching)
        jumps_seen, self._jumps = self._jumps, {}
        touched.update(jumps_seen)
        lines, jumps = self._contexts.setdefault(self._context, ({}, {}))
        for path in {self._code_files[c] for c in touched if c in self._code_files}:
            found = self._lines[path]
            if found:
                lines.setdefault(path, set()).update(found)
                found.clear()  # in place: code objects hold this set
        for code_id, taken in jumps_seen.items():
            jumps.setdefault(code_id, set()).update(taken)
        self._context = name
        self._enable_again(touched)

    def _enable_again(self, code_ids: set[int]) -> None:
        """Enable the disabled events of these code objects."""
        if self._tool is None:
            return
        set_local_events = sys.monitoring.set_local_events  # type: ignore[attr-defined,unused-ignore]
        for code_id in code_ids:
            if code_id in self._code_lines:
                code = self._codes[code_id]
                set_local_events(self._tool, code, 0)
                set_local_events(self._tool, code, self._wanted)

    def measurement(self, *, contexts: bool = True) -> Measurement:
        """The lines seen so far, and with branch coverage the arcs taken (per context,
        when contexts were switched and `contexts` is on)."""
        # Copies first: the journal's thread asks while callbacks add.
        lines = {p: set(s) for p, s in list(self._lines.items())}
        jumps = {code_id: set(taken) for code_id, taken in list(self._jumps.items())}
        if not self._contexts:
            return self._measured(lines, jumps)
        if not contexts:
            for banked_seen in list(self._contexts.values()):
                _add_into((lines, jumps), banked_seen)  # into the copies
            return self._measured(lines, jumps)
        banked = dict(self._contexts)
        current = banked.get(self._context)
        banked[self._context] = (
            (lines, jumps) if current is None else _united(current, (lines, jumps))
        )
        parts = {name: self._measured(*seen) for name, seen in banked.items()}
        # The totals are the contexts' union: each context's arcs are worked out once.
        every_line: dict[str, set[LineNo]] = {}
        every_arc: dict[str, dict[tuple[LineNo, LineNo], int]] | None = {} if self.branch else None
        for part in parts.values():
            for path, found in part.lines.items():
                every_line.setdefault(path, set()).update(found)
            if every_arc is not None and part.arcs is not None:
                for path, taken in part.arcs.items():
                    every_arc.setdefault(path, {}).update(taken)
        return Measurement(every_line, None, {"tally_engine": self.name}, every_arc, parts)

    def _measured(
        self,
        seen: dict[str, set[LineNo]],
        taken: dict[int, set[tuple[int, int]]],
    ) -> Measurement:
        """Lines (and arcs) from what the callbacks recorded."""
        lines = {p: set(s) for p, s in seen.items()}
        meta = {"tally_engine": self.name}
        if not self.branch:
            return Measurement(lines, None, meta)
        if self.markers:
            return Measurement(_without_markers(lines), None, meta, _marker_arcs(lines))
        from tally.collect.jumps import jump_arc_map

        arcs: dict[str, dict[tuple[LineNo, LineNo], int]] = {p: {} for p in lines}
        for code_id, jumps in taken.items():
            path = self._code_files[code_id]
            known = self._arc_of.setdefault(code_id, {})
            if not jumps <= known.keys():
                code = self._codes[code_id]
                if path not in self._maps:
                    self._maps[path] = _statement_lines(code.co_filename)
                known.update(jump_arc_map(code, jumps - known.keys(), self._maps[path]))
            # Every context asks again (32,700 of them in packaging's suite): map at C
            # speed; None is an event that stands for no arc.
            found = filter(None, map(known.__getitem__, jumps))
            arcs.setdefault(path, {}).update(dict.fromkeys(found, 0))
        for path, found_arcs in arcs.items():
            # An arc's end is where the jump's straight run reaches a new statement; an
            # instruction on the way can raise (`for _ in g() or ():` when g() returns 1),
            # so an end no LINE event ever reached is not taken (coverage.py's sysmon core
            # takes it, and reports a line that never ran: docs/branches.md).
            multiline = self._maps.get(path, {})
            ran = {multiline.get(line, line) for line in lines.get(path, ())}
            for arc in [arc for arc in found_arcs if arc[1] > 0 and arc[1] not in ran]:
                del found_arcs[arc]
        for path, ran in lines.items():
            for line, onward, body, body_exit in self._one_liners(path):
                if line in ran:
                    if onward is not None:
                        arcs[path][onward] = 0
                    if id(body) in self._codes:
                        arcs[path][body_exit] = 0
        return Measurement(lines, None, meta, arcs)

    def _one_liners(self, path: str) -> list[OneLiner]:
        """The one-line definitions of the file's code objects started so far (worked
        out again only when more of its code objects have started). A body that started
        at all is taken to have run in each context where its line ran."""
        started = self._path_codes.get(path, [])
        cached = self._one_liner_cache.get(path)
        if cached is not None and cached[0] == len(started):
            return cached[1]
        from tally.collect.jumps import one_line_bodies

        if path not in self._maps:
            self._maps[path] = _statement_lines(path)
        found = [
            one_liner
            for code_id in started
            for one_liner in one_line_bodies(self._codes[code_id], self._maps[path])
        ]
        self._one_liner_cache[path] = (len(started), found)
        return found

    def compile_main(self, path: str, source: str) -> CodeType:
        """The main script runs as compiled (PY_START sees it like any other code), with
        markers in it when they measure branches."""
        if self.markers and self.filter.should_measure(path):
            code = instrumented_or_none(source, path, "markers")
            if code is not None:
                return code
        return compile(source, path, "exec", dont_inherit=True)


# What ran: lines per file, branch events per code object (by id).
_Seen = tuple[dict[str, set[LineNo]], dict[int, set[tuple[int, int]]]]


def _add_into(into: _Seen, more: _Seen) -> None:
    for path, found in more[0].items():
        into[0].setdefault(path, set()).update(found)
    for code_id, taken in more[1].items():
        into[1].setdefault(code_id, set()).update(taken)


def _united(one: _Seen, other: _Seen) -> _Seen:
    both: _Seen = ({}, {})
    _add_into(both, one)
    _add_into(both, other)
    return both


def _nothing(*_: object) -> None:
    """Nothing to do when a module with markers loads: they need no registering."""


def _marker_arcs(lines: dict[str, set[LineNo]]) -> dict[str, dict[tuple[LineNo, LineNo], int]]:
    """The arcs taken in each file, from the markers and lines seen (markers.py)."""
    from tally.collect.markers import marker_arcs

    return {path: marker_arcs(path, seen) for path, seen in lines.items()}


def _without_markers(lines: dict[str, set[LineNo]]) -> dict[str, set[LineNo]]:
    """The lines seen, less the markers' lines."""
    from tally.collect.markers import MARK_BASE

    return {path: {n for n in seen if n < MARK_BASE} for path, seen in lines.items()}


def _statement_lines(filename: str) -> dict[LineNo, LineNo]:
    """The multi-line statement map of a measured file (empty when it can't be read)."""
    from tally.analysis.source import multiline_map, read_source
    from tally.exceptions import TallyError

    try:
        return multiline_map(read_source(filename))
    except (TallyError, OSError):
        return {}
