"""Measure the HTML report of a generated project of 5,000 files: time, index size, re-run.

`python tests/perf_html.py [N]`: writes N source files (60 lines each: functions, branches,
loops) into a temporary directory, a data file with lines, counts and arcs for them as a
counted branch run would leave, then times `tally html` (analysis and rendering), the
index page's size, and a second `tally html` after one source file changed (which should
rewrite that one page).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tally.data.sqlite import write_data
from tally.measurement import Measurement

TEMPLATE = '''\
"""Generated module {i}."""
import os


def classify_{i}(n):
    if n < 0:
        return "negative"
    elif n == 0:
        return "zero"
    total = 0
    for k in range(n):
        if k % 3 == 0:
            total += k
        else:
            total -= 1
    return total


class Thing{i}:
    def __init__(self, value):
        self.value = value

    def describe(self):
        if self.value > 10:
            return "big"
        return "small"

    def unused(self):
        x = 1
        y = 2
        return x + y


def helper_{i}(items):
    out = []
    for item in items:
        try:
            out.append(int(item))
        except ValueError:
            out.append(0)
    while out and out[-1] == 0:
        out.pop()
    return out


RESULT = classify_{i}({i} % 7)
THING = Thing{i}({i} % 20).describe()
'''


def main(n: int) -> None:
    root = Path(tempfile.mkdtemp(prefix="tally-html-perf-"))
    lines: dict[str, set[int]] = {}
    counts: dict[str, dict[int, int]] = {}
    arcs: dict[str, dict[tuple[int, int], int]] = {}
    ran = [
        2,
        5,
        6,
        8,
        10,
        11,
        12,
        13,
        15,
        16,
        19,
        20,
        21,
        23,
        24,
        25,
        26,
        28,
        33,
        34,
        35,
        36,
        37,
        38,
        41,
        42,
        44,
        47,
        48,
    ]
    for i in range(n):
        path = root / f"pkg{i // 100}" / f"mod{i}.py"
        path.parent.mkdir(exist_ok=True)
        path.write_text(TEMPLATE.format(i=i))
        lines[str(path)] = set(ran)
        counts[str(path)] = {line: 1 + (line * i) % 50 for line in ran}
        arcs[str(path)] = {(6, 8): 3, (8, 10): 2, (12, 13): 5, (12, 15): 7, (24, 25): 1}
    write_data(str(root / ".coverage"), Measurement(lines, counts, {}, arcs))
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")

    def html() -> tuple[float, str]:
        start = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "tally", "html"],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        return time.perf_counter() - start, result.stdout.strip()

    first, said = html()
    index = (root / "htmlcov" / "index.html").stat().st_size
    pages = sum(1 for _ in (root / "htmlcov").glob("*.html"))
    print(f"{n} files: tally html {first:.2f} s ({said})")
    print(f"index.html {index / 1e6:.2f} MB, {pages} pages")
    again, said = html()
    print(f"re-run, nothing changed: {again:.2f} s ({said})")
    changed = root / "pkg0" / "mod0.py"
    changed.write_text(changed.read_text() + "# edited\n")
    edit, said = html()
    print(f"re-run, one file changed: {edit:.2f} s ({said})")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5000)
