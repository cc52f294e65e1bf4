"""The monitor engine (sys.monitoring, 3.12+) in-process: one event per line, then silence."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

import pytest

from tally.collect.filter import FileFilter

pytestmark = pytest.mark.skipif(sys.version_info < (3, 12), reason="sys.monitoring is 3.12+")
# sys.monitoring, which mypy (checking for 3.11) doesn't know of; None before 3.12.
MONITORING: Any = getattr(sys, "monitoring", None)


def test_lines_recorded_once_and_tool_id_released(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tally.collect.monitor import MonitorEngine

    (tmp_path / "monmod.py").write_text("def f(n):\n    for i in range(n):\n        pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    engine = MonitorEngine(FileFilter(source=[str(tmp_path)], cwd=str(tmp_path)))
    engine.start()
    try:
        module = importlib.import_module("monmod")
        module.f(3)
    finally:
        engine.stop()
        sys.modules.pop("monmod", None)
    measured = engine.measurement()
    assert measured.lines == {str((tmp_path / "monmod.py").resolve()): {1, 2, 3}}
    assert measured.counts is None
    assert MONITORING.get_tool(3) is None
    engine.stop()  # a second stop is harmless
    # Started again, code seen before is measured again.
    engine.start()
    engine.stop()


def test_no_free_tool_id_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from tally.collect.monitor import MonitorEngine
    from tally.exceptions import TallyError

    taken = []
    for tool in (2, 3, 4):
        if MONITORING.get_tool(tool) is None:
            MONITORING.use_tool_id(tool, "other")
            taken.append(tool)
    try:
        with pytest.raises(TallyError, match=r"no free sys\.monitoring tool id"):
            MonitorEngine(FileFilter()).start()
    finally:
        for tool in taken:
            MONITORING.free_tool_id(tool)
