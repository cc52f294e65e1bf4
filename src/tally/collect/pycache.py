"""What tally derives from a source file, cached beside it in `__pycache__`, as Python
caches bytecode: the import hook's instrumented code (importer.py) and the monitor engine's
arm markers (markers.py).

Each cache is named for the source, Python's cache tag and tally's own
(`<name>.<cache_tag>.tally-<version>-<format>.pyc`, `-<format>b.pyc` for the "branch"
flavour, `-<format>m.pyc` for "markers"), so plain Python never loads it, and holds the
source's path and stamp, so a stale or foreign one is never used.
"""

from __future__ import annotations

import importlib.util
import marshal
import os
import sys
from typing import Any, Literal

from tally import env

__all__ = ["Flavour", "cache_for", "cache_suffix", "read_cache", "write_cache"]

Flavour = Literal["count", "branch", "markers"]
_FLAVOUR_TAGS: dict[str, str] = {"count": "", "branch": "b", "markers": "m"}

# The instrumentation's format: bump it whenever instrumented code changes shape, so no
# cache (`__pycache__`, codecache.py, pytest's tagged .pyc) hands old code to a new engine.
_FORMAT = 19
_CACHE_MAGIC = b"TLY%d" % _FORMAT + importlib.util.MAGIC_NUMBER


def cache_suffix(flavour: Flavour) -> str:
    """What instrumented .pyc names carry before `.pyc`: tally's version and format, and
    the flavour of instrumenting (the code differs)."""
    from tally.version import __version__

    return f".tally-{__version__}-{_FORMAT}{_FLAVOUR_TAGS[flavour]}"


def cache_for(
    source_path: str, flavour: Flavour, kind: str = "pyc"
) -> tuple[str, tuple[int, int]] | None:
    """Where what tally derives from the source at `source_path` is cached (`kind` "pyc"
    for instrumented code), and the source's stamp as it is now, (mtime in ns, size), which
    tells a cache it is stale. None when Python writes no bytecode caches or the source
    can't be read."""
    if env.CACHE_TAG is None or sys.dont_write_bytecode:
        return None
    try:
        st = os.stat(source_path)
    except OSError:
        return None
    directory, name = os.path.split(source_path)
    stem = name.rsplit(".", 1)[0]
    suffix = cache_suffix(flavour)
    cache = os.path.join(directory, "__pycache__", f"{stem}.{env.CACHE_TAG}{suffix}.{kind}")
    return cache, (int(st.st_mtime_ns), st.st_size)


def read_cache(cache: str, path: str, stamp: tuple[int, int]) -> object | None:
    """What was cached in `cache` from the source at `path` as it was at `stamp`; None
    for a missing, foreign or stale cache."""
    try:
        with open(cache, "rb") as handle:
            data = handle.read()
        if not data.startswith(_CACHE_MAGIC):
            return None
        saved_path, mtime, size, payload = marshal.loads(data[len(_CACHE_MAGIC) :])
    except (OSError, ValueError, EOFError, TypeError):
        return None
    if (saved_path, mtime, size) != (path, *stamp):
        return None
    cached: object = payload
    return cached


def write_cache(cache: str, path: str, stamp: tuple[int, int], payload: Any) -> bool:
    """Cache `payload` (anything marshal writes) from the source at `path` at `stamp`;
    written whole or not at all. False when it couldn't be (a read-only tree)."""
    try:
        os.makedirs(os.path.dirname(cache), exist_ok=True)
        temp = f"{cache}.{os.getpid()}.tmp"
        with open(temp, "wb") as handle:
            handle.write(_CACHE_MAGIC + marshal.dumps((path, *stamp, payload)))
        os.replace(temp, cache)
    except (OSError, ValueError):
        return False
    return True
