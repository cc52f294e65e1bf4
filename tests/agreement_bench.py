"""Compare tally's counts with trace's on a bench suite, line by line.

Run with the workload's Python, from its directory:

    VENV/bin/python tests/agreement_bench.py [--data-file F] [--out DIFFS] -- PYTEST_ARGS...

Without `--data-file` it first runs `tally run --count --source . -m pytest PYTEST_ARGS` in
a subprocess, so both sides run the same tally and the same tests. Then it runs pytest in
this process under `trace.Trace(count=1)` (the same counting as `python -m trace --count`)
and compares trace's count with tally's on every executed statement line tally measured.
Each difference is written to DIFFS (default stdout) with its source line and the shape
of its statement, to classify against docs/counts.md.

trace decides whether to trace a file by its module's *base name*, cached: once a
`__init__.py` or `utils.py` under an ignored directory is seen, every file of that base
name is skipped. That is not counting, only choosing, so here a file is traced when it is
under the current directory, which is what `--source .` measures.

Both runs use one hash seed and seed `random` the same way when pytest starts (a plugin
of this script's own), so tests that draw random data draw the same data in both: a
difference is then tally's, not the run's.
"""

from __future__ import annotations

import argparse
import ast
import os
import subprocess
import sys
import tempfile
import threading
import trace
from collections import Counter
from pathlib import Path
from types import CodeType, FrameType
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from support import per_statement

import tally
from tally.analysis.source import analyze_source, join_regex, read_source
from tally.config.options import DEFAULT_EXCLUDE


class _UnderRoot:
    """trace's ignore test, by directory only: trace files under `root`."""

    def __init__(self, root: str) -> None:
        self.root = os.path.join(os.path.realpath(root), "")
        self.seen: dict[str, bool] = {}  # asked on every call: cache by file name

    def names(self, filename: str, modulename: str) -> bool:
        ignored = self.seen.get(filename)
        if ignored is None:
            ignored = self.seen[filename] = not os.path.realpath(filename).startswith(self.root)
        return ignored


def trace_counts(args: list[str]) -> tuple[dict[tuple[str, int], int], set[tuple[str, int]]]:
    """trace's counts of the suite's run, and the lines of code run by a thread other than
    the main one, where trace's counter (not atomic) loses counts and runs interleave."""
    tracer = trace.Trace(count=1, trace=0)
    tracer.ignore = _UnderRoot(os.getcwd())  # type: ignore[assignment]
    threaded: set[CodeType] = set()
    counting = tracer.globaltrace
    main = threading.main_thread()

    def watch(frame: FrameType, why: Any, arg: object) -> object:
        if why == "call" and threading.current_thread() is not main:
            threaded.add(frame.f_code)
        return counting(frame, why, arg)

    tracer.globaltrace = watch  # type: ignore[assignment]
    # Import pytest under the tracer too: plugins it loads may import measured modules.
    tracer.runctx("import pytest; pytest.main(args)", {"args": args}, {})
    counts = {
        (os.path.realpath(path), line): n for (path, line), n in tracer.results().counts.items()
    }
    lines = {
        (os.path.realpath(code.co_filename), line)
        for code in threaded
        for _, _, line in code.co_lines()
        if line is not None
    }
    return counts, lines


_SEED_PLUGIN = "tally_agreement_seed"


def seeded(args: list[str], scratch: str) -> list[str]:
    """`args` with a plugin that seeds `random` when pytest starts, importable from here
    and from the subprocess (through PYTHONPATH)."""
    Path(scratch, f"{_SEED_PLUGIN}.py").write_text(
        "import random\n\n\ndef pytest_configure(config):\n    random.seed(0)\n"
    )
    sys.path.insert(0, scratch)
    path = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join([scratch, *([path] if path else [])])
    return ["-p", _SEED_PLUGIN, *args]


def tally_counts(args: list[str], data_file: str) -> None:
    command = [sys.executable, "-m", "tally", "run", "--count", "--source", "."]
    command += ["--data-file", data_file, "-m", "pytest", *args]
    subprocess.run(command, check=False)
    # A project with `[run] parallel = true` (attrs) leaves its data in parallel files.
    subprocess.run(
        [sys.executable, "-m", "tally", "combine", "--data-file", data_file],
        check=False,
        capture_output=True,
    )


def shape(tree: ast.Module, line: int) -> str:
    """What kind of statement starts on `line`, for sorting differences into classes."""
    kinds = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.stmt) or node.lineno != line:
            continue
        body = getattr(node, "body", None)
        compound = isinstance(body, list) and bool(body) and isinstance(body[0], ast.stmt)
        last: int | None = node.end_lineno
        if compound:
            assert isinstance(body, list)
            last = max(node.lineno, body[0].lineno - 1)
        kinds.append(type(node).__name__ + ("/multi-line" if last and last > line else ""))
        if getattr(node, "decorator_list", None):
            kinds.append("decorated")
        for sub in ast.walk(node) if not compound else ():
            if isinstance(sub, (ast.Lambda, ast.GeneratorExp, ast.ListComp, ast.SetComp)):
                kinds.append(type(sub).__name__)
            elif isinstance(sub, ast.DictComp):
                kinds.append("DictComp")
    return ",".join(sorted(set(kinds))) or "?"


def main() -> None:
    if os.environ.get("PYTHONHASHSEED") != "0":
        os.environ["PYTHONHASHSEED"] = "0"
        os.execv(sys.executable, [sys.executable, *sys.argv])
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-file")
    parser.add_argument("--out")
    split = sys.argv.index("--")
    options = parser.parse_args(sys.argv[1:split])
    args = sys.argv[split + 1 :]
    with tempfile.TemporaryDirectory() as scratch:
        args = seeded(args, scratch)
        data_file = options.data_file or str(Path(scratch, ".coverage"))
        if not options.data_file:
            tally_counts(args, data_file)
        data = tally.CoverageData(data_file)
        counted, threaded = trace_counts(args)
        out = open(options.out, "w") if options.out else sys.stdout  # noqa: SIM115
        same = total = left_out = 0
        kinds: Counter[str] = Counter()
        regex = join_regex(DEFAULT_EXCLUDE)
        for path in sorted(data.measured_files()):
            source = read_source(path)
            facts = analyze_source(source, path, regex)
            tree = ast.parse(source)
            text = source.splitlines()
            ours = data.counts(path)
            theirs_by_statement = per_statement(
                facts, {line: n for (name, line), n in counted.items() if name == path}
            )
            for line in sorted(set(ours) & facts.statements):
                if (path, line) in threaded:
                    left_out += 1
                    continue
                theirs = theirs_by_statement.get(line, 0)
                total += 1
                if ours[line] == theirs:
                    same += 1
                    continue
                kind = shape(tree, line)
                kinds[kind] += 1
                code = text[line - 1].strip()
                print(f"{path}:{line}: tally {ours[line]} trace {theirs} [{kind}] {code}", file=out)
    print(f"agree {same}/{total} = {100 * same / max(total, 1):.3f}%", end="")
    print(f" ({left_out} statements run by other threads left out)")
    for kind, n in kinds.most_common():
        print(f"{n:6} {kind}")


if __name__ == "__main__":
    main()
