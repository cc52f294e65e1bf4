"""Statements spread over lines with a decision inside, each taken every way: the number
of times such a statement comes back to its first line depends on the way taken."""

import contextlib


def check(flag, other, value):
    if flag and other(
        value
    ):
        result = "both"
    elif flag or (
        value > 2
    ):
        result = "one"
    else:
        result = "none"
    picked = (value if flag
              else other(value))
    either = (flag or
              other(value))
    ordered = 0 < value < (
        5)
    nested = (flag and (other(value) if value
                        else value) or
              None)
    return result, picked, either, ordered, nested


def opened(flag):
    with (contextlib.nullcontext(1) if flag
          else contextlib.suppress(KeyError)) as handle:
        pass
    return handle


def asserted(flag, value):
    assert value >= 0 or flag, (
        "negative"
    )
    return (flag and
            value)


def called(flag, value):
    return dict(
        a=value if flag else None,
        b=(value
           if not flag else 0),
    )


for flag in (False, True, True, False, True):
    for value in (0, 3, 7):
        check(flag, lambda v: v % 2, value)
        opened(flag)
        asserted(flag, value)
        called(flag, value)


def skipped(text, at):
    while (  # trace: first line holds no code
        at < len(text)
        and text[at].isspace()
        and text[at] != "\n"
    ):
        at += 1
    while at < len(text) and (text[at]
                              .isdigit()):
        at += 1
    return at


for text in ("  7", "\n", "x", " \n 12 ", ""):
    skipped(text, 0)
    skipped(text, 1)


class Bound:
    def __init__(self, inclusive, version):
        self.inclusive = inclusive
        self.version = version


def admits(bound):
    if (  # trace: first line holds no code
        bound.inclusive
        and isinstance(bound.version, int)
        and bound.version <= 3
    ):
        return 1
    return (
        bound.inclusive
        and bound.version == 2
    )


for inclusive in (False, True):
    for version in (1, 2, 5, "x"):
        admits(Bound(inclusive, version))


def listed(values, flag):
    return values if flag else [v * 2 for v in values]


def either(values, flag):
    return flag or [v for v in values if v]


for flag in (True, False, False):
    listed([1, 2], flag)
    either([0, 3], flag)
