"""The names instrumented code finds in `builtins`: the helpers counting.py defines and
each file's counter list. rewrite.py writes them into the code it instruments; counting.py
puts them in place. Apart from both, so that starting the count engine loads none of the
instrumenting machinery before a module is instrumented."""

from __future__ import annotations

__all__ = [
    "BLOCKS_HELPER",
    "ENTRY_HELPER",
    "FIX_HELPER",
    "GENERATOR_HELPER",
    "HIT_HELPER",
    "ITER_BUILTIN",
    "TICK_HELPER",
    "counter_name",
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
