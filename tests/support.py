"""Helpers for the specification tests: run tally, coverage.py and trace on real programs."""

from __future__ import annotations

import atexit
import contextlib
import io
import json
import os
import pickle
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import textwrap
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tally
from tally.analysis.results import Numbers
from tally.analysis.source import SourceFacts, analyze_source, join_regex, read_source
from tally.config.options import DEFAULT_EXCLUDE
from tally.env import HAS_MONITORING
from tally.track.summary import FileScore, Summary

CORPUS = Path(__file__).parent / "corpus"
# Programs kept apart from the corpus: each shows a documented difference from an oracle.
CASES = Path(__file__).parent / "cases"
PY = sys.executable
# Instrumented code this session caches where __pycache__ can't serve goes to a directory
# of its own, set here for the tests' own process too: not the user's cache, and never
# code an earlier build of tally left there under the same format.
CODE_CACHE = tempfile.mkdtemp(prefix="tally-test-cache-")
atexit.register(shutil.rmtree, CODE_CACHE, ignore_errors=True)
os.environ["TALLY_CACHE_DIR"] = CODE_CACHE
# The engines that measure branches here: the count engine everywhere, the monitor engine
# where sys.monitoring exists (3.12+: branch events on 3.14+, markers before).
BRANCH_ENGINES = ["count", "monitor"] if HAS_MONITORING else ["count"]


def clean_env(**extra: str) -> dict[str, str]:
    """The environment for an oracle run: no coverage.py or tally settings leaking in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COVERAGE_", "TALLY_"))}
    env.update(extra)
    return env


def tally_env(**extra: str) -> dict[str, str]:
    """The environment for a tally run: keeps coverage.py's subprocess hook, which measures
    tally itself, but no tally settings from outside."""
    # Nor pytest-xdist's worker variables, when this suite runs under xdist: a pytest
    # started by a test is not a worker.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TALLY_", "PYTEST_XDIST_"))}
    env.pop("COVERAGE_FILE", None)
    env["TALLY_CACHE_DIR"] = CODE_CACHE
    env.update(extra)
    return env


def scored(
    files: dict[str, tuple[int, tuple[int, ...]]], *, branches: tuple[int, int] | None = None
) -> Summary:
    """A run's summary of files {name: (statements, missing lines)}; `branches` (ways, missing
    ways) go to the first file."""
    scores = {}
    for i, (name, (statements, missing)) in enumerate(files.items()):
        ways, missed = branches if branches and i == 0 else (0, 0)
        numbers = Numbers(1, statements, 0, len(missing), ways, min(missed, 1), missed)
        scores[name] = FileScore(numbers, tuple(sorted(missing)))
    return Summary(scores, has_branches=branches is not None)


def write(path: Path, text: str) -> Path:
    """Write `text` (dedented) to `path`, making its directory; returns `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


# The commands that start a program: they cross a real process boundary (the import hook,
# atexit, signals, sys.argv), so run_tally runs them as `python -m tally`; the others read
# and write files only, and run in this process, as main(argv) with captured output.
PROCESS_COMMANDS = {"run"}


def run_tally(
    *args: str,
    cwd: Path,
    env: dict[str, str] | None = None,
    stdin: str | None = None,
    timeout: float = 120,
    process: bool | None = None,
) -> subprocess.CompletedProcess[str]:
    """`tally ARGS` in `cwd`: as `python -m tally` when `process` (by default, for the
    commands that start a program), else main(ARGS) in this process (tally_main)."""
    if process is None:
        process = bool(args) and args[0] in PROCESS_COMMANDS
    if not process:
        return tally_main(*args, cwd=cwd, env=env, stdin=stdin)
    return subprocess.run(
        [PY, "-m", "tally", *args],
        check=False,
        cwd=cwd,
        env=env or tally_env(),
        capture_output=True,
        text=True,
        input=stdin,
        timeout=timeout,
    )


def tally_main(
    *args: str, cwd: Path, env: dict[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """tally's main(ARGS) in this process, as `python -m tally ARGS` would run in `cwd`
    with the environment `env` (else tally_env()): the exit status and the output. An
    exception escaping main() ends it as it would end the process: its traceback on
    stderr, status 1."""
    from tally.cli.main import main
    from tally.warnings import silence

    out, err = io.StringIO(), io.StringIO()
    saved_env, saved_cwd, saved_stdin = dict(os.environ), os.getcwd(), sys.stdin
    os.environ.clear()
    os.environ.update(env or tally_env())
    os.chdir(cwd)
    sys.stdin = io.StringIO(stdin or "")
    silence(())  # a fresh process silences nothing until a config says so
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                status = main(list(args))
            except SystemExit as end:  # argparse's usage errors, --help, --version
                if isinstance(end.code, str):
                    print(end.code, file=sys.stderr)
                status = end.code if isinstance(end.code, int) else int(end.code is not None)
            except Exception:
                traceback.print_exc()
                status = 1
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        os.chdir(saved_cwd)
        sys.stdin = saved_stdin
    return subprocess.CompletedProcess(["tally", *args], status, out.getvalue(), err.getvalue())


def pytest_run(
    root: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -m pytest -p no:cacheprovider ARGS` in `root`, with tally's environment."""
    return subprocess.run(
        [PY, "-m", "pytest", "-p", "no:cacheprovider", *args],
        check=False,
        cwd=root,
        env=env or tally_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )


