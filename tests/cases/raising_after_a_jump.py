def one():
    return 1


def total(x):
    acc = 0
    try:
        acc += sum(1 for _ in one() or ())
    except KeyError:
        pass
    return acc


try:
    total(0)
except TypeError:
    print("raised")
