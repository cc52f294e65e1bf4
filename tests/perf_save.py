"""Measure saving data for a generated project of 10,000 files: time and peak RSS."""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path

from tally.data.sqlite import Measurement, write_data

if __name__ == "__main__":
    files = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    lines = {f"/project/pkg{i // 100}/module_{i}.py": set(range(1, 200, 2)) for i in range(files)}
    counts = {p: {n: n * 3 for n in s} for p, s in lines.items()}
    with tempfile.TemporaryDirectory() as tmp:
        for label, m in (("lines", Measurement(lines)), ("counts", Measurement(lines, counts))):
            start = time.perf_counter()
            write_data(str(Path(tmp) / f"{label}.coverage"), m)
            elapsed = time.perf_counter() - start
            size = (Path(tmp) / f"{label}.coverage").stat().st_size
            print(f"{files} files, 100 lines each, {label}: saved in {elapsed:.2f} s, "
                  f"{size / 1e6:.1f} MB file")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of the whole process (data built in memory included): {peak:.0f} MB")
