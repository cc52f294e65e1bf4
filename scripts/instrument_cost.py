"""What instrumenting a module costs, against compiling it plainly, per file.

    python scripts/instrument_cost.py [--flavour count|branch] [--pytest] [--stages]
                                      [--profile OUT] TREE...

For every `.py` file under each TREE (default: the standard library), it times a plain
`compile()` of the source and tally's whole instrumentation as the import hook runs it
(parse, analysis, rewrite, slot table, compile), each the best of three, and prints per
tree the files, milliseconds per file for each and their ratio, the slowest file, then
the total. Files that don't compile on this Python are skipped. With `--pytest`, only test
files (`test_*.py`, `*_test.py`, `conftest.py`) are timed, as pytest's plugin path runs
them: pytest's own compile (parse, assertion rewriting, compile) against the same with
tally's instrumentation (which reads the events of the rewritten code). With `--profile`,
it also writes a cProfile of the instrumentation of all files to OUT (read it with
`python -m pstats OUT`). With `--stages` (count flavour), it then times each stage of the
instrumentation on its own over all files, best of three per file, in units of a plain
compile: what docs/engines.md quotes as the floor of the design.
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


def pytest_compile(data: bytes, path: str, flavour: str | None) -> object:
    """Compile a test file as pytest does (parse, rewrite asserts, compile), instrumented
    first as tally's plugin path does when `flavour` is given."""
    import ast

    from _pytest.assertion.rewrite import rewrite_asserts

    from tally.collect.importer import instrument_test_tree

    tree = ast.parse(data, path)
    if flavour is not None:
        instrument_test_tree(rewrite_asserts, tree, data, path, flavour)  # type: ignore[arg-type]
    rewrite_asserts(tree, data, path, None)
    return compile(tree, path, "exec", dont_inherit=True)


def measure(
    files: list[tuple[str, bytes]], flavour: str, pytest: bool = False
) -> tuple[float, float, tuple[float, str]]:
    """(seconds to compile them all plainly, seconds to instrument them all, the slowest
    file's (seconds, path) instrumenting), each file's best of three."""
    plain = instrumented = 0.0
    slowest = (0.0, "")
    for path, data in files:
        if pytest:
            time_plain = best(lambda d=data, p=path: pytest_compile(d, p, None))  # type: ignore[misc]
            time_instrumented = best(lambda d=data, p=path: pytest_compile(d, p, flavour))  # type: ignore[misc]
        else:
            time_plain = best(lambda d=data, p=path: compile(d, p, "exec", dont_inherit=True))  # type: ignore[misc]
            time_instrumented = best(lambda d=data, p=path: compile_instrumented(d, p, flavour))  # type: ignore[arg-type,misc]
        plain += time_plain
        instrumented += time_instrumented
        slowest = max(slowest, (time_instrumented, path))
    return plain, instrumented, slowest


def stages(files: list[tuple[str, bytes]]) -> dict[str, float]:
    """Seconds spent in each stage of instrumenting `files` (count flavour), each stage
    timed on its own, best of three per file; the rewrite is what is left of the whole."""
    spent: dict[str, float] = {}

    def timed(stage: str, work: Callable[[], object]) -> None:
        spent[stage] = spent.get(stage, 0.0) + best(work)

    for path, data in files:
        _time_stages(path, data, timed)
    whole = spent.pop("whole instrument_tree")
    outside = ("plain compile()", "compile() of the instrumented tree")
    before = sum(seconds for stage, seconds in spent.items() if stage not in outside)
    spent["the rewrite (the rest of instrument_tree)"] = max(0.0, whole - before)
    return spent


def _time_stages(
    path: str, data: bytes, timed: Callable[[str, Callable[[], object]], None]
) -> None:
    """Time each stage of instrumenting one file with `timed(stage, work)`."""
    import ast

    from tally.analysis.source import raw_statement_lines
    from tally.collect.events import statement_events
    from tally.collect.importer import instrument_tree
    from tally.collect.nested import index_tree, nested_weights

    tree = ast.parse(data, path)
    code = compile(tree, path, "exec", dont_inherit=True)
    index = index_tree(tree, data)
    instrumented = instrument_tree(ast.parse(data, path), data, path)
    timed("plain compile()", lambda: compile(data, path, "exec", dont_inherit=True))
    timed("ast.parse", lambda: ast.parse(data, path))
    timed("compile() of the parsed tree", lambda: compile(tree, path, "exec"))
    timed("nested code and definitions (index_tree)", lambda: index_tree(tree, data))
    timed("lines with code", lambda: raw_statement_lines(code))
    timed("events of statements over lines", lambda: statement_events(tree, code, index))
    timed("nested code's weights", lambda: nested_weights(tree, code, index))
    timed("whole instrument_tree", lambda: instrument_tree(ast.parse(data, path), data, path))
    timed("compile() of the instrumented tree", lambda: compile(instrumented, path, "exec"))


def is_test_file(path: str) -> bool:
    name = os.path.basename(path)
    return name == "conftest.py" or name.startswith("test_") or name.endswith("_test.py")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trees", nargs="*", type=Path)
    parser.add_argument("--flavour", choices=["count", "branch"], default="count")
    parser.add_argument("--pytest", action="store_true", help="test files, as pytest runs them")
    parser.add_argument("--profile")
    parser.add_argument("--stages", action="store_true", help="time each stage on its own")
    options = parser.parse_args()
    trees = options.trees or [Path(sysconfig.get_paths()["stdlib"])]
    warnings.simplefilter("ignore")  # the standard library's own SyntaxWarnings
    what = ", test files as pytest compiles them" if options.pytest else ""
    print(f"Python {sys.version.split()[0]}, flavour {options.flavour}{what}")
    print("| tree | files | compile ms/file | instrument ms/file | ratio | slowest file (ms) |")
    print("|---|---|---|---|---|---|")
    every: list[tuple[str, bytes]] = []
    total_plain = total_instrumented = 0.0
    for tree in trees:
        files = [f for f in sources(tree) if not options.pytest or is_test_file(f[0])]
        if not files:
            continue
        every.extend(files)
        plain, instrumented, (slow, slow_path) = measure(files, options.flavour, options.pytest)
        total_plain += plain
        total_instrumented += instrumented
        name = os.path.basename(os.path.normpath(tree))
        n = len(files)
        print(
            f"| {name} | {n} | {1000 * plain / n:.2f} | {1000 * instrumented / n:.2f} "
            f"| {instrumented / plain:.1f}x | {os.path.relpath(slow_path, tree)} "
            f"({1000 * slow:.0f}) |"
        )
    if len(trees) > 1 and every:
        n = len(every)
        print(
            f"| all | {n} | {1000 * total_plain / n:.2f} | {1000 * total_instrumented / n:.2f} "
            f"| {total_instrumented / total_plain:.1f}x | |"
        )
    if options.stages and every:
        spent = stages(every)
        plain = spent["plain compile()"]
        print(f"\n| stage ({len(every)} files) | ms/file | x plain compile |\n|---|---|---|")
        for stage, seconds in spent.items():
            print(f"| {stage} | {1000 * seconds / len(every):.2f} | {seconds / plain:.2f} |")
    if options.profile:
        profile = cProfile.Profile()
        profile.enable()
        for path, data in every:
            compile_instrumented(data, path, options.flavour)  # type: ignore[arg-type]
        profile.disable()
        profile.dump_stats(options.profile)


if __name__ == "__main__":
    main()
