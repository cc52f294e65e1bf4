"""Statement shapes found on real test suites where counts are easy to get wrong."""

import functools
from dataclasses import dataclass

_marker = object()


def deco(cls):
    return cls


@dataclass(frozen=True)
class Point:
    x: int
    y: int


@deco
@deco
class Twice:
    """Docstring."""

    z = 1


def peek(items, default=_marker):
    """A bare `raise` re-raises with the line where the exception first passed."""
    try:
        value = next(items)
    except StopIteration:
        if default is _marker:
            raise
        return default
    return value


for source in ([], [1], []):
    try:
        peek(iter(source))
    except StopIteration:
        pass
    peek(iter(source), None)


def first(iterable):
    for item in iterable:
        return item
    return None


first(x for x in range(4))
first(x for x in range(4) if x > 1)
first(y for y in [])
endless = (x for x in iter(int, 1))
next(endless)
unused = (x for x in range(3))
everything = list(x for x in range(3))
pairs = list((a, b) for a in range(3) for b in range(a))
any(x > 1 for x in range(5))


def explode():
    yield 1
    raise ValueError("boom")


def loop_header_raises():
    total = 0
    for value in explode():
        total += value
    return total


def while_test_raises(items):
    while items and items[-1] < "b":
        items.pop()
    return items


for attempt in range(2):
    try:
        loop_header_raises()
    except ValueError:
        pass
    try:
        while_test_raises(["a", 1])
    except TypeError:
        pass


too_short = lambda count: max(
    count,
    0,
)
too_short(1)
too_short(2)

squares = [
    n * n
    for n in range(5)
    if n % 2
]
table = {
    key: key * 2
    for key in range(3)
}
nested = [
    (a, b)
    for a in range(3)
    for b in range(a)
    if b
]
total = sum(
    n
    for n in range(4)
)
chosen = tuple(
    n for n in range(4)
)
lengths = sorted(
    ["bb", "a", "ccc"],
    key=lambda word: len(word),
)
folded = functools.reduce(
    lambda acc, n: acc + n,
    range(5),
    0,
)


def header_spans_lines(items):
    """A `for` whose iterable spans lines comes back to its header once per start."""
    found = []
    for position, item in enumerate(
        items,
        1,
    ):
        found.append(position * item)
    for item in (
        items
    ):
        found.append(item)
    try:
        for item in enumerate(
            items,
            start=undefined_name,  # noqa: F821
        ):
            found.append(item)
    except NameError:
        found.append(None)
    return found


for size in range(3):
    header_spans_lines(list(range(size)))


class Managed:
    """A context manager whose `with` statement spreads over lines."""

    def __init__(self, label):
        self.label = label

    def __enter__(self):
        return self.label

    def __exit__(self, *exc_info):
        return True


for label in ("a", "b"):
    with Managed(
        label,
    ) as entered:
        found = entered
    with Managed(
        label,
    ):
        raise ValueError(label)


def decorated_inside_if(flag):
    """A decorated definition first in an `if` body: its decorator line is its own."""
    if flag:

        @functools.lru_cache
        def cached(n):
            doubled = n * 2
            halved = doubled // 2
            squared = halved * halved
            return squared

    else:

        @functools.lru_cache
        def cached(n):
            return -n

    return cached(1)


decorated_inside_if(True)
decorated_inside_if(False)
