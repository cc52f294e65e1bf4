"""Time measuring a program that imports many small modules, cold: what a large project pays
before its first test.

    python scripts/many_modules.py [--modules N] [--runs R] [--python PY] [--work DIR]

It writes a package of N modules (default 2,500) of 10 functions each, and a main script
that imports every module and calls two functions of each; then, with
`PYTHONDONTWRITEBYTECODE=1` and no cache of tally's (as on a fresh checkout), it times the
program plainly, under `coverage run --branch`, `tally run --branch` (the engine tally
picks) and `tally run --count`, interleaved, R rounds (default 3), and prints each median
and its ratio to plain and to coverage.py. `--cache` keeps tally's content cache between
runs instead (the second and later runs then find every module instrumented). coverage.py
must be installed in the Python that runs (`--python`, default this one).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_FUNCTION = '''
def f{n}(x, y=2):
    """Function {n}."""
    total = 0
    for i in range(x):
        if i % y:
            total += i
        else:
            total -= 1
    return total
'''


def write_program(root: Path, modules: int) -> None:
    """The package `many` of `modules` modules, and `main.py` that uses them all."""
    package = root / "many"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    for m in range(modules):
        text = "".join(_FUNCTION.format(n=n) for n in range(10))
        (package / f"mod{m:05d}.py").write_text(text)
    lines = ["import importlib", f"for m in range({modules}):"]
    lines += [
        '    mod = importlib.import_module(f"many.mod{m:05d}")',
        "    mod.f0(5)",
        "    mod.f7(5)",
    ]
    (root / "main.py").write_text("\n".join(lines) + "\n")


def commands(python: str) -> dict[str, list[str]]:
    return {
        "plain": [python, "main.py"],
        "coverage --branch": [
            python,
            "-m",
            "coverage",
            "run",
            "--branch",
            "--source=many",
            "main.py",
        ],
        "tally --branch": [python, "-m", "tally", "run", "--branch", "--source=many", "main.py"],
        "tally --count": [python, "-m", "tally", "run", "--count", "--source=many", "main.py"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modules", type=int, default=2500)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--work")
    parser.add_argument("--cache", action="store_true")
    options = parser.parse_args()
    # Absolute: the commands run in `root`, and the cache is removed from here.
    root = Path(os.path.abspath(options.work or tempfile.mkdtemp(prefix="many-modules-")))
    python = os.path.abspath(options.python)  # not resolved: a venv's python is a link
    if root.exists():
        shutil.rmtree(root)
    write_program(root, options.modules)
    cache = root / ".tally-cache"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TALLY_", "COVERAGE_"))}
    env.update(PYTHONDONTWRITEBYTECODE="1", TALLY_CACHE_DIR=str(cache))
    times: dict[str, list[float]] = {name: [] for name in commands(python)}
    for _ in range(options.runs):
        for name, command in commands(python).items():
            if not options.cache:
                shutil.rmtree(cache, ignore_errors=True)
            for data in root.glob(".coverage*"):
                data.unlink()
            start = time.perf_counter()
            subprocess.run(command, cwd=root, env=env, check=True, capture_output=True)
            times[name].append(time.perf_counter() - start)
    plain = statistics.median(times["plain"])
    coverage = statistics.median(times["coverage --branch"])
    print(
        f"{options.modules} modules, {sys.version.split()[0]} ({options.python}), "
        f"{'tally cache kept' if options.cache else 'cold'}, median of {options.runs}:"
    )
    print("| command | seconds | to plain | to coverage.py --branch |")
    print("|---|---|---|---|")
    for name, runs in times.items():
        median = statistics.median(runs)
        print(f"| {name} | {median:.2f} | {median / plain:.2f}x | {median / coverage:.2f}x |")
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
