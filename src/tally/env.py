"""Facts about the running interpreter, as named flags, each with the behaviour behind it."""

from __future__ import annotations

import os
import sys

PYVERSION = sys.version_info[:2]

# PEP 669: sys.monitoring exists from 3.12. A LINE callback that returns DISABLE is never
# called again for that instruction, which is what makes the monitor engine nearly free.
HAS_MONITORING = hasattr(sys, "monitoring")

# 3.14+: branch events come as BRANCH_LEFT and BRANCH_RIGHT, each way disabled on its own,
# so a branch costs one callback per way taken. 3.12/3.13 have one BRANCH event whose
# DISABLE silences both ways at once.
HAS_BRANCH_WAYS = hasattr(getattr(sys, "monitoring", None), "events") and hasattr(
    sys.monitoring.events,  # type: ignore[attr-defined,unused-ignore]
    "BRANCH_LEFT",
)

# PEP 703: a free-threaded build may run without the GIL. Our inline counters rely on the
# GIL for exact counts under threads (see docs/counts.md), so we record which build this is.
_gil_check = getattr(sys, "_is_gil_enabled", None)
GIL_ENABLED = True if _gil_check is None else bool(_gil_check())

WINDOWS = os.name == "nt"

# inspect.CO_OPTIMIZED, without importing inspect before measuring starts: the flag of a
# function's code, which a class or module body's code lacks.
CO_OPTIMIZED = 0x0001

# The bytecode cache tag ("cpython-311"); None when the interpreter writes no .pyc files.
CACHE_TAG = sys.implementation.cache_tag


def hostname() -> str:
    """This machine's name, as `socket.gethostname()` gives it: where `os.uname` exists it
    holds the same name, without loading `socket` (and `selectors`) at every start."""
    uname = getattr(os, "uname", None)
    if uname is not None:
        return str(uname().nodename)
    import socket

    return socket.gethostname()
