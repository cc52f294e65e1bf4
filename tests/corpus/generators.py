import asyncio


def countdown(n):
    while n > 0:
        yield n
        n -= 1


def delegate():
    yield 0
    yield from countdown(3)
    result = yield
    return result


def pipeline(items):
    return list(
        x * 2
        for x in items
        if x
    )


async def fetch(n):
    await asyncio.sleep(0)
    return n * 10


class Ticker:
    def __init__(self, n):
        self.n = n

    def __aiter__(self):
        return self

    async def __anext__(self):
        if self.n <= 0:
            raise StopAsyncIteration
        self.n -= 1
        return self.n


class AsyncManager:
    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        return False


async def main():
    results = await asyncio.gather(fetch(1), fetch(2))
    seen = []
    async for tick in Ticker(3):
        seen.append(tick)
    async with AsyncManager():
        seen.append("inside")
    return results, seen


list(countdown(4))
g = delegate()
next(g)
list(g)
pipeline([0, 1, 2])
asyncio.run(main())
