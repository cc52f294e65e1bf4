"""The count engine's `__annotate__` counter (3.14+): which calls count, and how their line
events are counted, as trace counts them. Its hooks are sys.monitoring callbacks, which no
tracer sees; here they are called directly. The counts against trace on whole programs are
the corpus's (tests/corpus/annotations_asked.py, annotations_future.py)."""

from __future__ import annotations

import sys

import pytest

from tally.collect.annotations import AnnotateCalls

pytestmark = pytest.mark.skipif(
    sys.version_info < (3, 14), reason="__annotate__ functions exist from 3.14 (PEP 649)"
)


def annotated(count: int) -> str:
    return str(count)


def called_from_here(calls: AnnotateCalls, code: object) -> object:
    """The hook called from a frame of this module (whose globals have a `__file__`)."""
    return calls._started(code, 0)  # type: ignore[arg-type]


def test_the_line_events_of_a_measured_files_annotate_code_are_counted_once_per_line() -> None:
    calls = AnnotateCalls(lambda filename: "key" if filename == __file__ else None)
    calls.start()
    try:
        annotate = annotated.__annotate__.__code__  # type: ignore[attr-defined]
        line = annotate.co_firstlineno
        assert called_from_here(calls, annotate) is None  # watched: its PY_START stays on
        calls._line(annotate, line)
        calls._line(annotate, line)  # the same line again: no new event for trace
        calls._line(annotate, line + 1)
        calls._line(annotate, line)
        assert calls.events == {"key": {line: 2, line + 1: 1}}
        # annotationlib's calls under stand-in globals (no __file__) don't count.
        exec("calls._started(code, 0)", {"calls": calls, "code": annotate})
        calls._line(annotate, line)
        assert calls.events == {"key": {line: 2, line + 1: 1}}
        counts = {line: 1, line + 5: 3}
        calls.add_to("key", counts)  # onto the lines already counted only
        assert counts == {line: 3, line + 5: 3}
    finally:
        calls.stop()


def test_other_code_turns_its_start_event_off() -> None:
    calls = AnnotateCalls(lambda filename: None)
    calls.start()
    try:
        disable = sys.monitoring.DISABLE  # type: ignore[attr-defined]
        assert called_from_here(calls, annotated.__code__) is disable  # not an __annotate__
        annotate = annotated.__annotate__.__code__  # type: ignore[attr-defined]
        assert called_from_here(calls, annotate) is disable  # a file not measured
    finally:
        calls.stop()
    calls.forget()
    assert calls.events == {}
