"""The packed slot table: what each counter of an instrumented file stands for."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tally.collect.slots import (
    ARC,
    CASE_NEXT,
    FLAG_CASES,
    IF_FAILED,
    LOOP_TEST,
    Derived,
    SlotTable,
    pack_slots,
    ran_slots,
    table_header,
)

numbers = st.integers(min_value=0, max_value=2**31 - 1)
events = st.integers(min_value=-8, max_value=8) | st.just(LOOP_TEST)
members = st.tuples(numbers, numbers, events)
slots = st.tuples(st.integers(min_value=0, max_value=50), st.lists(members, max_size=6).map(tuple))
tables = st.lists(slots, max_size=30)
Table = list[tuple[int, tuple[tuple[int, int, int], ...]]]


derived = st.lists(
    st.builds(Derived, numbers, numbers, numbers, st.lists(numbers, max_size=3).map(tuple)),
    max_size=5,
)


@given(tables, st.sampled_from([0, FLAG_CASES]), derived)
def test_a_table_reads_back_what_was_packed(
    slots: Table, flags: int, derived: list[Derived]
) -> None:
    table = pack_slots(slots, flags, derived)
    read = SlotTable(table)
    assert [(read.guard(i), tuple(read.members(i))) for i in range(read.size())] == slots
    assert table_header(table) == (flags, len(slots))
    # Last slot first: a derived slot's sources come after it and are worked out before it.
    assert read.derived() == sorted(derived, key=lambda d: -d.slot)


@given(tables, st.data())
def test_spreading_adds_each_slot_count_to_its_lines_events_times(
    slots: Table, data: st.DataObject
) -> None:
    slot_counts = data.draw(
        st.lists(st.integers(0, 10**6), min_size=len(slots), max_size=len(slots))
    )
    expected: dict[int, int] = {}
    for n, (_, members) in zip(slot_counts, slots, strict=True):
        for line, _, per_run in members:
            if n and per_run != LOOP_TEST:
                expected[line] = expected.get(line, 0) + n * per_run
    assert SlotTable(pack_slots(slots)).spread_counts(ran_slots(slot_counts)) == expected


def test_an_empty_table_has_no_slots() -> None:
    assert table_header(b"") == (0, 0)
    assert SlotTable(pack_slots([])).spread_counts({0: 5}) == {}
    assert SlotTable(pack_slots([])).size() == 0
    assert SlotTable(pack_slots([])).derived() == []
    assert SlotTable(b"").derived() == []


arc_events = events | st.sampled_from([ARC, CASE_NEXT, IF_FAILED])
arc_tables = st.lists(
    st.tuples(st.integers(0, 3), st.lists(st.tuples(numbers, numbers, arc_events), max_size=6)),
    max_size=30,
)


@given(arc_tables, st.data())
def test_reading_in_place_finds_what_unpacking_finds(
    slots: list[tuple[int, list[tuple[int, int, int]]]], data: st.DataObject
) -> None:
    """Each slot's members, the arcs of the slots that ran (every CASE_NEXT arc, run or
    not), and which member of each guarded block holds a line, as the unpacked table has
    them."""
    table = SlotTable(pack_slots([(guard, tuple(members)) for guard, members in slots]))
    assert table.size() == len(slots)
    assert [table.members(i) for i in range(len(slots))] == [m for _, m in slots]
    ran = data.draw(st.dictionaries(st.integers(0, max(len(slots) - 1, 0)), st.integers(1, 9)))
    arcs, case_next, if_ran = table.spread_arcs(ran)
    expected: dict[int, dict[tuple[int, int], int]] = {ARC: {}, CASE_NEXT: {}, IF_FAILED: {}}
    for slot, (_, members) in enumerate(slots):
        n = ran.get(slot, 0)
        for line, last, kind in members:
            if kind in expected and (n or kind == CASE_NEXT):
                found = expected[kind]
                found[(line, last)] = found.get((line, last), 0) + n
    assert (arcs, case_next, if_ran) == (expected[ARC], expected[CASE_NEXT], expected[IF_FAILED])
    near = [n for _, members in slots for first, _, _ in members for n in (first, first + 1)]
    guard = data.draw(st.integers(1, 3))
    line = data.draw(st.sampled_from(near) if near else numbers)
    holders: dict[int, int] = {}
    for slot, (slot_guard, members) in enumerate(slots):
        for index, (first, last, kind) in enumerate(members):
            cuts = (last and kind not in (ARC, CASE_NEXT, IF_FAILED)) or kind == LOOP_TEST
            if slot_guard == guard and cuts and first <= line <= max(first, last):
                holders[slot] = index
    assert table.holders(guard, line) == holders
