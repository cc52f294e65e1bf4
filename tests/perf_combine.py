"""Measure `tally combine` on 200 data files of 2,000 source files each (issue: <= 10 s).

`python tests/perf_combine.py [FILES] [SOURCES]`: writes FILES parallel data files into a
temporary directory, each measuring SOURCES files with 40 of 60 lines executed and
counted (a different 40 in each data file, so the union grows), as a counted run on CI
shards would leave, then times `tally combine` in a subprocess, as a user runs it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

from tally.data.sqlite import CoverageData, write_data
from tally.measurement import Measurement


def data_file(path: str, index: int, sources: int) -> None:
    lines: dict[str, set[int]] = {}
    counts: dict[str, dict[int, int]] = {}
    for j in range(sources):
        name = f"/home/ci/proj/src/pkg{j // 100}/mod{j}.py"
        executed = {1 + (index + k) % 60 for k in range(40)}
        lines[name] = executed
        counts[name] = {line: 1 + (line * index) % 7 for line in executed}
    write_data(path, Measurement(lines, counts, {"tally_version": "perf"}))


def main() -> None:
    files = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    sources = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        for i in range(files):
            data_file(os.path.join(tmp, f".coverage.shard{i}"), i, sources)
        took = time.perf_counter() - started
        print(f"wrote {files} data files of {sources} sources in {took:.1f} s")
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "tally", "combine", "-q"], cwd=tmp, check=True)
        elapsed = time.perf_counter() - started
        data = CoverageData(os.path.join(tmp, ".coverage"))
        files_measured = len(data.measured_files())
        print(f"tally combine: {elapsed:.2f} s ({files_measured} files in the combined data)")


if __name__ == "__main__":
    main()
