"""The real-suite differential harness: tally against coverage.py on other people's test suites.

For each pinned project below, the harness downloads its sdist from the package index (checked
against the index's sha256), unpacks it, makes a venv with the project's test dependencies,
coverage.py and this checkout of tally, and runs the project's own test suite under coverage.py
and under tally: once per engine and per variant (lines; ``--branch``; ``--branch`` with an
``exclude_lines`` that replaces coverage.py's defaults, as users' ``.coveragerc`` files often do).
Both tools read the same config file and write their JSON reports, which are compared file by
file: the files reported, statements, executed, missing and excluded lines, executed and missing
arcs, the function and class regions, the totals, and the pytest outcome line.

It prints one row per project, variant and engine, then every difference, and exits 1 when a
difference is not listed in KNOWN with its reason (docs/harness.md). Run it with the Python to
test::

    python scripts/realsuites.py                    # every project, every engine this Python has
    python scripts/realsuites.py --projects toolz,cachetools --work /tmp/rs

Nothing is installed outside ``--work`` (default: a folder under this Python's venv, so a CI
venv keeps its sdists and project venvs between runs).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
ORACLE = "coverage==7.18.0"
PYTEST = "pytest==9.2.0"
INDEX = "https://pypi.org/pypi/{name}/json"


@dataclass(frozen=True)
class Project:
    """One pinned project: where its code is, what its tests need, how its suite runs."""

    name: str
    version: str
    source: tuple[str, ...]  # the [run] source entries (package names)
    shape: str  # what this project adds to the mix, for the docs table
    root: str = "."  # the directory that goes on sys.path (src layouts: "src")
    deps: tuple[str, ...] = ()  # runtime and test dependencies, pinned
    args: tuple[str, ...] = ("tests",)  # pytest's arguments, run in the unpacked sdist
    slow: bool = False


PROJECTS = (
    Project(
        "toolz",
        "1.2.0",
        ("toolz", "tlz"),
        "flat layout, generators, curried namespace",
        args=("toolz/tests",),
    ),
    Project(
        "cachetools",
        "8.0.2",
        ("cachetools",),
        "src layout, decorators, locks",
        root="src",
    ),
    Project(
        "idna",
        "3.21",
        ("idna",),
        "flat layout, large tables, codecs",
        deps=("hypothesis==6.170.15",),
    ),
    Project(
        "jaraco.functools",
        "4.6.0",
        ("jaraco",),
        "namespace package, doctests",
        deps=("more-itertools==11.2.1", "jaraco.classes==3.4.0"),
        args=("jaraco", "test_functools.py"),
    ),
    Project(
        "click",
        "8.5.1",
        ("click",),
        "src layout, typing.overload, exceptions",
        root="src",
        slow=True,
    ),
    Project(
        "boltons",
        "26.2.0",
        ("boltons",),
        "flat layout, many modules, generators",
        slow=True,
    ),
    Project(
        "asgiref",
        "3.13.0",
        ("asgiref",),
        "async, threads",
        deps=("pytest-asyncio==1.3.0",),
    ),
    Project(
        "tenacity",
        "9.2.1",
        ("tenacity",),
        "async, retries, exceptions",
        # Its tests draw attempt numbers at random: pytest-randomly seeds `random` the same
        # way before every test (in file order), so each run executes the same lines.
        deps=("tornado==6.5.2", "pytest-randomly==5.1.0"),
        args=("-p", "randomly", "--randomly-seed=1", "--randomly-dont-reorganize", "tests"),
    ),
    Project(
        "platformdirs",
        "4.14.9",
        ("platformdirs",),
        "src layout, typing.overload, mocks",
        root="src",
        deps=("appdirs==1.4.4", "pytest-mock==3.15.1"),
        # Its pytest11 entry point, which the harness's metadata-only install lacks.
        args=("-p", "platformdirs.pytest_plugin", "tests"),
    ),
)

VARIANTS = {
    "lines": "[run]\nbranch = False\n",
    "branch": "[run]\nbranch = True\n",
    # A user's exclusion list replaces coverage.py's defaults (no `...` stubs, no TYPE_CHECKING).
    "exclude": (
        "[run]\nbranch = True\n[report]\nexclude_lines =\n    pragma: no cover\n"
        "    raise NotImplementedError\n    if __name__ == .__main__.:\n"
    ),
}

# Differences that remain, each with its reason (docs/harness.md says more). A key is
# (project, variant or "*", engine or "*", Python "3.x" or "*", file, what); what differs is
# compared with the first words of the difference's text. A difference in the totals is
# known when every other difference of its row is.
_ANNOTATE = (
    "coverage.py 3.14 misses a class's exit after a last one-line definition when the class "
    "has annotations (PEP 649); the count engine keeps it (docs/branches.md)"
)
KNOWN: dict[tuple[str, str, str, str, str, str], str] = {
    ("tenacity", "exclude", "count", "3.14", "tenacity/__init__.py", what): _ANNOTATE
    for what in (
        "executed_branches: tally only [(709, -679)], coverage.py only []",
        "missing_branches: tally only [], coverage.py only [(709, -679)]",
    )
}


@dataclass
class Outcome:
    """One tool's run of one project: its JSON report and the pytest outcome line."""

    report: dict[str, Any]
    outcome: str
    status: int


