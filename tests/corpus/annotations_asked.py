"""Annotations asked for at run time: on 3.14+ each ask calls the `__annotate__` code the
compiler wrote, whose line events trace counts on the definition's line."""

import inspect
import sys
import typing
from dataclasses import dataclass


def plain(count: int, name: str = "x") -> str:
    return name * count


def spread(
    first: int,
    second: list[int],
) -> dict[str, int]:
    return {"total": first + sum(second)}


class Point:
    x: int
    y: int

    def norm(self) -> int:
        return abs(self.x) + abs(self.y)


@dataclass
class Pair:
    left: int
    right: int = 0


for function in (plain, spread, Point.norm):
    for _ in range(3):
        inspect.signature(function)
    typing.get_type_hints(function)
typing.get_type_hints(Point)
print(plain(2), spread(1, [2, 3]), Pair(1), inspect.get_annotations(Pair))
if sys.version_info >= (3, 14):
    import annotationlib

    # FORWARDREF and STRING call the code under stand-in globals, which trace doesn't count.
    for form in (annotationlib.Format.FORWARDREF, annotationlib.Format.STRING):
        annotationlib.get_annotations(plain, format=form)
        annotationlib.get_annotations(Point, format=form)
