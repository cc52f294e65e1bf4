"""The documented CI gate (docs/ci.md), run against a real git repository with two commits:
sharded pytest runs combined, a baseline, thresholds, regressions and diff coverage, each
with the exit status and message the docs promise."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from pathlib import Path

import pytest
from support import pytest_run, run_tally, tally_env, write
from test_formats import consumer, needs_tools

DOCS = (Path(__file__).parent.parent / "docs" / "ci.md").read_text()

CALC = """\
def add(a, b):
    return a + b


def sub(a, b):
    return a - b
"""

DIV = """\


def div(a, b):
    if b == 0:
        raise ZeroDivisionError("b is zero")
    return a / b
"""


def git(root: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=root, capture_output=True, text=True, check=True, timeout=60
    )
    return done.stdout


def tally(root: Path, command: str, status: int) -> str:
    """Run a documented command (the text as docs/ci.md has it); check its exit status."""
    assert command in DOCS, f"{command!r} is not in docs/ci.md"
    result = run_tally(*shlex.split(command)[1:], cwd=root)
    assert result.returncode == status, (command, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    return result.stdout + result.stderr


def shards(root: Path) -> None:
    """The test job: two shards, each its own data file, as the workflow runs them."""
    for shard in ("unit", "integration"):
        result = pytest_run(
            root,
            "-q",
            "--tally=pkg",
            "--tally-report=",
            f"tests/{shard}",
            env=tally_env(COVERAGE_FILE=f".coverage.{shard}"),
        )
        assert result.returncode == 0, result.stdout + result.stderr


def new_repo(root: Path) -> None:
    """An empty git repository at `root` (made here), on `main`, with an author set."""
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.email", "ci@example.com")
    git(root, "config", "user.name", "CI")


def put(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write(path, text)


def make_repo(tmp_path: Path) -> Path:
    origin = tmp_path / "origin.git"
    root = tmp_path / "proj"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], check=True)
    new_repo(root)
    put(root / "pkg" / "__init__.py", "")
    put(root / "pkg" / "calc.py", CALC)
    put(
        root / "tests" / "unit" / "test_add.py",
        "from pkg.calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n",
    )
    put(
        root / "tests" / "integration" / "test_sub.py",
        "from pkg.calc import sub\n\n\ndef test_sub():\n    assert sub(3, 2) == 1\n",
    )
    put(root / ".coveragerc", "[tally]\nmilestones = 40, 60, 80, 95\n")
    put(root / ".gitignore", ".coverage*\n.tally/\nhtmlcov/\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "calc")
    git(root, "remote", "add", "origin", str(origin))
    git(root, "push", "-q", "origin", "main")
    git(root, "fetch", "-q", "origin")
    return root


def test_the_documented_gate_on_two_commits(tmp_path: Path) -> None:
    root = make_repo(tmp_path)

    # main: everything covered; the baseline is recorded.
    shards(root)
    assert "Combined data file" in tally(root, "tally combine", 0)
    assert (root / ".coverage").exists()
    assert "100%" in tally(root, "tally report", 0)
    out = tally(root, "tally baseline set", 0)
    assert out.startswith("Baseline set: run 1, coverage 100.0%")
    assert "every gate passed" in tally(root, "tally check --fail-under 80 --no-regression", 0)

    # A feature branch adds a function whose error path no test takes.
    git(root, "checkout", "-q", "-b", "feature")
    with (root / "pkg" / "calc.py").open("a") as handle:
        handle.write(DIV)
    put(
        root / "tests" / "unit" / "test_div.py",
        "from pkg.calc import div\n\n\ndef test_div():\n    assert div(4, 2) == 2\n",
    )
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "div")
    for stale in root.glob(".coverage*"):
        stale.unlink()
    shards(root)
    tally(root, "tally combine", 0)
    tally(root, "tally report", 0)

    # 7 of 8 statements ran: over 80%, but down from the baseline.
    out = tally(root, "tally check --fail-under 80 --no-regression", 1)
    assert "FAIL coverage fell from 100.0% to 87.5% (-12.5 points)" in out

    # The changed statements: def div, if, raise, return; the raise (line 11) never ran.
    out = tally(root, "tally diff --base origin/main --fail-under 90", 2)
    assert "pkg/calc.py" in out
    assert "Total: 3 of 4 changed statements ran (75.0%)." in out
    assert "diff coverage of 75.0 is less than fail-under=90.0" in out
    report = json.loads(
        run_tally("diff", "--base", "origin/main", "--format", "json", cwd=root).stdout
    )
    assert report["files"] == [
        {"file": "pkg/calc.py", "statements": [9, 10, 11, 12], "missing": [11]}
    ]

    tally(root, "tally html", 0)
    assert (root / "htmlcov" / "index.html").exists()
    markdown = tally(root, "tally report --format=markdown", 0)
    assert "pkg/calc.py" in markdown and "| **TOTAL**" in markdown
    assert "| pkg/calc.py | 4 | 1 |" in tally(
        root, "tally diff --base origin/main --format markdown", 0
    )

    # The baseline's view: a regression, and the newly uncovered line named.
    check = run_tally("baseline", "check", cwd=root)
    assert check.returncode == 1
    assert "Regression: coverage fell from 100.0% to 87.5%" in check.stdout
    assert "pkg/calc.py" in check.stdout and "11" in check.stdout

    # Recorded runs compare with each other; status dates the milestones reached.
    assert run_tally("history", "record", cwd=root).returncode == 0
    latest = run_tally("compare", "--latest", cwd=root)
    assert latest.returncode == 1, latest.stdout + latest.stderr
    assert "run 1 → run 2" in latest.stdout
    status = run_tally("baseline", "status", cwd=root)
    assert status.returncode == 0
    assert "Baseline set" in status.stdout
    assert "95.0%      reached" in status.stdout  # run 1 reached it; run 2 didn't undo that
    history = run_tally("history", cwd=root)
    assert history.returncode == 0
    assert "feature" in history.stdout and "↓ 12.5 points" in history.stdout

    # With runs recorded, the HTML index charts them.
    tally(root, "tally html", 0)
    index = (root / "htmlcov" / "index.html").read_text()
    assert '<figure class="trend">' in index
    assert index.count("<circle") == 2
    assert "Coverage over the last 2 recorded runs" in index


A_OLD = """\
def grade(n):
    if n > 90:
        return "A"
    return "B"
