"""Annotations under `from __future__ import annotations`: strings kept eagerly, so no
`__annotate__` is compiled, called or set up (3.14+ compiles one without the import)."""

from __future__ import annotations

import typing


class Error(Exception):
    """A class whose last statement is an annotation without a value."""

    context: str | None = None
    message: str


class Config:
    name: str = "x"

    def describe(self, width: int) -> str:
        return self.name.ljust(width)


typing.get_type_hints(Config.describe)
print(Error.context, Config().describe(3), typing.get_type_hints(Error))
