"""What an exception costs when it leaves a frame that the count engine guards.

    python scripts/guard_cost.py

A function whose callee raises is called 300,000 times, plainly, inside a guard shaped as
rewrite.py writes it (`try: ... except BaseException: __tally_fix__(name, guard); raise`,
the call recording the cut as counting.py does), and inside the same guard without the
call; each the best of three, in nanoseconds per call. docs/engines.md quotes it.
"""

from __future__ import annotations

import builtins
import sys
import time
from collections.abc import Callable
from typing import Any

_RUNS = 300_000


class _Cuts:
    """Records a cut as counting.CountEngine._cut does: (guard, instruction offset)."""

    def __init__(self) -> None:
        self.cuts: dict[tuple[int, int], int] = {}

    def cut(self, name: str, guard: int) -> None:
        try:
            tb: Any = sys.exc_info()[2]
            place = (guard, tb.tb_lasti)
            self.cuts[place] = self.cuts.get(place, 0) + 1
        except Exception:
            return


def _raiser() -> None:
    raise ValueError


def plain() -> None:
    a = 1
    _raiser()
    a += 1


def guarded() -> None:
    try:
        __tally_bench__[0] += 1  # type: ignore[name-defined]  # noqa: F821
        a = 1
        _raiser()
        a += 1
    except BaseException:
        __tally_fix__("bench", 1)  # type: ignore[name-defined]  # noqa: F821
        raise


def catch_only() -> None:
    try:
        __tally_bench__[0] += 1  # type: ignore[name-defined]  # noqa: F821
        a = 1
        _raiser()
        a += 1
    except BaseException:
        raise


def per_call(function: Callable[[], None]) -> float:
    """Nanoseconds per call of `function`, whose exception is caught here; best of three."""
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(_RUNS):
            # A bare try, not contextlib.suppress: the loop's own cost stays small.
            try:  # noqa: SIM105
                function()
            except ValueError:
                pass
        best = min(best, time.perf_counter() - start)
    return best / _RUNS * 1e9


def main() -> None:
    builtins.__dict__["__tally_fix__"] = _Cuts().cut
    builtins.__dict__["__tally_bench__"] = [0]
    base = per_call(plain)
    full = per_call(guarded)
    bare = per_call(catch_only)
    print(f"Python {sys.version.split()[0]}")
    print(f"plain: {base:.0f} ns; guarded: {full:.0f} ns (+{full - base:.0f}); ", end="")
    print(f"of which catch and re-raise: +{bare - base:.0f} ns, recording the cut: ", end="")
    print(f"+{full - bare:.0f} ns")


if __name__ == "__main__":
    main()