@dataclass
class Row:
    """One comparison: a project, a variant and an engine, and every difference found."""

    project: Project
    variant: str
    engine: str
    files: int
    statements: int
    percent: tuple[str, str]
    outcome: str
    differences: list[str] = field(default_factory=list)
    known: list[str] = field(default_factory=list)


def python_tag() -> str:
    """This Python's "3.x" version, the key of its venvs and known differences."""
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def engines() -> list[str]:
    """tally's engines on this Python: the monitor engine exists from 3.12 on."""
    return ["monitor", "count"] if sys.version_info >= (3, 12) else ["count"]


def fetch(project: Project, cache: Path) -> Path:
    """The project's sdist from the package index, kept in ``cache`` and checked by sha256."""
    cache.mkdir(parents=True, exist_ok=True)
    url = INDEX.format(name=project.name)
    with urllib.request.urlopen(url, timeout=60) as response:
        meta = json.load(response)
    files = meta["releases"].get(project.version, [])
    sdists = [f for f in files if f["packagetype"] == "sdist"]
    if not sdists:
        raise SystemExit(f"realsuites: {project.name} {project.version} has no sdist on the index")
    sdist = sdists[0]
    path = cache / str(sdist["filename"])
    if not path.exists() or sha256(path) != sdist["digests"]["sha256"]:
        with urllib.request.urlopen(urllib.parse.urljoin(url, sdist["url"]), timeout=120) as r:
            path.write_bytes(r.read())
        if sha256(path) != sdist["digests"]["sha256"]:
            raise SystemExit(f"realsuites: {path.name} does not match the index's sha256")
    return path


def sha256(path: Path) -> str:
    """The hex sha256 of a file."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def prepare(project: Project, work: Path) -> tuple[Path, Path]:
    """The unpacked sdist and its venv's Python, made once per project and Python."""
    here = work / python_tag()
    tree = here / f"{project.name}-{project.version}"
    venv = here / f"venv-{project.name}"
    python = venv / "bin" / "python"
    stamp = venv / "realsuites.done"
    if stamp.exists():
        return tree, python
    sdist = fetch(project, work / "sdists")
    shutil.rmtree(tree, ignore_errors=True)
    shutil.rmtree(venv, ignore_errors=True)
    here.mkdir(parents=True, exist_ok=True)
    with tarfile.open(sdist) as archive:
        top = archive.getnames()[0].split("/")[0]
        archive.extractall(here, filter="data")
    (here / top).rename(tree)
    run([sys.executable, "-m", "venv", str(venv)])
    pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    run([*pip, PYTEST, ORACLE, *project.deps])
    run([*pip, "--no-deps", "-e", str(REPO)])
    # The project's code is imported from the unpacked tree, as an editable install does,
    # without building the sdist (some need their VCS to know their own version).
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (Path(site) / "realsuites.pth").write_text(str((tree / project.root).resolve()) + "\n")
    # Its metadata too, for suites that ask importlib.metadata for their own version.
    info = Path(site) / f"{project.name.replace('.', '_')}-{project.version}.dist-info"
    info.mkdir()
    shutil.copy(tree / "PKG-INFO", info / "METADATA")
    stamp.write_text("ok\n")
    return tree, python


def run(argv: list[str]) -> None:
    """Run a set-up command, stopping the harness with its output when it fails."""
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"realsuites: {' '.join(argv)} failed:\n{done.stdout}{done.stderr}")