"""

A_NEW = """\
def grade(n):
    if n > 90:
        return "A"
    if n > 50:
        return "B"
    return "C"


def unused(n):
    total = 0
    for i in range(n):
        total += i
    return total
"""

B_OLD = """\
def double(x):
    return 2 * x


def triple(x):
    return 3 * x
"""

MAIN = """\
from pkg.a import grade
from pkg.c import double
from pkg.d import hello

grade(95)
grade(70)
double(2)
hello()
"""


@needs_tools
def test_diff_coverage_agrees_with_diff_cover(tmp_path: Path) -> None:
    """The same changed lines and the same uncovered ones as diff-cover finds from the
    XML report: a modified file, a renamed and modified one, a new one, and a change not
    yet committed."""
    root = tmp_path / "proj"
    new_repo(root)
    put(root / "pkg" / "__init__.py", "")
    put(root / "pkg" / "a.py", A_OLD)
    put(root / "pkg" / "b.py", B_OLD)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "one")
    git(root, "checkout", "-q", "-b", "feature")
    put(root / "pkg" / "a.py", A_NEW)
    git(root, "mv", "pkg/b.py", "pkg/c.py")
    put(
        root / "pkg" / "c.py",
        B_OLD.replace("3 * x", "x + x + x") + "\n\ndef half(x):\n    return x / 2\n",
    )
    put(root / "pkg" / "d.py", "def hello():\n    return 'hi'\n\n\ndef bye():\n    return 'bye'\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "two")
    with (root / "pkg" / "d.py").open("a") as handle:  # not committed
        handle.write("\n\ndef later():\n    return 'later'\n")
    put(root / "main.py", MAIN)
    assert run_tally("run", "--source=pkg", "main.py", cwd=root).returncode == 0
    assert run_tally("xml", cwd=root).returncode == 0

    theirs_run = consumer(
        "diff-cover", "coverage.xml", "--compare-branch=main", "--json-report=dc.json", cwd=root
    )
    assert theirs_run.returncode == 0, theirs_run.stdout + theirs_run.stderr
    theirs = json.loads((root / "dc.json").read_text())
    mine_run = run_tally("diff", "--base", "main", "--format", "json", cwd=root)
    assert mine_run.returncode == 0, mine_run.stderr
    mine = json.loads(mine_run.stdout)

    their_files = {
        name: (sorted(stats["covered_lines"] + stats["violation_lines"]), stats["violation_lines"])
        for name, stats in theirs["src_stats"].items()
        if stats["covered_lines"] or stats["violation_lines"]
    }
    my_files = {f["file"]: (f["statements"], f["missing"]) for f in mine["files"]}
    assert my_files == their_files
    assert set(my_files) == {"pkg/a.py", "pkg/c.py", "pkg/d.py"}
    assert mine["percent_covered"] == pytest.approx(theirs["total_percent_covered"], abs=0.5)


# -- the total, read by the regexes CI services use ----------------------------------------

PROGRAM = """\
def grade(n):
    if n > 90:
        return "A"
    if n > 50:
        return "B"
    return "C"


