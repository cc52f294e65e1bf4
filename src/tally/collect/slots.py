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
"""

from __future__ import annotations

import sys
from array import array
from collections.abc import Sequence

__all__ = [
    "ARC",
    "CASE_NEXT",
    "FLAG_CASES",
    "IF_FAILED",
    "LOOP_TEST",
    "Member",
    "Slot",
    "counts_lines",
    "is_arc",
    "pack_slots",
    "spread_arcs",
    "spread_counts",
    "table_header",
    "unpack_slots",
]

Member = tuple[int, int, int]  # (line, last line or 0, line events per run)
Slot = tuple[int, Sequence[Member]]  # (guard, members)

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


_CODE = "i" if array("i").itemsize == 4 else "l"


def pack_slots(slots: Sequence[Slot], flags: int = 0) -> bytes:
    """The table for `slots` (slot i is `slots[i]`: its guard and its members in order)."""
    numbers = array(_CODE, [flags, len(slots)])
    for guard, members in slots:
        numbers.extend((len(members), guard))
        for member in members:
            numbers.extend(member)
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


def unpack_slots(data: bytes) -> list[tuple[int, tuple[Member, ...]]]:
    """The slots of a table made by pack_slots: (guard, members) for each."""
    numbers = _numbers(data)
    slots: list[tuple[int, tuple[Member, ...]]] = []
    index = 2
    end = len(numbers)
    while index < end:
        size, guard = numbers[index], numbers[index + 1]
        start = index + 2
        index = start + 3 * size
        members = tuple(
            (numbers[i], numbers[i + 1], numbers[i + 2]) for i in range(start, index, 3)
        )
        slots.append((guard, members))
    return slots


def spread_counts(data: bytes, slot_counts: Sequence[int]) -> dict[int, int]:
    """{line: count} from each slot's count, added to its members' lines `events` times.
    Works on the packed table directly: saving reads every file's table once."""
    numbers = _numbers(data)
    counts: dict[int, int] = {}
    index = 2
    end = len(numbers)
    for n in slot_counts:
        if index >= end:
            break
        stop = index + 2 + 3 * numbers[index]
        if n:
            for i in range(index + 2, stop, 3):
                events = numbers[i + 2]
                if events >= _MARKERS:
                    line = numbers[i]
                    counts[line] = counts.get(line, 0) + n * events
        index = stop
    return counts


ArcCounts = dict[tuple[int, int], int]


def spread_arcs(data: bytes, slot_counts: Sequence[int]) -> tuple[ArcCounts, ArcCounts, ArcCounts]:
    """The arcs of a table's ARC members with their slots' counts, the CASE_NEXT arcs with
    the counts of their slots (the times their case matched), and the IF_FAILED arcs with
    the counts of theirs (the times the block holding the `if` ran)."""
    arcs: ArcCounts = {}
    by_kind: dict[int, ArcCounts] = {ARC: arcs, CASE_NEXT: {}, IF_FAILED: {}}
    for slot, (_, members) in enumerate(unpack_slots(data)):
        n = slot_counts[slot] if slot < len(slot_counts) else 0
        for line, last, events in members:
            found = by_kind.get(events)
            if found is not None:
                found[(line, last)] = found.get((line, last), 0) + n
    return arcs, by_kind[CASE_NEXT], by_kind[IF_FAILED]