def run_coverage(
    *args: str, cwd: Path, check: bool = True, **env: str
) -> subprocess.CompletedProcess[str]:
    """`python -m coverage ARGS` in `cwd`, with no coverage.py or tally settings from outside
    but `env` (such as COVERAGE_CORE)."""
    return subprocess.run(
        [PY, "-m", "coverage", *args],
        check=check,
        cwd=cwd,
        env=clean_env(**env),
        capture_output=True,
        text=True,
    )


@dataclass
class Oracle:
    """coverage.py's and trace's view of one program's run, for one file."""

    statements: set[int]
    excluded: set[int]
    executed: set[int]
    trace_counts: dict[int, int]


def coverage_view(script: Path, tmp: Path) -> tuple[set[int], set[int], set[int]]:
    """Run `script` under coverage.py; its statements, excluded and executed lines."""
    data = tmp / "oracle.coverage"
    rc = tmp / "empty.rc"
    rc.write_text("[run]\n")
    run_coverage("run", f"--rcfile={rc}", f"--data-file={data}", str(script), cwd=script.parent)
    out = tmp / "oracle.json"
    run_coverage(
        "json",
        f"--rcfile={rc}",
        f"--data-file={data}",
        "-o",
        str(out),
        f"--include={script}",
        cwd=script.parent,
    )
    report = json.loads(out.read_text())
    (entry,) = report["files"].values()
    executed = set(entry["executed_lines"])
    missing = set(entry["missing_lines"])
    return executed | missing, set(entry["excluded_lines"]), executed


def trace_counts(script: Path, tmp: Path) -> dict[int, int]:
    """Run `script` under `python -m trace --count`; its per-line counts."""
    out = tmp / "trace.pickle"
    ignore = os.pathsep.join(
        {sysconfig.get_paths()["stdlib"], sys.prefix, sys.exec_prefix, sys.base_prefix}
    )
    subprocess.run(
        [
            PY,
            "-m",
            "trace",
            "--count",
            f"--coverdir={tmp / 'cover'}",
            f"--file={out}",
            f"--ignore-dir={ignore}",
            str(script),
        ],
        cwd=script.parent,
        env=clean_env(),
        check=True,
        capture_output=True,
    )
    with open(out, "rb") as handle:
        counts = pickle.load(handle)[0]
    target = str(script)
    return {line: n for (name, line), n in counts.items() if name == target}


# Runs a script under sys.settrace, counting each move from one line to the next in a frame
# of the script, and from a line out of the frame ((line, -first line), as coverage.py
# writes exits); prints the counts as JSON.
_TRANSITIONS = """
import collections, json, runpy, sys, threading
target = sys.argv[1]
moves = collections.Counter()
def watch(frame, event, arg):
    if frame.f_code.co_filename != target:
        return None
    last = [None]
    def local(frame, event, arg):
        if event == "line":
            if last[0] is not None:
                moves[(last[0], frame.f_lineno)] += 1
            last[0] = frame.f_lineno
        elif event == "return" and last[0] is not None:
            moves[(last[0], -frame.f_code.co_firstlineno)] += 1
        return local
    return local(frame, event, arg)
sys.argv = sys.argv[1:]
sys.settrace(watch)
threading.settrace(watch)
try:
    runpy.run_path(target, run_name="__main__")
except BaseException:
    pass
sys.settrace(None)
print(json.dumps([[a, b, n] for (a, b), n in moves.items()]))
"""


def transitions(script: Path, cwd: Path) -> dict[tuple[int, int], int]:
    """How many times `script`, run in `cwd`, moved from each line to the next (or out of
    its frame), by sys.settrace line and return events: the reference for arm counts."""
    out = subprocess.run(
        [PY, "-c", _TRANSITIONS, str(script)],
        check=True,
        cwd=cwd,
        env=clean_env(),
        capture_output=True,
        text=True,
    ).stdout
    return {(a, b): n for a, b, n in json.loads(out.splitlines()[-1])}


def coverage_json(data_file: Path, cwd: Path) -> dict[str, dict[str, object]]:
    """coverage.py's JSON report of a data file: per file, its branch facts."""
    out = cwd / "report.json"
    run_coverage("json", f"--data-file={data_file}", "-o", str(out), cwd=cwd)
    files = json.loads(out.read_text())["files"]
    return {
        name: {
            "missing_branches": sorted(map(tuple, entry["missing_branches"])),
            "missing_lines": entry["missing_lines"],
            "num_branches": entry["summary"]["num_branches"],
            "num_partial_branches": entry["summary"]["num_partial_branches"],
        }
        for name, entry in files.items()
    }


