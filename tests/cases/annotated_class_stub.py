import typing as t


class Decorated(t.Protocol):
    size: int

    @t.overload
    def get(
        self, a: None
    ) -> int: ...
    @t.overload
    def get(
        self, a: object
    ) -> str: ...


class Single:
    size: int

    def get(self, a): ...


print("done")