def measure(project: Project, tree: Path, python: Path, variant: str, tool: str) -> Outcome:
    """Run the project's suite under one tool ("coverage" or "tally:<engine>") and report JSON."""
    label = tool.replace(":", "-")
    rc = tree / f".realsuites-{variant}.rc"
    rc.write_text(
        VARIANTS[variant].replace("[run]\n", f"[run]\nsource = {','.join(project.source)}\n", 1)
    )
    data = tree / f".coverage-{variant}-{label}"
    out = tree / f"realsuites-{variant}-{label}.json"
    for stale in tree.glob(f"{data.name}*"):
        stale.unlink()
    # Neither tool's settings from outside (a test suite that runs this harness may be
    # measured itself), nor pytest's: each tool runs with its defaults and the config above.
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("COVERAGE_", "TALLY_", "PYTEST_"))
    }
    runtime = tree / ".runtime"  # XDG_RUNTIME_DIR, which containers often lack
    runtime.mkdir(mode=0o700, exist_ok=True)
    env.update(COVERAGE_FILE=str(data), PYTHONDONTWRITEBYTECODE="1", XDG_RUNTIME_DIR=str(runtime))
    if tool == "coverage":
        command = [str(python), "-m", "coverage", "run", f"--rcfile={rc}", "-m", "pytest"]
        report = [str(python), "-m", "coverage", "json", f"--rcfile={rc}", "-o", str(out)]
    else:
        engine = tool.split(":")[1]
        command = [str(python), "-m", "tally", "run", f"--rcfile={rc}", f"--engine={engine}"]
        command += ["-m", "pytest"]
        report = [str(python), "-m", "tally", "json", f"--rcfile={rc}", "-o", str(out)]
    suite = subprocess.run(
        [*command, "-p", "no:cacheprovider", *project.args],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        check=False,  # the suite's own failures are part of what is compared
    )
    done = subprocess.run(report, cwd=tree, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(
            f"realsuites: {project.name} {variant} {tool}: the JSON report failed:\n"
            f"{suite.stdout[-2000:]}{suite.stderr[-2000:]}{done.stdout}{done.stderr}"
        )
    return Outcome(json.loads(out.read_text()), outcome_line(suite.stdout), suite.returncode)


def outcome_line(stdout: str) -> str:
    """pytest's last summary line without its timing: "12 passed, 1 skipped"."""
    found = re.findall(r"^=*[ ]*([^=\s].*?) in [\d.]+s\b", stdout, re.MULTILINE)
    return found[-1] if found else "(no outcome line)"


def compare(ours: Outcome, theirs: Outcome) -> Iterator[str]:
    """Every difference between tally's run (ours) and coverage.py's (theirs), one line each."""
    if ours.outcome != theirs.outcome:
        yield f"outcome: tally {ours.outcome!r}, coverage.py {theirs.outcome!r}"
    if ours.status != theirs.status:
        yield f"status: tally {ours.status}, coverage.py {theirs.status}"
    mine, yours = files_of(ours), files_of(theirs)
    for name in sorted(set(yours) - set(mine)):
        yield f"{name}: files: only coverage.py reports it"
    for name in sorted(set(mine) - set(yours)):
        yield f"{name}: files: only tally reports it"
    for name in sorted(set(mine) & set(yours)):
        yield from compare_file(name, mine[name], yours[name])
    a, b = totals_of(ours), totals_of(theirs)
    if a != b:
        yield f"totals: tally {a}, coverage.py {b}"


def files_of(outcome: Outcome) -> dict[str, Any]:
    """The report's files, by path relative to the project."""
    files: dict[str, Any] = outcome.report.get("files", {})
    return files


def totals_of(outcome: Outcome) -> dict[str, Any]:
    """The report's totals, without the display-only keys."""
    totals = dict(outcome.report.get("totals", {}))
    totals.pop("percent_covered_display", None)
    return totals


LISTS = (
    "executed_lines",
    "missing_lines",
    "excluded_lines",
    "executed_branches",
    "missing_branches",
)


def compare_file(name: str, mine: dict[str, Any], yours: dict[str, Any]) -> Iterator[str]:
    """The differences in one file: its line and arc lists, its summary, and its regions."""
    for key in LISTS:
        a = {tuple(x) if isinstance(x, list) else x for x in mine.get(key, [])}
        b = {tuple(x) if isinstance(x, list) else x for x in yours.get(key, [])}
        if a != b:
            yield (
                f"{name}: {key}: tally only {sorted(a - b)[:8]}, "
                f"coverage.py only {sorted(b - a)[:8]}"
            )
    if mine.get("summary") != yours.get("summary") and not any(
        set(map(str, mine.get(k, []))) != set(map(str, yours.get(k, []))) for k in LISTS
    ):
        yield f"{name}: summary: tally {mine.get('summary')}, coverage.py {yours.get('summary')}"
    for kind in ("functions", "classes"):
        a_regions = mine.get(kind, {})
        b_regions = yours.get(kind, {})
        assert isinstance(a_regions, dict) and isinstance(b_regions, dict)
        if set(a_regions) != set(b_regions):
            yield (
                f"{name}: {kind}: tally only {sorted(set(a_regions) - set(b_regions))}, "
                f"coverage.py only {sorted(set(b_regions) - set(a_regions))}"
            )
        for region in sorted(set(a_regions) & set(b_regions)):
            for key in ("executed_lines", "missing_lines", "excluded_lines"):
                if sorted(a_regions[region].get(key, [])) != sorted(b_regions[region].get(key, [])):
                    yield f"{name}: {kind}: {region!r} {key} differ"


def known_reason(row: Row, difference: str) -> str | None:
    """The documented reason for a difference, when KNOWN lists it."""
    name, _, what = difference.partition(": ")
    for (project, variant, engine, py, file, start), reason in KNOWN.items():
        if (
            project == row.project.name
            and variant in ("*", row.variant)
            and engine in ("*", row.engine)
            and py in ("*", python_tag())
            and file in ("*", name)
            and what.startswith(start)
        ):
            return reason
    return None


def check(project: Project, work: Path, variants: list[str], engine_names: list[str]) -> list[Row]:
    """Run one project under coverage.py and tally for each variant and engine; compare."""
    tree, python = prepare(project, work)
    rows = []
    for variant in variants:
        theirs = measure(project, tree, python, variant, "coverage")
        totals = totals_of(theirs)
        for engine in engine_names:
            ours = measure(project, tree, python, variant, f"tally:{engine}")
            row = Row(
                project,
                variant,
                engine,
                len(files_of(theirs)),
                int(totals.get("num_statements", 0)),
                (percent(ours), percent(theirs)),
                theirs.outcome,
            )
            for difference in compare(ours, theirs):
                reason = known_reason(row, difference)
                if difference.startswith("totals:") and not row.differences:
                    reason = "follows from the known differences above"
                (row.known if reason else row.differences).append(difference)
            rows.append(row)
            print(table_row(row), flush=True)
    return rows


def percent(outcome: Outcome) -> str:
    """The report's total percentage, to two places."""
    totals = outcome.report.get("totals", {})
    assert isinstance(totals, dict)
    return f"{totals.get('percent_covered', 0.0):.2f}"


def table_row(row: Row) -> str:
    """One Markdown table row: project, variant, engine, sizes, totals, differences."""
    return (
        f"| {row.project.name} {row.project.version} | {row.variant} | {row.engine} "
        f"| {row.files} | {row.statements} | {row.percent[0]}% | {row.percent[1]}% "
        f"| {row.outcome} | {len(row.differences)} | {len(row.known)} |"
    )


HEADER = (
    "| project | variant | engine | files | statements | tally | coverage.py "
    "| pytest | differences | known |\n|---|---|---|---|---|---|---|---|---|---|"
)


def main(argv: list[str] | None = None) -> int:
    """Check the chosen projects; 0 when every difference is known, 1 otherwise."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--projects", help="comma-separated names (default: all)")
    parser.add_argument("--fast", action="store_true", help="only the projects not marked slow")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--engines", default=",".join(engines()))
    parser.add_argument("--work", type=Path, default=Path(sys.prefix) / "tally-realsuites")
    args = parser.parse_args(argv)
    chosen = [p for p in PROJECTS if not (args.fast and p.slow)]
    if args.projects:
        names = args.projects.split(",")
        unknown = set(names) - {p.name for p in PROJECTS}
        if unknown:
            parser.error(f"unknown project(s): {', '.join(sorted(unknown))}")
        chosen = [p for p in chosen if p.name in names]
    print(f"CPython {python_tag()}\n{HEADER}", flush=True)
    rows = []
    for project in chosen:
        rows += check(
            project, args.work.resolve(), args.variants.split(","), args.engines.split(",")
        )
    failed = False
    for row in rows:
        for difference in row.differences:
            failed = True
            print(f"DIFF {row.project.name} {row.variant} {row.engine}: {difference}")
        for difference in row.known:
            print(f"known {row.project.name} {row.variant} {row.engine}: {difference}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
