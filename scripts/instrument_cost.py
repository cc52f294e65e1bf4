"""What instrumenting a module costs, against compiling it plainly, per file.

    python scripts/instrument_cost.py [--flavour count|branch] [--profile OUT] TREE...

For every `.py` file under each TREE (default: the standard library), it times a plain
`compile()` of the source and tally's whole instrumentation as the import hook runs it
(parse, analysis, rewrite, slot table, compile), each the best of three, and prints per
tree the files, milliseconds per file for each and their ratio, then the total. Files
that don't compile on this Python are skipped. With `--profile`, it also writes a cProfile
of the instrumentation of all files to OUT (read it with `python -m pstats OUT`).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import sys
import sysconfig
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

from tally.collect.importer import compile_instrumented


def sources(tree: Path) -> Iterator[tuple[str, bytes]]:
    """(path, source) of each `.py` file under `tree` that compiles here."""
    for path in sorted(tree.rglob("*.py")):
        if "site-packages" in path.parts or "__pycache__" in path.parts:
            continue
        data = path.read_bytes()
        try:
            compile(data, str(path), "exec", dont_inherit=True)
        except (SyntaxError, ValueError):
            continue
        yield str(path), data


def best(work: Callable[[], object], runs: int = 3) -> float:
    """The shortest of `runs` timings of `work()`, in seconds."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def measure(files: list[tuple[str, bytes]], flavour: str) -> tuple[float, float]:
    """(seconds to compile them all plainly, seconds to instrument them all), each file's
    best of three."""
    plain = instrumented = 0.0
    for path, data in files:
        plain += best(lambda d=data, p=path: compile(d, p, "exec", dont_inherit=True))
        instrumented += best(lambda d=data, p=path: compile_instrumented(d, p, flavour))  # type: ignore[arg-type,misc]
    return plain, instrumented


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trees", nargs="*", type=Path)
    parser.add_argument("--flavour", choices=["count", "branch"], default="count")
    parser.add_argument("--profile")
    options = parser.parse_args()
    trees = options.trees or [Path(sysconfig.get_paths()["stdlib"])]
    warnings.simplefilter("ignore")  # the standard library's own SyntaxWarnings
    print(f"Python {sys.version.split()[0]}, flavour {options.flavour}")
    print("| tree | files | compile ms/file | instrument ms/file | ratio |")
    print("|---|---|---|---|---|")
    every: list[tuple[str, bytes]] = []
    total_plain = total_instrumented = 0.0
    for tree in trees:
        files = list(sources(tree))
        if not files:
            continue
        every.extend(files)
        plain, instrumented = measure(files, options.flavour)
        total_plain += plain
        total_instrumented += instrumented
        name = os.path.basename(os.path.normpath(tree))
        n = len(files)
        print(
            f"| {name} | {n} | {1000 * plain / n:.2f} | {1000 * instrumented / n:.2f} "
            f"| {instrumented / plain:.1f}x |"
        )
    if len(trees) > 1 and every:
        n = len(every)
        print(
            f"| all | {n} | {1000 * total_plain / n:.2f} | {1000 * total_instrumented / n:.2f} "
            f"| {total_instrumented / total_plain:.1f}x |"
        )
    if options.profile:
        profile = cProfile.Profile()
        profile.enable()
        for path, data in every:
            compile_instrumented(data, path, options.flavour)  # type: ignore[arg-type]
        profile.disable()
        profile.dump_stats(options.profile)


if __name__ == "__main__":
    main()
