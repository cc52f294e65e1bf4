"""The slot table of an instrumented file: which lines each of its counters stands for.

rewrite.py writes it and the instrumented module hands it to the engine when it starts
(counting.py reads it). It is a bytes constant in the module's code, packed as signed
32-bit little-endian numbers, so it costs 4 bytes a number in memory and in the cache
where tuples of ints would cost ~30:

    flags (FLAG_CASES: the file has `case` entries), number of slots
    for each slot: member count, guard, then (line, last line, events) for each member

A member is a line the slot's count is added to `events` times (a signed number). `last`
is the last line of the member's statement when an exception there cuts the block short
(0 when it can't), and `events` 0 marks a statement that only cuts blocks (a loop, counted
inside itself). `events` LOOP_TEST marks a loop header on a line of its own: it counts
nothing per run either, but an exception leaving at its line was raised by the loop's test
(or by `next()` on its iterator), which trace counts as one more event there.
The guard is the number of the `try` wrapper whose handler reports exceptions that cut the
block short (0: none can).

With branch coverage a slot also stands for arcs: a member whose `events` is ARC is the
arc (line, last) taken each time the slot counts (a block starting an arm of a decision
opens with one), and CASE_NEXT is the arc from a `case` line onward when its pattern
fails: the times the case was tested less the times the slot (its body) was entered.
IF_FAILED is the arc an `if` without `else` takes when its test fails, in the block that
holds the `if`: the times the slot ran, less those an exception stopped before the `if`
or in its test, less the times the body was entered (counting.py). It spares the hot
path a counter for the most common arm of all.
None of these counts line events, and an exception cutting the block never takes them
back.

After the slots come the *derived* slots, which have no counter in the code:

    number of derived slots
    for each: slot, member index, body line, number of sources, then the sources

A block that starts with an `if` runs exactly as often as the `if`'s arms start, plus the
times an exception stopped it before its test came out: its count is the sum of its
sources' counts (the blocks starting each arm, which may be derived themselves) plus the
exceptions that left the block at the `if` member (the member index) on a line before
the `if` body's first (the body line), worked out at save time (counting.py). The hot path
then pays for one counter per run of such an `if`, where it paid for the block and the arm.
"""

from __future__ import annotations

import sys
from array import array
from collections.abc import Mapping, Sequence
from itertools import compress
from typing import Literal, NamedTuple

__all__ = [
    "ARC",
    "CASE_NEXT",
    "FLAG_CASES",
    "IF_FAILED",
    "LOOP_TEST",
    "Derived",
    "Member",
    "Slot",
    "SlotTable",
    "counts_lines",
    "is_arc",
    "pack_slots",
    "ran_slots",
    "table_header",
]

Member = tuple[int, int, int]  # (line, last line or 0, line events per run)
Slot = tuple[int, Sequence[Member]]  # (guard, members)


class Derived(NamedTuple):
    """A slot counted by no counter of its own (see above)."""

    slot: int
    member: int  # the index of the `if` in the slot's members
    body_line: int  # the first line of the `if`'s body: a line before it is in the test
    sources: tuple[int, ...]  # the slots whose counts add up to this one's


FLAG_CASES = 1  # `case` lines count entries; counting.py derives the times tested
LOOP_TEST = -(2**31)  # the `events` of a loop header's member (see above)
ARC = LOOP_TEST + 1  # the member is an arc taken each time its slot counts
CASE_NEXT = LOOP_TEST + 2  # the member is a `case` line's arc onward (see above)
IF_FAILED = LOOP_TEST + 3  # the member is an `if` line's arc when its test fails (see above)
_MARKERS = LOOP_TEST + 16  # `events` below this mark a member that counts no line events


def is_arc(events: int) -> bool:
    """Does a member with these `events` stand for an arc (ARC, CASE_NEXT or IF_FAILED)?"""
    return events in (ARC, CASE_NEXT, IF_FAILED)


