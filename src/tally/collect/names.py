"""The names instrumented code finds in `builtins`: the helpers counting.py defines and
each file's counter list. rewrite.py writes them into the code it instruments; counting.py
puts them in place with `put`, which keeps them there until the interpreter is gone. Apart
from both, so that starting the count engine loads none of the instrumenting machinery
before a module is instrumented."""

from __future__ import annotations

import builtins

__all__ = [
    "BLOCKS_HELPER",
    "ENTRY_HELPER",
    "FIX_HELPER",
    "GENERATOR_HELPER",
    "HIT_HELPER",
    "ITER_BUILTIN",
    "TICK_HELPER",
    "counter_name",
    "put",
]

# Builtins the instrumented code calls (counting.py defines them): count an `except` test
# and return the exception type; count one call or item of nested code and return True;
# count a generator expression's creation and hand back its iterator, counting again when
# it runs out; count the start of a nested code object and return its iterable unchanged;
# take a module's slot table; correct the counts of a block an exception cut short.
HIT_HELPER = "__tally_hit__"
TICK_HELPER = "__tally_tick__"
GENERATOR_HELPER = "__tally_generator__"
ITER_BUILTIN = "__tally_iter__"  # the builtin iter(), out of reach of a program's own `iter`
ENTRY_HELPER = "__tally_entry__"
BLOCKS_HELPER = "__tally_blocks__"
FIX_HELPER = "__tally_fix__"


def counter_name(path: str) -> str:
    """The builtins name of `path`'s counter list: stable across runs, so cached code works.

    It starts and ends with two underscores, so class bodies never mangle it.
    """
    import hashlib  # here, not at import: it loads OpenSSL, and start-up time counts

    digest = hashlib.sha1(path.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f"__tally_{digest}__"


# Every name `put` has placed, and what it names.
_PLACED: dict[str, object] = {}
_KEEPER = "__tally_keeper__"


class _Keeper:
    """Puts tally's names back into builtins when the interpreter, shutting down, restores
    builtins to what they held at start-up.

    Code that was instrumented can still run then (a `__del__`, a weakref callback), and
    it must find its counters and helpers. CPython clears builtins, refills them from its
    start-up copy, and only then drops its last reference to the old entries: the keeper
    is one of them, so its `__del__` runs just after the restore. Instrumented code so
    needs no `try` around each counter.
    """

    def __init__(self, names: dict[str, object], target: dict[str, object]) -> None:
        self.names = names
        self.target = target

    def __del__(self) -> None:
        # Attributes only: by now sys.modules is empty and module globals may be going.
        self.target.update(self.names)


def put(name: str, value: object) -> None:
    """Make `value` the builtin `name`, for instrumented code, until the process ends."""
    _PLACED[name] = value
    space = builtins.__dict__
    space[name] = value
    if _KEEPER not in space:
        space[_KEEPER] = _Keeper(_PLACED, space)
