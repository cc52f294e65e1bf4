"""Per-test contexts found from the running code: coverage.py's `dynamic_context = test_function`.

When a function whose name starts with `test` (or a `runTest` method) starts while no test is
running, what runs until it returns is recorded in a context named after it, as coverage.py
names it: `module.function`, or `module.Class.method` for a method. Code run outside any test
is recorded in the empty context. Both engines record per context already (`switch_context`);
this module only watches for test functions starting and ending:

- on CPython 3.12+, through sys.monitoring with a tool id of its own: PY_START turns itself
  off (DISABLE) in every code object whose name isn't a test's, so the rest of the program
  costs one event per code object; a test's code gets local PY_RETURN, PY_YIELD and PY_RESUME
  events, and PY_UNWIND catches a test that raises. A yield ends the context and a resume
  starts it again, as coverage.py's tracer sees them (a `return` and a `call`), so a
  generator named test... (unittest's `testPartExecutor`) holds its context only while it
  runs;
- on 3.11, through `sys.setprofile` (and `threading.setprofile` for new threads), which sees
  every call and return: a cost only the users of this option pay, as coverage.py's tracer
  does for the same option.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from types import CodeType, FrameType
from typing import Any

from tally import env
from tally.collect import tool_ids
from tally.exceptions import ConfigError

__all__ = ["TestFunctions", "dynamic_contexts", "test_name"]

# The sys.monitoring tool ids this may take, after the monitor engine took its own.
_TOOL_IDS = (4, 2, 3, 5)


def dynamic_contexts(setting: str, switch: Callable[[str], None]) -> TestFunctions | None:
    """The watcher `[run] dynamic_context` asks for (None for none). Raises ConfigError for
    a setting coverage.py doesn't know either."""
    if not setting:
        return None
    if setting == "test_function":
        return TestFunctions(switch)
    raise ConfigError(
        f"[run] dynamic_context = {setting}: the only dynamic context is test_function"
    )


def _is_test(code: CodeType) -> bool:
    return code.co_name.startswith("test") or code.co_name == "runTest"


def test_name(frame: FrameType) -> str | None:
    """The context a test function's frame runs in, as coverage.py names it: the function's
    module and qualified name, or None where it can't be found (a nested function)."""
    code = frame.f_code
    name = code.co_name
    bound = None
    if code.co_argcount and code.co_varnames[0] == "self":
        bound = getattr(frame.f_locals.get("self"), name, None)
    if bound is None:
        function = frame.f_globals.get(name)
        if function is None:
            # Static and class methods aren't module globals; their code knows its name.
            if code.co_flags & env.CO_OPTIMIZED and "<locals>" not in code.co_qualname:
                return f"{frame.f_globals.get('__name__')}.{code.co_qualname}"
            return None
        return f"{function.__module__}.{name}"
    function = getattr(bound, "__func__", None)
    if function is None:
        cls = frame.f_locals["self"].__class__
        return f"{cls.__module__}.{cls.__name__}.{name}"
    return f"{function.__module__}.{function.__qualname__}"


class TestFunctions:
    """Switches the context to each test function while it runs, and back to none after."""

    __test__ = False  # not a test class, whatever pytest thinks of its name

    def __init__(self, switch: Callable[[str], None]) -> None:
        self._switch = switch
        self._frame: FrameType | None = None  # the running test's frame
        self._tool: int | None = None

    def start(self) -> None:
        """Watch for test functions from now on."""
        if env.HAS_MONITORING:
            self._start_monitoring()
        else:
            sys.setprofile(self._profile)
            threading.setprofile(self._profile)

    def stop(self) -> None:
        """Stop watching (the context stays as it is)."""
        if self._tool is not None:
            events = sys.monitoring.events  # type: ignore[attr-defined,unused-ignore]
            watched = (
                events.PY_START,
                events.PY_RESUME,
                events.PY_RETURN,
                events.PY_YIELD,
                events.PY_UNWIND,
            )
            tool_ids.release(self._tool, watched)
            self._tool = None
        elif sys.getprofile() == self._profile:
            sys.setprofile(None)
            threading.setprofile(None)  # type: ignore[arg-type,unused-ignore]

    def _begin(self, frame: FrameType) -> bool:
        """A test-named function started in `frame`: switch to its context if no test is
        running and it has a name. True when it did."""
        if self._frame is not None:
            return False
        name = test_name(frame)
        if name is None:
            return False
        self._frame = frame
        self._switch(name)
        return True

    def _end(self, frame: FrameType) -> None:
        if frame is self._frame:
            self._frame = None
            self._switch("")

    # -- 3.11: a profile function --------------------------------------------------------

    def _profile(self, frame: FrameType, event: str, arg: object) -> None:
        if event == "call":
            if self._frame is None and _is_test(frame.f_code):
                self._begin(frame)
        elif event == "return" and frame is self._frame:
            self._end(frame)

    # -- 3.12+: sys.monitoring -----------------------------------------------------------

    def _start_monitoring(self) -> None:
        mon: Any = sys.monitoring  # type: ignore[attr-defined,unused-ignore]
        self._tool = tool_ids.claim(_TOOL_IDS, "tally-contexts")
        if self._tool is None:
            raise ConfigError(
                "[run] dynamic_context = test_function needs a free sys.monitoring tool id, "
                "and other tools hold them all"
            )
        events = mon.events
        mon.register_callback(self._tool, events.PY_START, self._started)
        mon.register_callback(self._tool, events.PY_RESUME, self._started)
        mon.register_callback(self._tool, events.PY_RETURN, self._returned)
        mon.register_callback(self._tool, events.PY_YIELD, self._returned)
        mon.register_callback(self._tool, events.PY_UNWIND, self._unwound)
        mon.set_events(self._tool, events.PY_START | events.PY_UNWIND)
        self._disable = mon.DISABLE
        self._returns = events.PY_RETURN | events.PY_YIELD | events.PY_RESUME
        self._set_local = mon.set_local_events

    def _started(self, code: CodeType, offset: int) -> object:
        if not _is_test(code):
            return self._disable
        if self._frame is None and self._begin(sys._getframe(1)):
            self._set_local(self._tool, code, self._returns)
        return None

    def _returned(self, code: CodeType, offset: int, value: object) -> None:
        if self._frame is not None:
            self._end(sys._getframe(1))

    def _unwound(self, code: CodeType, offset: int, exc: BaseException) -> None:
        if self._frame is not None:
            self._end(sys._getframe(1))
