"""A pytest-cov user switches by changing one word: three public projects' pytest-cov
command lines and coverage.py configs, kept here as their repositories have them, run
under pytest-cov and then with `cov` changed to `tally`; the exit status, the report
files and the TOTAL line must be the same.

The projects' own code isn't copied: each layout gets small modules and tests of its
own, shaped so that its threshold is missed or met as the case needs.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest
from support import pytest_run, tally_env, write


@dataclass(frozen=True)
class Setup:
    source: str  # where the command line and the config come from
    command: str  # the pytest arguments, as the project runs them
    files: dict[str, str]  # config files, as the project has them, and the code to test
    reports: tuple[str, ...]  # the report files and directories the command writes


MODULE = """\
def grade(n):
    if n > 90:
        return "A"
    if n > 50:
        return "B"
    return "C"


def unused():
    return None
"""

TEST = """\
from {package}.grades import grade


def test_grades():
    assert grade(95) == "A"
    assert grade(60) == "B"
"""

SETUPS = {
    # run_tests.sh and test/.coveragerc (the junit options kept; pytest writes that file).
    "pytest-coverage-example": Setup(
        "github.com/JesusdelCas99/pytest-coverage-example",
        "test -vv --cov=. --disable-warnings -o junit_family=xunit1 "
        "--junitxml=test/junit_xml/xunit-result-00.xml --cov-report=term "
        "--cov-report=xml:test/cov_xml/coverage.xml --cov-report=html:test/cov_html "
        "--cov-config=test/.coveragerc --ignore=test/test_empty.py --cov-fail-under=95",
        {
            "test/.coveragerc": "[run]\nbranch = True\n[report]\nomit =\n    test/*\n"
            "    ./*__init__.py\n    src/dummy.py\n",
            "src/__init__.py": "",
            "src/grades.py": MODULE,
            "src/dummy.py": "X = 1\n",
            "test/test_grades.py": TEST.format(package="src"),
            "test/test_empty.py": "",
        },
        ("test/cov_xml/coverage.xml", "test/cov_html/index.html"),
    ),
    # tests/check_coverage.sh and tests/.coveragerc, run from tests/ as the script is.
    "Salary_Pred_Chatbot": Setup(
        "github.com/niconicoo0w0/Salary_Pred_Chatbot",
        "-q --maxfail=1 --disable-warnings --cov --cov-config=.coveragerc "
        "--cov-report=term-missing --cov-report=html --cov-fail-under=90",
        {
            ".coveragerc": "[run]\nsource =\n    app\n    utils\nomit =\n"
            "    */app/chatbot.py\n    */app/predict_api.py\n\n[report]\nomit =\n"
            "    */app/chatbot.py\n    */app/predict_api.py\n",
            "app/__init__.py": "",
            "app/grades.py": MODULE,
            "app/chatbot.py": "def chat():\n    return 'hi'\n",
            "utils/__init__.py": "",
            "utils/helpers.py": "def double(x):\n    return 2 * x\n",
            "test_grades.py": TEST.format(package="app"),
        },
        ("htmlcov/index.html",),
    ),
    # .devops/scripts/run-test.sh (its pytest-html options left out: another plugin).
    "azure-poetry-plugin": Setup(
        "github.com/dgot/azure-poetry-plugin",
        "test --junit-xml=test-report.xml --cov src --cov-report html "
        "--cov-report xml:coverage.xml",
        {
            "src/__init__.py": "",
            "src/grades.py": MODULE,
            "test/test_grades.py": TEST.format(package="src"),
        },
        ("htmlcov/index.html", "coverage.xml", "test-report.xml"),
    ),
}


def switched(argument: str) -> str:
    """One pytest-cov argument as a tally user writes it: `cov` becomes `tally`."""
    return re.sub(r"^--(no-)?cov", lambda m: f"--{m.group(1) or ''}tally", argument)


def run_as(root: Path, arguments: list[str]) -> tuple[int, str | None, set[str]]:
    """The exit status, the TOTAL line and the report files of one run in `root`."""
    env = tally_env(PYTHONPATH=str(root.parent))
    ran = pytest_run(root, *arguments, env=env)
    total = next((line for line in ran.stdout.splitlines() if line.startswith("TOTAL")), None)
    return ran.returncode, total, {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize("name", SETUPS)
def test_a_pytest_cov_setup_runs_unchanged_but_for_the_word(
    tmp_path_factory: pytest.TempPathFactory, name: str
) -> None:
    setup = SETUPS[name]
    results = []
    for tool in ("cov", "tally"):
        project = tmp_path_factory.mktemp(f"{name}-{tool}") / "project"
        for path, text in setup.files.items():
            write(project / path, text)
        arguments = shlex.split(setup.command)
        if tool == "tally":
            arguments = [switched(a) for a in arguments]
        status, total, files = run_as(project, arguments)
        for report in setup.reports:
            assert report in files, (tool, report)
        # Every file but the HTML reports' pages (each tool names its own).
        html = tuple(r.rpartition("/")[0] + "/" for r in setup.reports if r.endswith(".html"))
        written = {f for f in files if not f.startswith(html) or f.endswith("index.html")}
        results.append((status, total, written))
    (theirs, ours) = results
    assert ours[0] == theirs[0]  # the exit status
    assert ours[1] == theirs[1]  # the TOTAL line (None where no table is asked for)
    assert ours[2] == theirs[2]  # the files the run leaves


def test_the_word_is_all_that_changes() -> None:
    assert switched("--cov-report=html:x") == "--tally-report=html:x"
    assert switched("--no-cov-on-fail") == "--no-tally-on-fail"
    assert switched("--cov") == "--tally" and switched("-vv") == "-vv"
