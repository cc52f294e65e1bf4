def describe(value):
    match value:
        case 0:
            return "zero"
        case int(n) if n < 0:
            return "negative"
        case [first, *rest]:
            return f"list starting {first}"
        case {"kind": kind}:
            return kind
        case str() | bytes():
            return "text"
        case _:
            return "other"


for v in (0, -1, 5, [1, 2], {"kind": "k"}, "s", b"b", 3.5, 0, 0):
    describe(v)
