"""Statements spread over lines in the handlers of a `try`: the first way through a
function's bytecode walks the handlers too (the jump that ends the `try` body, placed at
its last statement, is not a jump inside that statement)."""


def log(*parts):
    return len(parts)


def after_one_line(text):
    try:
        value = int(text)
    except ValueError as err:
        log("bad",
            err)
        return None
    finally:
        log()
    return value


def after_lines(text):
    try:
        value = int(
            text)
    except ValueError as err:
        log("bad",
            err)
        return None
    return value


def choosing(text):
    try:
        value = (int(text) if text.isdigit()
                 else float(text))
    except ValueError:
        value = log(
            text,
        )
    else:
        value = log(value,
                    value)
    return value


for text in ["1", "x", "2", "y", "z", "1.5"]:
    after_one_line(text)
    after_lines(text)
    choosing(text)