def counts_lines(events: int) -> bool:
    """Does a member with these `events` add line events (rather than mark a loop test or
    stand for an arc)?"""
    return events >= _MARKERS


_CODE: Literal["i", "l"] = "i" if array("i").itemsize == 4 else "l"


def pack_slots(slots: Sequence[Slot], flags: int = 0, derived: Sequence[Derived] = ()) -> bytes:
    """The table for `slots` (slot i is `slots[i]`: its guard and its members in order)
    and the `derived` slots among them."""
    numbers = array(_CODE, [flags, len(slots)])
    for guard, members in slots:
        numbers.extend((len(members), guard))
        for member in members:
            numbers.extend(member)
    numbers.append(len(derived))
    for slot, member_index, body_line, sources in derived:
        numbers.extend((slot, member_index, body_line, len(sources), *sources))
    if sys.byteorder == "big":
        numbers.byteswap()
    return numbers.tobytes()


def _numbers(data: bytes) -> array[int]:
    numbers = array(_CODE)
    numbers.frombytes(data)
    if sys.byteorder == "big":
        numbers.byteswap()
    return numbers


def table_header(data: bytes) -> tuple[int, int]:
    """(flags, number of slots) of a table, without unpacking the rest."""
    numbers = _numbers(data[:8])
    return (numbers[0], numbers[1]) if len(numbers) == 2 else (0, 0)


ArcCounts = dict[tuple[int, int], int]


