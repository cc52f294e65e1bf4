"""`if`s without `else` whose failing test the count engine works out at save time:
tests that raise, blocks cut before the `if`, bodies that raise, `if`s that end a block."""

import contextlib


class Boom(Exception):
    pass


def odd(n):
    if n % 3 == 0:
        raise Boom(n)
    return n % 2 == 1


def test_raises(n):
    total = 0
    if odd(n):
        total += 1
    total += 2
    return total


def multi_line_test_raises(n):
    hits = 0
    if (  # trace: first line holds no code
        n > 1
        and odd(n)
    ):
        hits += 1
    return hits


def cut_before_the_if(n):
    seen = odd(n)
    if seen:
        seen = "odd"
    return seen


def body_raises(n):
    if n % 2:
        odd(n)
        n += 1
    return n


def ends_the_block(n):
    if odd(n):
        return "odd"
    if n > 4:
        return "big"
    return "even"


def several_in_a_block(n):
    out = []
    if n > 2:
        out.append(1)
    if odd(n):
        out.append(2)
    if n > 5:
        out.append(3)
    return out


def elif_chain(n):
    if n == 1:
        return "one"
    elif odd(n):
        return "odd"
    elif n > 6:
        return "big"
    return "other"


def in_a_with(n):
    with contextlib.suppress(Boom):
        if odd(n):
            n += 10
        n += 1
    return n


def in_a_try(n):
    try:
        if odd(n):
            n += 100
    except Boom:
        n -= 1
    return n


def one_liner(n):
    if odd(n): n += 1  # fmt: skip
    return n


def generator(n):
    for i in range(n):
        if i % 2:
            yield i
        if odd(i):
            yield -i


def in_a_loop(items):
    count = 0
    for item in items:
        if odd(item):
            count += 1
            continue
        if item > 7:
            break
    return count


def run(function, n):
    try:
        return function(n)
    except Boom:
        return "boom"


for f in (
    test_raises,
    multi_line_test_raises,
    cut_before_the_if,
    body_raises,
    ends_the_block,
    several_in_a_block,
    elif_chain,
    in_a_with,
    in_a_try,
    one_liner,
):
    for k in range(10):
        run(f, k)

for k in range(8):
    gen = generator(k)
    try:
        next(gen)
        next(gen)
    except (Boom, StopIteration):
        pass
    gen.close()

for items in ([1, 2, 3], [2, 4, 5, 8, 10], [4, 8], [9, 6]):
    try:
        in_a_loop(items)
    except Boom:
        pass

if odd(5):
    print("module-level test held")
