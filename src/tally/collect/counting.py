"""The count engine: exact per-line execution counts from counters compiled into the code."""

from __future__ import annotations

import builtins
import sys
from collections.abc import Callable, Iterator, Mapping
from itertools import chain, compress, zip_longest
from types import CodeType
from typing import TYPE_CHECKING, Any

from tally import env
from tally.collect.annotations import AnnotateCalls
from tally.collect.capabilities import capabilities_of
from tally.collect.filter import FileFilter
from tally.collect.importer import (
    InstrumentingFinder,
    PytestPatch,
    install_finder,
    instrumented_or_none,
    watch_pytest,
)
from tally.collect.names import (
    BLOCKS_HELPER,
    ENTRY_HELPER,
    FIX_HELPER,
    GENERATOR_HELPER,
    HIT_HELPER,
    ITER_BUILTIN,
    TICK_HELPER,
    counter_name,
    put,
)
from tally.collect.pycache import Flavour
from tally.collect.slots import (
    FLAG_CASES,
    IF_FAILED,
    LOOP_TEST,
    Member,
    SlotTable,
    counts_lines,
    ran_slots,
    table_header,
)
from tally.measurement import Measurement
from tally.paths import canonical
from tally.types import Arc, Count, LineNo

if TYPE_CHECKING:
    from tally.collect.codecache import CodeCache

__all__ = ["CountEngine", "derive_case_counts"]


def _hit(counters: list[int], slot: int, value: Any) -> Any:
    """Count an `except E:` test and hand back E (the rewriter wraps E in this call)."""
    counters[slot] += 1
    return value


def _tick(counters: list[int], slot: int) -> bool:
    """Count one call or iteration of nested code (a lambda or comprehension)."""
    counters[slot] += 1
    return True


class _RunOut:
    """The end of a generator expression's first iterable: counts it running out."""

    __slots__ = ("counters", "slot")

    def __init__(self, counters: list[int], slot: int) -> None:
        self.counters = counters
        self.slot = slot

    def __iter__(self) -> _RunOut:
        return self

    def __next__(self) -> Any:
        self.counters[self.slot] += 1
        raise StopIteration


def _generator(
    counters: list[int], slot: int, iterator: Any, chain: Any = chain, run_out: Any = _RunOut
) -> Any:
    """Count a generator expression's creation (`slot`) and hand back its first iterator
    (the instrumented code took `iter()` of it), counting in the next slot when it runs
    out. (`chain` and `run_out` are bound here: at shutdown this module's globals go
    before the last `__del__` methods run.)"""
    counters[slot] += 1
    return chain(iterator, run_out(counters, slot + 1))


def _entry(counters: list[int], slot: int, iterable: Any) -> Any:
    """Count the start of a comprehension's own code object; hand back its iterable."""
    counters[slot] += 1
    return iterable


Cuts = dict[tuple[int, LineNo], int]


def _add_cuts(into: Cuts, cuts: Cuts) -> None:
    for key, n in cuts.items():
        into[key] = into.get(key, 0) + n