class SlotTable:
    """A packed table read in place. An index of where each slot starts lets a few
    slots (what ran in one test) cost a few steps rather than a walk of the whole table;
    what the table says besides the slots' members (its CASE_NEXT arcs, the bodies of its
    `if`s, its guarded members) is found by one more walk, only when asked for (branch
    coverage, exceptions)."""

    __slots__ = (
        "_case_next",
        "_derived",
        "_derived_at",
        "_guarded",
        "_if_bodies",
        "_numbers",
        "_scanned",
        "_starts",
        "data",
    )

    def __init__(self, data: bytes) -> None:
        self.data = data
        # In place, not copied, where the machine's order is the table's (little-endian).
        self._numbers: Sequence[int] = (
            memoryview(data).cast(_CODE) if sys.byteorder == "little" else _numbers(data)
        )
        self._starts: array[int] | None = None
        self._derived_at = 0  # where the derived slots' section starts (_index())
        self._derived: list[Derived] | None = None
        self._scanned = False
        self._case_next: list[tuple[int, tuple[int, int]]] = []
        self._if_bodies: dict[int, int] = {}
        self._guarded: dict[int, list[tuple[int, int, int, int]]] = {}

    def _index(self) -> array[int]:
        """Where each slot starts: a step per slot."""
        if self._starts is None:
            numbers = self._numbers
            starts = array(_CODE)
            index = 2
            for _ in range(numbers[1] if len(numbers) > 1 else 0):
                starts.append(index)
                index += 2 + 3 * numbers[index]
            self._starts = starts
            self._derived_at = index
        return self._starts

    def derived(self) -> list[Derived]:
        """The derived slots, last slot first: a slot's sources come after it, so each
        is worked out after its sources (kept: every measurement asks)."""
        if self._derived is None:
            self._index()
            numbers, index = self._numbers, self._derived_at
            found: list[Derived] = []
            if index < len(numbers):  # else a table without the section (no slots at all)
                index += 1
                for _ in range(numbers[index - 1]):
                    slot, member, body_line, count = numbers[index : index + 4]
                    sources = tuple(numbers[index + 4 : index + 4 + count])
                    found.append(Derived(slot, member, body_line, sources))
                    index += 4 + count
            found.sort(key=lambda derived: -derived.slot)
            self._derived = found
        return self._derived

    def _scan(self) -> None:
        """Find the CASE_NEXT arcs, the `if` bodies and the guarded members: a step per
        member, once."""
        if self._scanned:
            return
        if_arcs: set[tuple[int, int]] = set()
        arms: list[tuple[int, int]] = []
        for slot in range(self.size()):
            guard = self.guard(slot)
            for member, (line, last, events) in enumerate(self.members(slot)):
                if events == CASE_NEXT:
                    self._case_next.append((slot, (line, last)))
                elif events == IF_FAILED:
                    if_arcs.add((line, last))
                elif events == ARC:
                    arms.append((line, last))
                # Where an exception leaving the guard at a line stopped this block: in
                # the member holding that line (its statement, a compound one's body too).
                if guard and ((last and not is_arc(events)) or events == LOOP_TEST):
                    span = (slot, member, line, max(last, line))
                    self._guarded.setdefault(guard, []).append(span)
        # An `if` without `else` has two arcs: IF_FAILED, and its body's (an ARC).
        if_lines = {line for line, _ in if_arcs}
        self._if_bodies = {
            line: start for line, start in arms if line in if_lines and (line, start) not in if_arcs
        }
        self._scanned = True

    def members(self, slot: int) -> list[Member]:
        """The members of one slot."""
        numbers = self._numbers
        index = self._index()[slot]
        first = index + 2
        return [
            (numbers[i], numbers[i + 1], numbers[i + 2])
            for i in range(first, first + 3 * numbers[index], 3)
        ]

    def guard(self, slot: int) -> int:
        """The guard of one slot (0: no exception can cut its block short)."""
        return self._numbers[self._index()[slot] + 1]

    def size(self) -> int:
        """The number of slots."""
        return len(self._index())

    def spread_counts(self, ran: Mapping[int, int]) -> dict[int, int]:
        """{line: count} from the counts of the slots that `ran`, each added to its
        members' lines `events` times."""
        numbers = self._numbers
        starts = self._index()
        size = len(starts)
        counts: dict[int, int] = {}
        get = counts.get
        for slot, n in ran.items():
            if slot < size:
                index = starts[slot]
                for i in range(index + 2, index + 2 + 3 * numbers[index], 3):
                    events = numbers[i + 2]
                    if events >= _MARKERS:
                        line = numbers[i]
                        counts[line] = get(line, 0) + n * events
        return counts

    def spread_arcs(self, ran: Mapping[int, int]) -> tuple[ArcCounts, ArcCounts, ArcCounts]:
        """The arcs of the ARC members of the slots that `ran`, with their counts; every
        CASE_NEXT arc with its slot's count (the times its case matched, maybe none); the
        IF_FAILED arcs of the slots that ran, with their counts (the times the block
        holding the `if` ran)."""
        starts = self._index()
        self._scan()
        arcs: ArcCounts = {}
        if_ran: ArcCounts = {}
        by_kind: dict[int, ArcCounts] = {ARC: arcs, IF_FAILED: if_ran}
        for slot, n in ran.items():
            if slot >= len(starts):
                continue
            for line, last, events in self.members(slot):
                found = by_kind.get(events)
                if found is not None:
                    found[(line, last)] = found.get((line, last), 0) + n
        case_next: ArcCounts = {}
        for slot, arc in self._case_next:
            case_next[arc] = case_next.get(arc, 0) + ran.get(slot, 0)
        return arcs, case_next, if_ran

    def if_bodies(self) -> dict[int, int]:
        """{line of an `if` without `else`: the first line of its body}."""
        self._scan()
        return self._if_bodies

    def holders(self, guard: int, line: int) -> dict[int, int]:
        """{slot: its last member holding `line`} of the blocks guarded by `guard`: where
        an exception leaving that guard at that line stopped each block."""
        self._scan()
        latest: dict[int, int] = {}
        for slot, member, low, high in self._guarded.get(guard, ()):
            if low <= line <= high:
                latest[slot] = member
        return latest


def ran_slots(slot_counts: Sequence[int]) -> dict[int, int]:
    """{slot: count} of the slots in a dense list of counts that ran."""
    return dict(compress(enumerate(slot_counts), slot_counts))
