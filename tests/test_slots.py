"""The packed slot table: what each counter of an instrumented file stands for."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tally.collect.slots import (
    FLAG_CASES,
    LOOP_TEST,
    pack_slots,
    spread_counts,
    table_header,
    unpack_slots,
)

numbers = st.integers(min_value=0, max_value=2**31 - 1)
events = st.integers(min_value=-8, max_value=8) | st.just(LOOP_TEST)
members = st.tuples(numbers, numbers, events)
slots = st.tuples(st.integers(min_value=0, max_value=50), st.lists(members, max_size=6).map(tuple))
tables = st.lists(slots, max_size=30)
Table = list[tuple[int, tuple[tuple[int, int, int], ...]]]


@given(tables, st.sampled_from([0, FLAG_CASES]))
def test_a_table_unpacks_to_what_was_packed(slots: Table, flags: int) -> None:
    table = pack_slots(slots, flags)
    assert unpack_slots(table) == slots
    assert table_header(table) == (flags, len(slots))


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
    assert spread_counts(pack_slots(slots), slot_counts) == expected


def test_an_empty_table_has_no_slots() -> None:
    assert table_header(b"") == (0, 0)
    assert unpack_slots(pack_slots([])) == []
    assert spread_counts(pack_slots([]), [5]) == {}