class _File:
    """One instrumented file: its counters (one per slot), the slot table the module gave at
    import (slots.py), what earlier start/stop periods banked, and the exceptions that cut
    its blocks short."""

    __slots__ = (
        "_layout",
        "banked",
        "banked_cuts",
        "counters",
        "cut_lines",
        "cuts",
        "flags",
        "table",
    )

    def __init__(self, counters: list[int]) -> None:
        self.counters = counters
        self.table = b""
        self.flags = 0
        self.banked: list[int] = []
        # How many exceptions left a guard's blocks at a place: live (since the last context
        # switch) by (guard, instruction offset), and banked by (guard, line). The offset is
        # what a traceback holds; its line is read once per place (cut_lines), since reading
        # tb_lineno walks the code's line table from its start every time.
        self.cuts: Cuts = {}
        self.cut_lines: dict[tuple[int, int], LineNo] = {}
        self.banked_cuts: Cuts = {}
        self._layout: SlotTable | None = None

    def set_table(self, table: bytes) -> None:
        """The module started (again): size the counters to its table."""
        self.table = table
        self.flags, size = table_header(table)
        if len(self.counters) < size:
            self.counters.extend([0] * (size - len(self.counters)))

    def layout(self) -> SlotTable:
        """The slot table, read in place (kept: every measurement and context reads it)."""
        if self._layout is None or self._layout.data is not self.table:
            self._layout = SlotTable(self.table)
        return self._layout

    def bank(self) -> None:
        """Move the live counters into the banked totals."""
        counters, banked = self.counters, self.banked
        if len(banked) < len(counters):
            banked.extend([0] * (len(counters) - len(banked)))
        for slot in compress(range(len(counters)), counters):
            banked[slot] += counters[slot]
        counters[:] = [0] * len(counters)

    def live(self) -> dict[int, int]:
        """The live counts by slot, of the slots that ran (read without writing)."""
        return ran_slots(list(self.counters))

    def take_live(self) -> tuple[dict[int, int], Cuts]:
        """The live counts (by slot, those run) and cuts, banked and zeroed: what ran since
        the last context switch."""
        live = self.live()
        cuts = self.live_cuts()
        self.bank()
        self.cuts.clear()
        _add_cuts(self.banked_cuts, cuts)
        return live, cuts

    def live_cuts(self) -> Cuts:
        """The live cuts, by (guard, line)."""
        cuts: Cuts = {}
        lines = self.cut_lines
        for place, n in list(self.cuts.items()):
            key = (place[0], lines[place])
            cuts[key] = cuts.get(key, 0) + n
        return cuts

    def all_cuts(self) -> Cuts:
        """The cuts banked and live, by (guard, line)."""
        cuts = dict(self.banked_cuts)
        _add_cuts(cuts, self.live_cuts())
        return cuts

    def totals(self) -> dict[int, int]:
        """The count of each slot that ran: banked plus live. Reads without writing, so
        another thread (the journal's) can ask while the counters run."""
        live = list(self.counters)
        return ran_slots([b + c for b, c in zip_longest(self.banked, live, fillvalue=0)])

    def counts(
        self, path: str, ran: Mapping[int, int], cuts: Cuts, *, branch: bool
    ) -> tuple[dict[LineNo, Count], dict[Arc, Count]]:
        """(counts by line, counts by arc: with `branch` only) from the counts of the
        slots that `ran` (counted ones) and the cuts; the derived slots worked out once."""
        ran = _with_derived(self.layout(), ran, cuts)
        lines = self.line_counts(path, ran, cuts)
        return lines, self.arc_counts(lines, ran, cuts) if branch else {}

    def line_counts(self, path: str, ran: Mapping[int, int], cuts: Cuts) -> dict[LineNo, Count]:
        """Counts by line: the count of each slot that `ran` (derived slots included)
        spread over the lines it stands for, less the members that exceptions kept from
        running."""
        layout = self.layout()
        counts = layout.spread_counts(ran)
        if cuts:
            for line, n in _uncounted(layout, cuts).items():
                counts[line] = counts.get(line, 0) - n
        counts = {line: n for line, n in counts.items() if n > 0}
        if self.flags & FLAG_CASES:
            derive_case_counts(path, counts)
        return counts

    def arc_counts(
        self, line_counts: Mapping[LineNo, Count], ran: Mapping[int, int], cuts: Cuts
    ) -> dict[Arc, Count]:
        """Counts by arc, for code instrumented with branch coverage: each arm's slot
        count (`ran`, derived slots included), and for a `case` line the times it was
        tested (its line's count) less the times it matched."""
        layout = self.layout()
        arcs, case_next, if_ran = layout.spread_arcs(ran)
        for (line, end), matched in case_next.items():
            failed = line_counts.get(line, 0) - matched
            if failed > 0:
                arcs[(line, end)] = arcs.get((line, end), 0) + failed
        if if_ran:
            _add_failed_tests(layout, arcs, if_ran, cuts)
        return {arc: n for arc, n in arcs.items() if n > 0}


def _with_derived(layout: SlotTable, ran: Mapping[int, int], cuts: Cuts) -> Mapping[int, int]:
    """`ran` with the counts of the derived slots (slots.py) that ran: each the sum of its
    sources' counts, plus the times an exception stopped its block before its `if` test
    came out (before the `if`, or in its test: on a line before the body's)."""
    derived = layout.derived()
    if not derived:
        return ran
    counts = dict(ran)
    stopped: dict[int, int] = {}
    if cuts:
        by_slot = {d.slot: d for d in derived}
        for (guard, cut_line), n in cuts.items():
            for slot, index in layout.holders(guard, cut_line).items():
                d = by_slot.get(slot)
                if d is not None and (
                    index < d.member or (index == d.member and cut_line < d.body_line)
                ):
                    stopped[slot] = stopped.get(slot, 0) + n
    for slot, _, _, sources in derived:  # last first: its sources are worked out
        total = stopped.get(slot, 0) + sum(counts.get(source, 0) for source in sources)
        if total > 0:
            counts[slot] = total
    return counts


