"""Blocks that start with an `if`: the count engine counts them by the `if`'s arms (an
`else`, the block after a body that jumps away, or an `else` it adds), plus the times an
exception stopped them before the test came out."""

import contextlib


class Boom(Exception):
    pass


class Probe:
    def __init__(self, n):
        self.n = n

    def check(self):
        if self.n % 4 == 0:
            raise Boom(self.n)
        return self.n % 2


def guard_clause(probe):
    if probe.check():
        return 1
    result = 2
    return result


def no_else(probe):
    if probe.check():
        found = 1
    return 3


def both_arms(probe):
    if probe.check():
        value = "odd"
    else:
        value = "even"
    return value


def chain(n):
    if n % 5 == 0:
        kind = "five"
    elif n % 3 == 0:
        kind = "three"
    elif n % 2 == 0:
        if n > 4:
            kind = "big even"
        else:
            kind = "small even"
    else:
        kind = "other"
    return kind


def loop_body(probe, items):
    total = 0
    for item in items:
        if (item % 2
                and probe.check()):
            continue
        total += item
    while total > 10:
        if total % 2:
            total -= 3
        else:
            total -= 1
    return total


def then_without_code(probe):
    if probe.check():
        """no code here"""
        marker = 1
    return 4


def last_in_its_list(probe):
    if probe.check():
        return 5
    """the block after holds no code"""


def generator(probe):
    if probe.check():
        yield 1
    else:
        yield 2
    yield 3


def in_with(probe):
    with contextlib.suppress(Boom):
        if probe.check():
            return 6
        return 7
    return 8


def in_try(probe):
    try:
        if probe.check():
            return 9
    except Boom:
        if probe.n > 4:
            return 10
    return 11


class Configured:
    if len(__name__) > 1:
        flag = True
    else:
        flag = False


for n in range(13):
    probe = Probe(n)
    for function in (guard_clause, no_else, both_arms, then_without_code, last_in_its_list):
        with contextlib.suppress(Boom):
            function(probe)
    chain(n)
    with contextlib.suppress(Boom):
        loop_body(probe, range(n))
    with contextlib.suppress(Boom):
        steps = generator(probe)
        next(steps)
        if n % 3:
            list(steps)
    in_with(probe)
    in_try(probe)
