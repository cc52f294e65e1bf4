"""sys.monitoring tool ids (PEP 669), as tally's watchers take and give them back.

Ids 0-5 exist, each held by one tool at a time: 0 is for debuggers, 1 for coverage.py, 2 for
profilers, 5 for optimizers. tally has up to three watchers at once (the monitor engine, the
per-test context watcher, the count engine's `__annotate__` counter), so each claims the first
free id of its own preference list, leaving room for the other tools a user runs beside it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from types import CodeType
from typing import Any

__all__ = ["claim", "release"]


def claim(preferred: Iterable[int], name: str) -> int | None:
    """The first free id of `preferred`, now held under `name`; None when all are taken."""
    mon: Any = sys.monitoring  # type: ignore[attr-defined,unused-ignore]
    for tool in preferred:
        if mon.get_tool(tool) is None:
            mon.use_tool_id(tool, name)
            return tool
    return None


def release(tool: int, events: Iterable[int], codes: Iterable[CodeType] = ()) -> None:
    """Turn off every event of `tool` (the local events of `codes` too), drop the callbacks
    registered for `events`, and free the id."""
    mon: Any = sys.monitoring  # type: ignore[attr-defined,unused-ignore]
    mon.set_events(tool, 0)
    for code in codes:
        mon.set_local_events(tool, code, 0)
    for event in events:
        mon.register_callback(tool, event, None)
    mon.free_tool_id(tool)
