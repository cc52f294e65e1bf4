import asyncio
import contextlib
import sys


class Boom(Exception):
    pass


CACHED = Boom("cached")


def fail(n, every=2):
    if n % every == 0:
        raise Boom(n)
    return n


def caught_in_frame(n):
    total = 0
    try:
        total += 1
        total += fail(n)
        total += 2
        total += 3
    except Boom:
        total -= 1
        total -= 2
    return total


def suppressed(n):
    seen = []
    with contextlib.suppress(Boom):
        seen.append(1)
        fail(n)
        seen.append(2)
        seen.append(3)
    seen.append(4)
    return seen


def swallowed_by_finally(n):
    for i in range(3):
        try:
            a = i
            fail(n + i, 3)
            b = a
            c = b
        finally:
            continue
    return n


def reraised_then_caught(n):
    note = "none"
    try:
        try:
            first = 1
            fail(n)
            second = first
            third = second
        except Boom:
            note = "inner"
            raise
    except Boom:
        note = "outer"
    return note


def reraised_out(n):
    try:
        x = 1
        fail(n)
        y = x
        z = y
    except KeyError:
        z = 0
    return z


def from_handler(n):
    c = 0
    try:
        fail(0)
    except Boom:
        a = 1
        fail(n)
        b = a
        c = b
    return c


def raises_cached(n):
    start = n
    if n % 2:
        raise CACHED
    end = start
    return end


def lookups(table, keys):
    hits = misses = 0
    for key in keys:
        try:
            value = table[key]
            hits += value
            hits += 1
        except KeyError:
            misses += 1
    return hits, misses


def generator(n):
    total = 0
    for i in range(n):
        total += i
        yield total
        total -= 1
        total += 1


class Built:
    first = 1
    try:
        second = fail(0)
        third = 3
    except Boom:
        third = 0
    fourth = 4


async def worker(n):
    count = 0
    await asyncio.sleep(0)
    count += 1
    fail(n)
    count += 2
    count += 3
    return count


async def gather_all():
    results = await asyncio.gather(*(worker(n) for n in range(4)), return_exceptions=True)
    return len(results)


def cut_inside_if(n):
    a = n
    if a > 1:
        b = a
        fail(n)
        c = b
    d = a
    for i in range(n):
        if i == 3:
            fail(0)
        e = i
    f = d
    return f


def caught_then_on(n):
    out = 0
    if n:
        try:
            out = fail(n)
            out += 1
        except Boom:
            out = -1
        with contextlib.suppress(Boom):
            fail(n, 3)
            out += 2
    out += 5
    return out


def skips(n):
    total = 0
    for i in range(n):
        if i % 2:
            continue
        total += i
        while True:
            total += 1
            if total > i:
                break
        total -= 1
    return total


def exits(code):
    stage = 1
    sys.exit(code)
    stage = 2
    return stage


for n in range(6):
    caught_in_frame(n)
    suppressed(n)
    swallowed_by_finally(n)
    reraised_then_caught(n)
    try:
        from_handler(n + 1)
    except Boom:
        pass
    try:
        reraised_out(n)
    except Boom:
        pass
    try:
        raises_cached(n)
    except Boom:
        pass
for n in range(6):
    try:
        cut_inside_if(n)
    except Boom:
        pass
    caught_then_on(n)
    skips(n)
lookups({1: 1, 3: 3}, [1, 2, 3, 4, 1, 5])
partial = generator(5)
next(partial)
next(partial)
partial.close()
list(generator(3))
asyncio.run(gather_all())
try:
    exits(0)
except SystemExit:
    pass
top = 1
try:
    top = fail(0)
    top = 2
except Boom:
    top = 3
