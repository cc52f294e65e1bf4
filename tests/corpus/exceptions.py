import contextlib


class Boom(Exception):
    pass


def risky(n):
    if n % 3 == 0:
        raise Boom(n)
    return n


def handle(n):
    try:
        value = risky(n)
    except ValueError:
        return "value"
    except Boom as exc:
        return f"boom {exc}"
    else:
        value += 1
    finally:
        cleanup = True
    return value


def bare(n):
    try:
        1 / n
    except:
        return "zero"
    return "ok"


def raise_midblock(n):
    a = 1
    b = risky(n)
    c = 3
    return a + b + c


@contextlib.contextmanager
def managed(log):
    log.append("enter")
    try:
        yield len(log)
    finally:
        log.append("exit")


def with_blocks():
    log = []
    with managed(log) as size:
        log.append(size)
    with managed(log), managed(log):
        pass
    try:
        with managed(log):
            raise Boom("inside")
    except Boom:
        log.append("caught")
    return log


for n in range(7):
    handle(n)
bare(0)
bare(2)
for n in range(5):
    try:
        raise_midblock(n)
    except Boom:
        pass
with_blocks()
