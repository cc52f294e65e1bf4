"""`dynamic_context = test_function`, piece by piece: how a test's context is named (as
coverage.py names it), and when the watcher switches to it and back.

The watcher's hooks run as a profile function (3.11) or as sys.monitoring callbacks (3.12+),
where no tracer sees them; here they are called directly, with real frames. The whole, run
under pytest and compared with coverage.py, is in test_contexts.py."""

from __future__ import annotations

import sys
from types import FrameType
from typing import Any

import pytest

from tally.collect import contexts
from tally.collect.contexts import TestFunctions, dynamic_contexts
from tally.env import HAS_MONITORING
from tally.exceptions import ConfigError

# sys.monitoring, which mypy (checking for 3.11) doesn't know of; None before 3.12.
MONITORING: Any = getattr(sys, "monitoring", None)


def probe_function() -> FrameType:
    return sys._getframe()


class Probe:
    """Not collected by pytest (its name doesn't start with Test), but named as tests are."""

    def test_method(self) -> FrameType:
        return sys._getframe()

    @staticmethod
    def test_static() -> FrameType:
        return sys._getframe()

    def test_calls_hook(self, watcher: TestFunctions) -> object:
        return watcher._started(sys._getframe().f_code, 0)


def test_a_context_is_named_by_module_and_qualified_name() -> None:
    assert contexts.test_name(probe_function()) == f"{__name__}.probe_function"
    assert contexts.test_name(Probe().test_method()) == f"{__name__}.Probe.test_method"
    assert contexts.test_name(Probe.test_static()) == f"{__name__}.Probe.test_static"


def test_a_nested_function_has_no_context_name() -> None:
    def test_inner() -> FrameType:
        return sys._getframe()

    assert contexts.test_name(test_inner()) is None


def test_the_profile_hook_switches_to_a_test_and_back_when_it_returns() -> None:
    switched: list[str] = []
    watcher = TestFunctions(switched.append)
    test, helper = Probe().test_method(), sys._getframe()
    watcher._profile(test, "call", None)
    watcher._profile(Probe.test_static(), "call", None)  # a test inside a test: no switch
    watcher._profile(helper, "return", None)  # another frame returning: no switch
    watcher._profile(test, "return", None)
    assert switched == [f"{__name__}.Probe.test_method", ""]


def test_only_test_function_is_a_dynamic_context() -> None:
    assert dynamic_contexts("", print) is None
    assert isinstance(dynamic_contexts("test_function", print), TestFunctions)
    with pytest.raises(ConfigError, match=r"the only dynamic context is test_function$"):
        dynamic_contexts("test_method", print)


@pytest.mark.skipif(not HAS_MONITORING, reason="sys.monitoring exists from 3.12")
def test_the_monitoring_hooks_switch_on_a_test_start_and_back_on_its_end() -> None:
    switched: list[str] = []
    watcher = TestFunctions(switched.append)
    watcher.start()
    MONITORING.set_events(watcher._tool, 0)  # only the calls below start a test
    try:
        # Code that isn't a test turns its PY_START off.
        assert watcher._started(probe_function.__code__, 0) is MONITORING.DISABLE
        assert Probe().test_calls_hook(watcher) is None
        # It switched to the test's context; the test's own PY_RETURN (turned on for its
        # code) switched back when it returned.
        assert switched == [f"{__name__}.Probe.test_calls_hook", ""]
        code = Probe.test_calls_hook.__code__
        watcher._frame = sys._getframe()  # as if this frame were the test: it returns
        watcher._returned(code, 0, None)
        watcher._frame = sys._getframe()  # and one that raises
        watcher._unwound(code, 0, ValueError())
        assert switched[2:] == ["", ""] and watcher._frame is None
    finally:
        watcher.stop()


@pytest.mark.skipif(not HAS_MONITORING, reason="sys.monitoring exists from 3.12")
def test_no_free_monitoring_tool_id_is_a_config_error() -> None:
    taken = []
    for tool in range(6):
        if MONITORING.get_tool(tool) is None:
            MONITORING.use_tool_id(tool, "test")
            taken.append(tool)
    try:
        with pytest.raises(ConfigError, match=r"needs a free sys\.monitoring tool id"):
            TestFunctions(print).start()
    finally:
        for tool in taken:
            MONITORING.free_tool_id(tool)