def _add_failed_tests(
    layout: SlotTable, arcs: dict[Arc, Count], if_ran: dict[Arc, Count], cuts: Cuts
) -> None:
    """Add the IF_FAILED arcs: the times the `if` was tested (its block ran, less the
    exceptions that stopped it before the test came out) less the times its body ran."""
    body_starts = layout.if_bodies()
    unfinished = _tests_unfinished(layout, cuts, body_starts)
    for (line, end), ran in if_ran.items():
        taken = arcs.get((line, body_starts[line]), 0) if line in body_starts else 0
        failed = ran - unfinished.get((line, end), 0) - taken
        if failed > 0:
            arcs[(line, end)] = arcs.get((line, end), 0) + failed


def _stops(layout: SlotTable, cuts: Cuts) -> Iterator[tuple[LineNo, int, list[Member], int]]:
    """Where each exception stopped each block it cut short: (the line it left at, how many
    times, the block's members, the index of its last member holding that line). A block
    holds the lines of its members' statements, a compound statement's whole body
    included; the members after the one holding the line never ran."""
    for (guard, cut_line), n in cuts.items():
        for slot, index in layout.holders(guard, cut_line).items():
            yield cut_line, n, layout.members(slot), index


def _uncounted(layout: SlotTable, cuts: Cuts) -> dict[LineNo, Count]:
    """Line events counted but never run: for each exception that left a guard's blocks at
    line L, the members after the one holding L of each block. An exception that left at a
    loop header's own line came from the loop's test, which trace counts and the loop's
    blocks did not: that line is short of one per exception (negative)."""
    missed: dict[LineNo, Count] = {}
    for cut_line, n, members, index in _stops(layout, cuts):
        if members[index][2] == LOOP_TEST and members[index][0] == cut_line:
            missed[cut_line] = missed.get(cut_line, 0) - n
        for line, _, events in members[index + 1 :]:
            if events and counts_lines(events):
                missed[line] = missed.get(line, 0) + n * events
    return missed


def _tests_unfinished(
    layout: SlotTable, cuts: Cuts, body_starts: Mapping[LineNo, LineNo]
) -> dict[Arc, Count]:
    """For each IF_FAILED arc, the times its block ran but the `if` test never came out:
    an exception stopped the block before the `if`, or in its test (the `if` member holds
    the line, and the line is before the body's first)."""
    unfinished: dict[Arc, Count] = {}
    for cut_line, n, members, index in _stops(layout, cuts):
        holder = members[index][0]  # the line of the member the exception stopped in
        for line, end, events in members[index:]:
            # An `if` after the holder never began; the holder itself, only when the line
            # the exception left at is in its test, before its body.
            if events == IF_FAILED and (holder != line or cut_line < body_starts.get(line, 0)):
                unfinished[(line, end)] = unfinished.get((line, end), 0) + n
    return unfinished


def _add_part(
    into: dict[str, tuple[dict[int, int], Cuts]], key: str, slots: dict[int, int], cuts: Cuts
) -> None:
    """Add a file's slot counts and cuts into a context's."""
    banked_slots, banked_cuts = into.setdefault(key, ({}, {}))
    for slot, n in slots.items():
        banked_slots[slot] = banked_slots.get(slot, 0) + n
    _add_cuts(banked_cuts, cuts)


class _Results:
    """Each file's counts by line (and by arc) worked out when asked for: saving 10,000
    files then holds one file's dictionaries at a time, not all of them."""

    def __init__(
        self,
        files: dict[str, _File],
        branch: bool,
        annotations: AnnotateCalls | None = None,
    ) -> None:
        self.files = files
        self.branch = branch
        self.annotations = annotations
        self._last: tuple[str, dict[LineNo, Count], dict[Arc, Count]] | None = None

    def of(self, path: str) -> tuple[dict[LineNo, Count], dict[Arc, Count]]:
        """(counts by line, counts by arc) of one file."""
        if self._last is None or self._last[0] != path:
            file = self.files[path]
            counts, arcs = file.counts(path, file.totals(), file.all_cuts(), branch=self.branch)
            if self.annotations is not None:
                self.annotations.add_to(path, counts)
            self._last = (path, counts, arcs)
        return self._last[1], self._last[2]