def oracle(script: Path, tmp: Path) -> Oracle:
    """Both oracles' views of `script`."""
    statements, excluded, executed = coverage_view(script, tmp)
    return Oracle(statements, excluded, executed, trace_counts(script, tmp))


def tally_view(script: Path, tmp: Path, *flags: str) -> tuple[set[int], dict[int, int]]:
    """Run `script` under `tally run FLAGS`; executed lines (as statements) and counts."""
    data = tmp / "tally.coverage"
    result = run_tally(
        "run", f"--data-file={data}", "--rcfile=", *flags, str(script), cwd=script.parent
    )
    assert result.returncode == 0, result.stderr
    stored = tally.CoverageData(str(data))
    path = str(script.resolve())
    facts = analyze_source(read_source(path), path, join_regex(DEFAULT_EXCLUDE))
    executed = facts.first_lines(stored.lines(path) or []) & facts.statements
    return executed, stored.counts(path)


def per_statement(facts: SourceFacts, line_counts: Mapping[int, int]) -> dict[int, int]:
    """trace's counts by statement, as coverage.py maps lines: a statement's count is the
    count of its first line that trace counts (its first line, or the next where the first
    holds no code, as in `if (` with the condition below). Statements trace never counted
    are left out."""
    lines: dict[int, list[int]] = {}
    for line, first in facts.multiline.items():
        lines.setdefault(first, []).append(line)
    counts = {}
    for statement in facts.statements:
        for line in sorted({statement, *lines.get(statement, [])}):
            if line in line_counts:
                counts[statement] = line_counts[line]
                break
    return counts


def count_difference_kinds(source: str) -> dict[int, set[str]]:
    """The lines where trace's count may differ from tally's on this Python, with the
    reason: each such line of the corpus carries a comment `# trace: REASON` or
    `# trace 3.N+: REASON` (from that version on), naming a class docs/counts.md lists.

    Returns {line: {reason}}.
    """
    kinds: dict[int, set[str]] = {}
    for number, text in enumerate(source.splitlines(), start=1):
        found = re.search(r"# trace(?: 3\.(\d+)\+)?: (.+)$", text)
        if found and sys.version_info[:2] >= (3, int(found.group(1) or 0)):
            kinds[number] = {found.group(2)}
    return kinds


Arcs = set[tuple[int, int]]


@dataclass(frozen=True)
class Measured:
    """What one engine measured of a snippet, read from tally's JSON report."""

    engine: str
    statements: set[int]
    missing: set[int]
    branches: Arcs  # the branch arcs taken
    missing_branches: Arcs
    counts: dict[int, int] | None  # per statement, when the engine counts


def check_coverage(
    source: str,
    tmp: Path,
    *,
    lines: set[int] | None = None,
    missing: set[int] | None = None,
    branches: Arcs | None = None,
    missing_branches: Arcs | None = None,
    counts: Mapping[int, int] | None = None,
    engines: list[str] | None = None,
) -> list[Measured]:
    """Run `source` (dedented) under `tally run --branch` on each engine (BRANCH_ENGINES;
    with `counts`, the count engine alone, with --count) and check what each measured:
    its statements (`lines`, as in coverage.py's check_coverage), `missing` statements,
    the branch arcs taken (`branches`) and not (`missing_branches`), each statement's
    execution count (`counts`). What is not given is not checked. Returns what each
    engine measured, for checks of its own."""
    script = write(tmp / "snippet.py", source)
    chosen = engines or (["count"] if counts is not None else BRANCH_ENGINES)
    found = []
    for engine in chosen:
        data = tmp / f".coverage.{engine}"
        flags = ["--branch", f"--engine={engine}", *(["--count"] if counts is not None else [])]
        ran = run_tally("run", "--rcfile=", f"--data-file={data}", *flags, str(script), cwd=tmp)
        assert ran.returncode == 0, f"{engine}: {ran.stderr}"
        report = tmp / f"{engine}.json"
        made = run_tally("json", "--rcfile=", f"--data-file={data}", "-o", str(report), cwd=tmp)
        assert made.returncode == 0, f"{engine}: {made.stderr}"
        (entry,) = json.loads(report.read_text())["files"].values()
        measured = Measured(
            engine,
            set(entry["executed_lines"]) | set(entry["missing_lines"]),
            set(entry["missing_lines"]),
            {(a, b) for a, b in entry.get("executed_branches", ())},
            {(a, b) for a, b in entry.get("missing_branches", ())},
            {int(n): c for n, c in entry["counts"].items()} if "counts" in entry else None,
        )
        expected = {
            "statements": lines,
            "missing": missing,
            "branches": branches,
            "missing_branches": missing_branches,
            "counts": None if counts is None else dict(counts),
        }
        for name, want in expected.items():
            if want is not None:
                got = getattr(measured, name)
                assert got == want, f"{engine} engine, {name}: {_shown(got)} != {_shown(want)}"
        found.append(measured)
    return found


def _shown(value: set[Any] | dict[int, int]) -> list[Any]:
    """A set or a dict, sorted, for a message that can be read."""
    return sorted(value.items()) if isinstance(value, dict) else sorted(value)
