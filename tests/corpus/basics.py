"""Module docstring: not a statement."""
import functools


def add(a,
        b):
    """A function docstring."""
    total = (a +
             b)
    return total


def unused():
    return "never called"


@functools.lru_cache(maxsize=None)
def cached(n):
    return n * 2


def decorate(fn):
    @functools.wraps(fn)
    def inner(*args):
        return fn(*args)
    return inner


@decorate
@functools.lru_cache(maxsize=None)
def twice_decorated(x):
    return x + 1


class Point:
    """A class docstring."""
    origin = None

    def __init__(self, x, y):
        self.x = x; self.y = y

    def norm(self):
        return abs(self.x) + abs(self.y)

    class Inner:
        value = 3


def early(n):
    if n > 2:
        return "big"
    elif n > 1:
        return "medium"
    else:
        return "small"
    print("unreachable")


def nested(n):
    def helper(m):
        return m * 3
    return [helper(i) for i in range(n) if i % 2]


squares = [i * i for i in range(10)]
evens = {i for i in range(10) if i % 2 == 0}
mapping = {k: v for k, v in zip("abc", range(3))}
key = sorted([3, 1, 2], key=lambda v: -v)
gen_total = sum(x for x in range(5))

for i in range(4):
    add(i,
        i)
cached(3); cached(3)
twice_decorated(1)
p = Point(1, -2)
p.norm()
Point.Inner()
for n in (1, 2, 3, 4):
    early(n)
nested(6)
data = {
    "a": 1,
    "b": [
        2,
        3,
    ],
}
text = """a multi-line
string value"""
value = (1 if data else
         2)

if __name__ == "__main__":
    print("main", add(1, 2))
if (  # trace 3.13+: first line holds no code
    value
    and data
):
    assert (  # trace: first line holds no code
        value == 1
    )
