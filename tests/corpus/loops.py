def for_else(items):
    for item in items:
        if item < 0:
            break
    else:
        return "no negatives"
    return "negative"


def while_else(n):
    i = 0
    while i < n:
        i += 1
        if i == 10:
            break
    else:
        i = -i
    return i


def while_true(limit):
    count = 0
    while True:
        count += 1
        if count >= limit:
            break
    return count


def continue_loop(items):
    kept = []
    for item in items:
        if item % 3 == 0:
            continue
        kept.append(item)
    return kept


def nested_loops(n):
    pairs = 0
    for i in range(n):
        for j in range(i):
            pairs += 1
    return pairs


def one_line_loop(n):
    total = 0
    for i in range(n): total += i
    return total


def empty_loop():
    for _ in []:
        pass
    while False:
        pass
    return 1


for_else([1, 2, 3])
for_else([1, -2, 3])
while_else(5)
while_else(20)
while_true(7)
continue_loop(range(10))
nested_loops(5)
one_line_loop(6)
empty_loop()
i = 0
while i < 100:
    i += 1
