"""Definitions whose body sits on their own line, or on a multi-line header's last line."""
from typing import overload


def chunk(src):
    def post(chk): return chk
    return post(src)


class E(Exception): pass


def never_ret(
    a,
): return a


def used(
    b,
): return b


class Reader:
    @overload
    def read(
        self, n: int
    ) -> bytes: ...
    @overload
    def read(
        self, n: None
    ) -> None: ...
    def read(self, n):
        return b"" if n else None

    def tail(self): return 1


def tail():
    def inner(): return 1
    return inner


chunk("a")
used(1)
Reader().read(1)
tail()
try:
    raise E()
except E:
    pass
