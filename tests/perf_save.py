"""Measure saving data for a generated project of 10,000 files: time and peak RSS.

`python tests/perf_save.py [lines|counts]`: one measurement kind per process, so the peak
RSS is that of a tally process holding that data and saving it. Lines are held as the
monitor engine holds them (a set per file); counts as the count engine holds them (a
counter per block and the packed slot table each module hands it), and saved through the
engine's own measurement().
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path

from tally.collect.counting import CountEngine, _File
from tally.collect.filter import FileFilter
from tally.collect.slots import pack_slots
from tally.data.sqlite import write_data
from tally.measurement import Measurement


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


if __name__ == "__main__":
    kind = sys.argv[1] if len(sys.argv) > 1 else "lines"
    files = 10_000
    start_rss = rss_mb()
    paths = [f"/project/pkg{i // 100}/module_{i}.py" for i in range(files)]
    engine = CountEngine(FileFilter(cwd="/project"))
    if kind == "counts":
        # 100 executed statement lines per file in blocks of 2; each module has its own
        # table (a constant in its code).
        lines_of = list(range(1, 200, 2))
        slots = [
            [(line, line, 1) for line in lines_of[start : start + 2]] for start in range(0, 100, 2)
        ]
        for number, name in enumerate(paths):
            file = _File([])
            file.set_table(pack_slots([(0, members) for members in slots]))
            file.banked = [number % 7 + slot * 3 for slot in range(len(file.counters))]
            engine._files[name] = file
    else:
        lines = {p: set(range(1, 200, 2)) for p in paths}
    built_rss = rss_mb()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ".coverage"
        start = time.perf_counter()
        measurement = engine.measurement() if kind == "counts" else Measurement(lines)
        write_data(str(path), measurement)
        elapsed = time.perf_counter() - start
        size = path.stat().st_size
    print(
        f"{files} files x 100 executed lines, {kind}: saved in {elapsed:.2f} s, "
        f"{size / 1e6:.1f} MB file; peak RSS {rss_mb():.0f} MB (interpreter+tally "
        f"{start_rss:.0f} MB, with the data in memory {built_rss:.0f} MB)"
    )
