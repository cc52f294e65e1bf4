"""Measure saving data for a generated project of 10,000 files: time and peak RSS.

`python tests/perf_save.py [lines|counts]`: one measurement kind per process, so the peak
RSS is that of a tally process holding that data and saving it.
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path

from tally.data.sqlite import Measurement, write_data


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


if __name__ == "__main__":
    kind = sys.argv[1] if len(sys.argv) > 1 else "lines"
    files = 10_000
    start_rss = rss_mb()
    lines = {f"/project/pkg{i // 100}/module_{i}.py": set(range(1, 200, 2)) for i in range(files)}
    counts = {p: {n: n * 3 for n in s} for p, s in lines.items()} if kind == "counts" else None
    built_rss = rss_mb()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ".coverage"
        start = time.perf_counter()
        write_data(str(path), Measurement(lines, counts))
        elapsed = time.perf_counter() - start
        size = path.stat().st_size
    print(
        f"{files} files x 100 executed lines, {kind}: saved in {elapsed:.2f} s, "
        f"{size / 1e6:.1f} MB file; peak RSS {rss_mb():.0f} MB (interpreter+tally "
        f"{start_rss:.0f} MB, with the data in memory {built_rss:.0f} MB)"
    )
