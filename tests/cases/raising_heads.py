"""Loop heads whose first test raises, first in their block: each head ran once."""


class Boom:
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return self

    def __next__(self):
        self.n -= 1
        if self.n < 0:
            raise ValueError("boom")
        return self.n


def first_length(lines):
    for line in lines:
        return len(line)


def total(rows):
    for row in rows:
        yield int(row)


def spin(limit):
    while limit.missing:
        pass


def in_an_if(lines):
    if lines is not None or True:
        for line in lines:
            pass


def in_a_with(items):
    with open(__file__) as handle:
        for item in items:
            handle.read(item)


def in_a_try(obj):
    try:
        while obj.n > 0:
            obj.n -= 1
    except TypeError:
        return None


def summed(rows):
    result = 0
    for row in rows:
        result += row
    return result


calls = [
    lambda: first_length(None),
    lambda: first_length(["ab"]),
    lambda: list(total(Boom(0))),
    lambda: list(total(Boom(2))),
    lambda: spin(1),
    lambda: in_an_if(None),
    lambda: in_a_with(None),
    lambda: in_a_try(None),
    lambda: in_a_try(Boom(2)),
    lambda: summed(Boom(3)),
    lambda: summed(Boom(0)),
]
for call in calls:
    try:
        call()
    except Exception:
        pass
