import typing

if typing.TYPE_CHECKING:
    import os


def kept():
    return 1


def skipped():  # pragma: no cover
    x = 1
    return x


class Stub(typing.Protocol):
    def method(self) -> int: ...


def partial(n):
    if n:  # pragma: no cover
        return "yes"
    return "no"


def debug_only():
    raise NotImplementedError


kept()
partial(0)
