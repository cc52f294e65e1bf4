"""Measure `tally run -c pass` against `python -c pass`, median of N runs (a benchmark)."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time


def median_ms(cmd: list[str], n: int = 21) -> float:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


if __name__ == "__main__":
    plain = median_ms([sys.executable, "-c", "pass"])
    tally = median_ms(
        [sys.executable, "-m", "tally", "run", "--data-file=/tmp/startup.cov", "-c", "pass"]
    )
    print(
        f"python -c pass: {plain:.1f} ms; tally run -c pass: {tally:.1f} ms; "
        f"added {tally - plain:.1f} ms"
    )
