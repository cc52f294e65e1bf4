"""What each engine measures: the flags its callers ask about, instead of its name.

Apart from engine.py (which chooses and builds the engines, and so imports them) so that
the engines can state their own capabilities without importing their chooser.
"""

from __future__ import annotations

from typing import NamedTuple

from tally import env

__all__ = ["Capabilities", "capabilities_of", "uses_markers"]


class Capabilities(NamedTuple):
    """What an engine measures, which is all its callers ask of it (never its name)."""

    counts: bool  # exact execution counts, not only executed lines
    branches: bool  # branch arcs, when asked for
    contexts: bool  # what ran in each context (switch_context)
    # Does it measure a child process's main script, which Python compiles itself, before
    # any import hook? When not, a trace function (script.ScriptTracer) measures that file.
    sees_child_main: bool


def capabilities_of(name: str, *, branch: bool) -> Capabilities:
    """What the engine `name` measures in this interpreter, with or without branches."""
    if name == "count":
        return Capabilities(counts=True, branches=True, contexts=True, sees_child_main=False)
    # A marker is compiled into the code it imports: a child's main script has none.
    return Capabilities(
        counts=False, branches=True, contexts=True, sees_child_main=not uses_markers(branch)
    )


def uses_markers(branch: bool) -> bool:
    """Does the monitor engine measure branches by markers compiled into measured code
    (before 3.14, where one BRANCH event can't be disabled for one way alone)?"""
    return branch and not env.HAS_BRANCH_WAYS