class _PerFile(Mapping[str, Any]):
    """One view of _Results by file: its line counts, executed lines or arc counts."""

    def __init__(self, results: _Results, view: Callable[[str], Any]) -> None:
        self._files = results.files
        self._view = view

    def __getitem__(self, path: str) -> Any:
        if path not in self._files:
            raise KeyError(path)
        return self._view(path)

    def __iter__(self) -> Iterator[str]:
        return iter(self._files)

    def __len__(self) -> int:
        return len(self._files)


class CountEngine:
    """Instruments measured modules as they're imported (and the main script), then reads the
    counter lists back. Counters live in `builtins`, one list per file, so instrumented code
    finds them from any globals; they stay there after stop(), and through the interpreter's
    shutdown (names.put), because code that was instrumented may still run (threads, atexit
    handlers, `__del__`)."""

    name = "count"
    capabilities = capabilities_of("count", branch=True)

    def __init__(
        self, file_filter: FileFilter, *, branch: bool = False, cache: CodeCache | None = None
    ) -> None:
        self.filter = file_filter
        self.branch = branch
        self._files: dict[str, _File] = {}  # canonical path -> its counters
        self._by_name: dict[str, _File] = {}  # counter name -> the same
        self.flavour: Flavour = "branch" if branch else "count"
        self._finder = InstrumentingFinder(
            file_filter.should_measure, self._register, self.flavour, cache
        )
        self._running = False
        self._pytest = PytestPatch(self.flavour, self._wants, self._before_exec)
        self._context = ""
        # Per context, per file: the slot counts and cuts banked at context switches.
        self._contexts: dict[str, dict[str, tuple[dict[int, int], Cuts]]] = {}
        # 3.14+: the line events of compiler-written `__annotate__` code, which has no
        # counters of its own (collect/annotations.py).
        self._annotations = AnnotateCalls(self._key_of) if env.PYVERSION >= (3, 14) else None

    def _key_of(self, filename: str) -> str | None:
        """The key of an instrumented file, or None for any other."""
        key = canonical(filename, self.filter.cwd)
        return key if key in self._files else None

    def _register(self, path: str, _name: str = "") -> list[int]:
        """The counter list for the file at `path`, created in builtins on first use."""
        key = canonical(path, self.filter.cwd)
        name = counter_name(path)
        file = self._files.get(key)
        if file is None:
            file = self._by_name.get(name)
            if file is None:
                existing = builtins.__dict__.get(name)
                file = _File(existing if isinstance(existing, list) else [])
            self._files[key] = file
        self._by_name[name] = file
        put(name, file.counters)
        return file.counters

    def _wants(self, path: str) -> bool:
        """Instrument this test file pytest is compiling?"""
        return self._running and self.filter.should_measure(path)

    def _before_exec(self, path: str) -> None:
        """A test file pytest compiled is about to run: its counters must exist."""
        if self.filter.should_measure(path):
            self._register(path)

    def _take_table(self, name: str, table: bytes) -> None:
        """An instrumented module starts: size its counters to its slot table."""
        file = self._by_name.get(name)
        if file is None:  # instrumented code from elsewhere: count it, but it has no path
            file = self._by_name[name] = _File([])
        file.set_table(table)
        put(name, file.counters)

    def _cut(self, name: str, guard: int) -> None:
        """Called from a guard's handler: an exception is leaving its blocks. Only counted
        here (exception-heavy code calls this a lot); save time works out which lines."""
        try:
            tb = sys.exc_info()[2]
            file = self._by_name[name]
            # At a handler the traceback's first entry is its own frame's.
            place = (guard, tb.tb_lasti)  # type: ignore[union-attr]
            cuts = file.cuts
            n = cuts.get(place)
            if n is None:
                file.cut_lines[place] = tb.tb_lineno  # type: ignore[union-attr]
                n = 0
            cuts[place] = n + 1
        except Exception:
            return

    def start(self) -> None:
        """Install the import hook; zero the counters of files seen before."""
        for file in self._files.values():
            file.counters[:] = [0] * len(file.counters)
        put(HIT_HELPER, _hit)
        put(TICK_HELPER, _tick)
        put(ENTRY_HELPER, _entry)
        put(GENERATOR_HELPER, _generator)
        put(ITER_BUILTIN, iter)
        put(BLOCKS_HELPER, self._take_table)
        put(FIX_HELPER, self._cut)
        install_finder(self._finder)
        if self._annotations is not None:
            self._annotations.forget()
            self._annotations.start()
        self._running = True
        watch_pytest(self._pytest)

    def stop(self) -> None:
        """Remove the import hook and bank the counts so far."""
        if self._finder in sys.meta_path:
            sys.meta_path.remove(self._finder)
        if self._annotations is not None:
            self._annotations.stop()
        if self._contexts:
            self._bank_context()  # the current context's too, not only the totals
        for file in self._files.values():
            file.bank()
        self._running = False

    def forget(self) -> None:
        """Drop the counts so far (a forked child starts from nothing); code keeps its
        counters."""
        for file in self._files.values():
            file.counters[:] = [0] * len(file.counters)
            file.banked = []
            file.cuts.clear()
            file.banked_cuts.clear()
        self._contexts.clear()
        if self._annotations is not None:
            self._annotations.forget()

    def measurement(self, *, contexts: bool = True) -> Measurement:
        """Counts (and so executed lines) for every instrumented file, so far; with
        `contexts`, the lines (and arcs) of each context as well."""
        results = _Results(dict(self._files), self.branch, self._annotations)
        counts = _PerFile(results, lambda path: results.of(path)[0])
        lines = _PerFile(results, lambda path: set(results.of(path)[0]))
        arcs = _PerFile(results, lambda path: results.of(path)[1]) if self.branch else None
        meta = {"tally_engine": self.name}
        parts = self._context_parts() if contexts else {}
        return Measurement(lines, counts, meta, arcs, parts)

    def switch_context(self, name: str) -> None:
        """What ran since the last switch was the current context's; go on in `name`.
        Costs a C-speed scan of each file's counters and a step per counter that ran."""
        if name == self._context:
            return
        self._bank_context()
        self._context = name

    def _bank_context(self) -> None:
        """Bank what ran since the last switch as the current context's."""
        into = self._contexts.setdefault(self._context, {})
        for key, file in list(self._files.items()):
            if not (file.cuts or any(file.counters)):
                continue
            _add_part(into, key, *file.take_live())

    def _context_parts(self) -> dict[str, Measurement]:
        """Each context's lines (and arcs), when contexts were switched."""
        if not self._contexts:
            return {}
        banked = {name: dict(files) for name, files in self._contexts.items()}
        current = banked.setdefault(self._context, {})
        for key, file in list(self._files.items()):
            live = file.live()
            if live or file.cuts:
                # Added to copies: the banked parts stay as the switches left them.
                slots, cuts = current.get(key, ({}, {}))
                current[key] = (dict(slots), dict(cuts))
                _add_part(current, key, live, file.live_cuts())
        parts: dict[str, Measurement] = {}
        for name, files in banked.items():
            lines: dict[str, set[LineNo]] = {}
            arcs: dict[str, dict[Arc, Count]] | None = {} if self.branch else None
            for key, (slots, cuts) in files.items():
                counted, taken = self._files[key].counts(key, slots, cuts, branch=self.branch)
                lines[key] = set(counted)
                if arcs is not None:
                    arcs[key] = dict.fromkeys(taken, 0)
            parts[name] = Measurement(lines, None, None, arcs)
        return parts

    def compile_main(self, path: str, source: str) -> CodeType:
        """The main script, instrumented when it is measured."""
        if not self.filter.should_measure(path):
            return compile(source, path, "exec", dont_inherit=True)
        self._register(path)
        code = instrumented_or_none(source, path, self.flavour)
        return compile(source, path, "exec", dont_inherit=True) if code is None else code


def derive_case_counts(path: str, counts: dict[LineNo, Count]) -> None:
    """Turn `case` lines' entry counts into test counts: a case is tested each time the match
    runs and no earlier case matched (case bodies count their entries on the case line)."""
    if not counts:
        return
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError:
        return
    if b"match" not in data:
        return
    import ast

    try:
        tree = ast.parse(data)
    except (SyntaxError, ValueError):
        return
    for node in ast.walk(tree):
        if not isinstance(node, ast.Match):
            continue
        remaining = counts.get(node.lineno, 0)
        for case in node.cases:
            line = case.pattern.lineno
            entered = counts.get(line, 0)
            if remaining:
                counts[line] = remaining
            else:
                counts.pop(line, None)
            remaining -= entered
