"""What each engine measures: the flags its callers ask about, instead of its name.

Apart from engine.py (which chooses and builds the engines, and so imports them) so that
the engines can state their own capabilities without importing their chooser.
"""

from __future__ import annotations

from typing import NamedTuple

from tally import env

__all__ = ["Capabilities", "capabilities_of"]


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
    # Before 3.14 its branches come from markers compiled into the code it imports.
    markers = branch and not env.HAS_BRANCH_WAYS
    return Capabilities(counts=False, branches=True, contexts=True, sees_child_main=not markers)
