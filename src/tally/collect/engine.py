"""The engine interface, and the one place that chooses an engine and records why."""

from __future__ import annotations

from collections.abc import Callable
from types import CodeType
from typing import TYPE_CHECKING, NamedTuple, Protocol

from tally import env
from tally.collect.capabilities import Capabilities, capabilities_of
from tally.measurement import Measurement
from tally.warnings import Notice

if TYPE_CHECKING:
    from tally.collect.codecache import CodeCache
    from tally.collect.filter import FileFilter

__all__ = ["Engine", "EngineChoice", "EngineFactory", "choose_engine"]


class Engine(Protocol):
    """A way of measuring: started, stopped, then asked what it saw."""

    name: str  # for the data file's metadata and `tally debug sys` only
    capabilities: Capabilities

    def start(self) -> None:
        """Begin measuring (again, after a stop)."""

    def stop(self) -> None:
        """Stop measuring; what was measured so far is kept."""

    def switch_context(self, name: str) -> None:
        """Record what runs from now on as run in context `name` (what ran before stays
        with the context it ran in)."""

    def forget(self) -> None:
        """Drop what was measured so far, and go on measuring (a forked child)."""

    def measurement(self, *, contexts: bool = True) -> Measurement:
        """Everything measured between starts and stops so far; what ran in each context
        too unless `contexts` is off (the journal records totals only)."""

    def compile_main(self, path: str, source: str) -> CodeType:
        """Compile the program's main script so that it is measured like an imported module."""


EngineFactory = Callable[["FileFilter", bool, "CodeCache | None"], Engine]
"""Builds an engine for the files a filter measures: (filter, branch, code cache)."""


def _count_engine(file_filter: FileFilter, branch: bool, cache: CodeCache | None) -> Engine:
    from tally.collect.counting import CountEngine  # here: choosing loads no engine

    return CountEngine(file_filter, branch=branch, cache=cache)


def _monitor_engine(file_filter: FileFilter, branch: bool, cache: CodeCache | None) -> Engine:
    from tally.collect.monitor import MonitorEngine

    return MonitorEngine(file_filter, branch=branch, cache=cache)


_FACTORIES: dict[str, EngineFactory] = {"count": _count_engine, "monitor": _monitor_engine}


class EngineChoice(NamedTuple):
    """The engine picked, and the reasons and warnings that explain the pick."""

    name: str  # "monitor" or "count": for metadata and messages, never for decisions
    reasons: list[str]
    warnings: list[Notice]
    branch: bool = False  # branch arcs are measured too

    @property
    def capabilities(self) -> Capabilities:
        """What the chosen engine measures."""
        return capabilities_of(self.name, branch=self.branch)

    def build(self, file_filter: FileFilter, cache: CodeCache | None) -> Engine:
        """The chosen engine, for the files `file_filter` measures."""
        return _FACTORIES[self.name](file_filter, self.branch, cache)


def choose_engine(requested: str, *, counts: bool, branch: bool = False) -> EngineChoice:
    """Pick the engine for a run. `requested` is "auto", "monitor" or "count".

    The count engine counts lines, and with branch coverage each arm of each decision, on
    every version; the monitor engine records binary line coverage where sys.monitoring
    exists (3.12+), and branches there too: by BRANCH_LEFT/BRANCH_RIGHT events on 3.14+,
    by markers compiled in before. A request that can't be met is never met silently with
    less: it switches engine, with a warning.
    """
    choice = _choose(requested, counts=counts)
    if not branch:
        return choice
    if choice.name == "count":
        choice.reasons.append("branches: a counter at the start of each arm of each decision")
    elif env.HAS_BRANCH_WAYS:
        choice.reasons.append("branches: BRANCH_LEFT/BRANCH_RIGHT events, each way once")
    else:
        choice.reasons.append(
            "branches: a marker line at the start of each arm, its LINE event once (one "
            "BRANCH event can't be disabled for one way alone before 3.14)"
        )
    return choice._replace(branch=True)


def _choose(requested: str, *, counts: bool) -> EngineChoice:
    reasons: list[str] = []
    warnings: list[Notice] = []
    version = "{}.{}".format(*env.PYVERSION)
    if requested == "count":
        reasons.append("engine 'count' requested")
        return EngineChoice("count", reasons, warnings)
    if requested == "monitor":
        if not env.HAS_MONITORING:
            warnings.append(
                Notice(
                    f"engine 'monitor' needs sys.monitoring (Python 3.12+), this is "
                    f"{version}; using engine 'count'",
                    "engine-unavailable",
                )
            )
            reasons.append(f"sys.monitoring unavailable on {version}")
            return EngineChoice("count", reasons, warnings)
        if counts:
            warnings.append(
                Notice(
                    "engine 'monitor' records each line once and can't count "
                    "executions; using engine 'count' because counts were requested",
                    "engine-unavailable",
                )
            )
            reasons.append("counts requested")
            return EngineChoice("count", reasons, warnings)
        reasons.append("engine 'monitor' requested")
        return EngineChoice("monitor", reasons, warnings)
    if counts:
        reasons.append("counts requested: only the count engine counts executions")
        return EngineChoice("count", reasons, warnings)
    if not env.HAS_MONITORING:
        reasons.append(
            f"sys.monitoring unavailable on {version}: the count engine is the only engine here"
        )
        return EngineChoice("count", reasons, warnings)
    reasons.append(
        f"binary line coverage on {version}: sys.monitoring costs one callback "
        "per line for the whole run"
    )
    return EngineChoice("monitor", reasons, warnings)