for n in (95, 60):
    grade(n)
"""

TEST_FILE = """\
from program import grade


def test_grades():
    assert grade(95) == "A"
    assert grade(60) == "B"
"""


def documented_regexes() -> dict[str, str]:
    """The regexes in docs/ci.md's "Reading the total" table, by where they are used,
    as Python reads them (GitLab's slashes dropped, POSIX classes as Python's)."""
    section = DOCS.split("## Reading the total from the table", 1)[1].split("\n## ", 1)[0]
    found = {}
    for row in section.splitlines():
        cells = [c.strip() for c in row.strip().strip("|").split(" | ")] if row else []
        if len(cells) == 2 and cells[1].startswith("`") and cells[0] != "where":
            regex = cells[1].strip("`").replace("\\|", "|")
            if regex.startswith("/"):
                regex = regex[1:-1]
            found[cells[0]] = regex.replace("[[:space:]]", r"\s")
    return found


def test_the_docs_gitlab_job_uses_the_regex_the_table_gives() -> None:
    job = next(line for line in DOCS.splitlines() if line.strip().startswith("coverage: '/"))
    regex = documented_regexes()["GitLab, the `coverage:` of the job above"]
    assert job.strip() == "coverage: '/" + regex + "/'"


@pytest.fixture(scope="module")
def totals(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, str, str]]:
    """(mode, the output holding the table, the total it must read as) for `tally report`
    and `pytest --tally`, in lines, branch and count modes, at precision 0 and 2."""
    found = []
    for flags in ([], ["--branch"], ["--count"]):
        root = tmp_path_factory.mktemp("report")
        write(root / "program.py", PROGRAM)
        assert run_tally("run", "--rcfile=", *flags, "program.py", cwd=root).returncode == 0
        for precision in ("0", "2"):
            shown = run_tally("report", "--rcfile=", f"--precision={precision}", cwd=root)
            total = run_tally(
                "report", "--rcfile=", f"--precision={precision}", "--format=total", cwd=root
            )
            found.append(
                (f"tally report {flags} precision {precision}", shown.stdout, total.stdout)
            )
    for flags, precision in ((["--tally-branch"], "0"), (["--tally-count"], "2"), ([], "2")):
        root = tmp_path_factory.mktemp("pytest")
        write(root / "program.py", PROGRAM)
        write(root / "test_program.py", TEST_FILE)
        write(root / ".coveragerc", f"[report]\nprecision = {precision}\n")
        ran = pytest_run(
            root, "--tally=.", "--tally-report=term-missing", *flags, "-p", "no:randomly"
        )
        assert ran.returncode == 0, ran.stdout + ran.stderr
        total = run_tally("report", "--format=total", cwd=root)
        found.append((f"pytest --tally {flags} precision {precision}", ran.stdout, total.stdout))
    return found


@pytest.mark.parametrize("where", list(documented_regexes()))
def test_each_documented_regex_reads_the_total_in_every_mode(
    where: str, totals: list[tuple[str, str, str]]
) -> None:
    regex = re.compile(documented_regexes()[where])
    for mode, output, total in totals:
        read = [m.group(1) for line in output.splitlines() if (m := regex.search(line))]
        assert read == [total.strip() + ("%" if read and read[0].endswith("%") else "")], mode


def test_the_github_step_reads_the_total_with_sed(totals: list[tuple[str, str, str]]) -> None:
    step = next(line for line in DOCS.splitlines() if "sed -nE" in line)
    command = shlex.split(step.split("=", 1)[1].strip().removeprefix("$(").removesuffix(")"))
    for mode, output, total in totals:
        done = subprocess.run(
            command[:-1], input=output, capture_output=True, text=True, check=True
        )
        assert done.stdout.strip() == total.strip(), mode
