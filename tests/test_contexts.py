"""Per-test contexts: which test phase ran each line, stored as coverage.py stores contexts
(coverage.py reads them back line for line), kept by `tally combine` and pytest-xdist."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import coverage
import pytest
from support import PY, pytest_run, run_tally, tally_env, write

from tally.data.sqlite import CoverageData, write_data
from tally.env import HAS_MONITORING
from tally.measurement import Measurement

SHAPES = """\
    def area(kind, size):
        if kind == "square":
            return size * size
        if kind == "triangle":
            return size * size / 2
        raise ValueError(kind)
    """

TESTS = """\
    import pytest

    from pkg.shapes import area


    @pytest.fixture
    def big():
        return area("square", 10)


    def test_square(big):
        assert area("square", 2) == 4


    def test_triangle():
        assert area("triangle", 2) == 2
    """

SQUARE = "tests/test_shapes.py::test_square"
TRIANGLE = "tests/test_shapes.py::test_triangle"
# Which test phase ran each line of pkg/shapes.py; the `def` ran at import, outside tests.
EXPECTED = {
    1: [""],
    2: [f"{SQUARE}|call", f"{SQUARE}|setup", f"{TRIANGLE}|call"],
    3: [f"{SQUARE}|call", f"{SQUARE}|setup"],
    4: [f"{TRIANGLE}|call"],
    5: [f"{TRIANGLE}|call"],
}

ENGINES = [("count", []), ("count", ["--tally-branch"]), ("count", ["--tally-count"])]
if HAS_MONITORING:
    ENGINES += [("monitor", []), ("monitor", ["--tally-branch"])]


def make_project(root: Path, engine: str) -> Path:
    (root / "pkg").mkdir(parents=True)
    (root / "tests").mkdir()
    write(root / "pkg" / "__init__.py", "")
    write(root / "pkg" / "shapes.py", SHAPES)
    write(root / "tests" / "test_shapes.py", TESTS)
    write(root / ".coveragerc", f"[tally]\nengine = {engine}\n")
    return root


def run_pytest(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    result = pytest_run(root, "--tally=pkg", *args)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def coverage_py_contexts(data_file: Path, path: Path) -> dict[int, list[str]]:
    """coverage.py's reading of the contexts in our data file."""
    data = coverage.CoverageData(str(data_file))
    data.read()
    return {line: sorted(found) for line, found in data.contexts_by_lineno(str(path)).items()}


@pytest.mark.parametrize(("engine", "flags"), ENGINES, ids=str)
def test_each_line_is_recorded_with_the_test_phases_that_ran_it(
    tmp_path: Path, engine: str, flags: list[str]
) -> None:
    root = make_project(tmp_path, engine)
    run_pytest(root, "--tally-context=test", *flags)

    shapes = root / "pkg" / "shapes.py"
    data = CoverageData(str(root / ".coverage"))
    assert data.contexts_by_line(str(shapes)) == EXPECTED
    assert coverage_py_contexts(root / ".coverage", shapes) == EXPECTED
    # The totals are those of a run without contexts.
    assert data.lines(str(shapes)) == [1, 2, 3, 4, 5]


DRIVER = """\
import sys
import tally

cov = tally.Coverage(source=["work"], engine=sys.argv[1], branch=sys.argv[2] == "branch")
cov.start()
import work  # the `def` lines run in ''

work.pick(1)  # '': line 2 and 3
cov.switch_context("a")
work.pick(1)  # a: 2 and 3 again
cov.switch_context("b")
work.pick(-1)  # b: 2 and 5, not 3
cov.switch_context("c")
work.pick(1)  # c: 3 again, though b didn't run it
work.pick(-1)
cov.switch_context("d")  # nothing runs in d
cov.switch_context("e")
work.other()
cov.stop()
cov.save()
"""

WORK = """\
def pick(n):
    if n > 0:
        return "positive"
    else:
        return "other"

def other():
    return pick(0)
"""


@pytest.mark.parametrize(("engine", "flags"), ENGINES, ids=str)
def test_a_line_is_recorded_again_in_every_context_that_runs_it(
    tmp_path: Path, engine: str, flags: list[str]
) -> None:
    """Whatever ran before: in a context where the line ran before and not since, in the
    context after one where it didn't run, after a context where nothing ran."""
    write(tmp_path / "work.py", WORK)
    write(tmp_path / "driver.py", DRIVER)
    branch = "branch" if "--tally-branch" in flags else "lines"
    result = subprocess.run(
        [PY, "driver.py", engine, branch],
        cwd=tmp_path,
        env=tally_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    data = CoverageData(str(tmp_path / ".coverage"))
    assert data.contexts_by_line(str(tmp_path / "work.py")) == {
        1: [""],
        2: ["", "a", "b", "c", "e"],
        3: ["", "a", "c"],
        5: ["b", "c", "e"],
        7: [""],
        8: ["e"],
    }


def test_xdist_workers_contexts_are_combined(tmp_path: Path) -> None:
    root = make_project(tmp_path, "count")
    run_pytest(root, "--tally-context=test", "-n", "2")

    shapes = root / "pkg" / "shapes.py"
    assert CoverageData(str(root / ".coverage")).contexts_by_line(str(shapes)) == EXPECTED


def test_without_contexts_everything_is_in_the_default_context(tmp_path: Path) -> None:
    root = make_project(tmp_path, "count")
    run_pytest(root)

    data = CoverageData(str(root / ".coverage"))
    assert data.measured_contexts() == [""]
    assert data.contexts_by_line(str(root / "pkg" / "shapes.py")) == {
        key: [""] for key in [1, 2, 3, 4, 5]
    }


@pytest.mark.parametrize("branch", [False, True])
def test_combine_keeps_each_files_contexts(tmp_path: Path, branch: bool) -> None:
    arcs_a = {"a.py": {(1, 2): 0}} if branch else None
    arcs_b = {"a.py": {(1, 3): 0}} if branch else None
    with_contexts = Measurement(
        {"a.py": {1, 2, 3}},
        None,
        None,
        {"a.py": {(1, 2): 0, (1, 3): 0}} if branch else None,
        {
            "t1": Measurement({"a.py": {1, 2}}, None, None, arcs_a),
            "t2": Measurement({"a.py": {1, 3}}, None, None, arcs_b),
        },
    )
    plain = Measurement({"a.py": {1, 4}}, None, None, {"a.py": {(1, 4): 0}} if branch else None)
    write_data(str(tmp_path / ".coverage.plain"), plain)
    write_data(str(tmp_path / ".coverage.tests"), with_contexts)

    assert run_tally("combine", "-q", cwd=tmp_path).returncode == 0

    data = CoverageData(str(tmp_path / ".coverage"))
    assert data.contexts_by_line("a.py") == {1: ["", "t1", "t2"], 2: ["t1"], 3: ["t2"], 4: [""]}
    assert coverage_py_contexts(tmp_path / ".coverage", Path("a.py")) == data.contexts_by_line(
        "a.py"
    )


def test_a_static_context_labels_the_whole_run(tmp_path: Path) -> None:
    write(tmp_path / "prog.py", "x = 1\n")
    ran = run_tally("run", "--context=nightly", "prog.py", cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr

    assert coverage_py_contexts(tmp_path / ".coverage", tmp_path / "prog.py") == {1: ["nightly"]}


def test_the_json_report_shows_contexts_as_coverage_py_does(tmp_path: Path) -> None:
    root = make_project(tmp_path, "count")
    run_pytest(root, "--tally-context=test")

    ours = run_tally("json", "--show-contexts", "-o", "ours.json", cwd=root)
    assert ours.returncode == 0, ours.stderr
    subprocess.run(
        [PY, "-m", "coverage", "json", "--show-contexts", "-o", "theirs.json", "-q"],
        cwd=root,
        env=tally_env(),
        check=True,
    )
    mine = json.loads((root / "ours.json").read_text())
    theirs = json.loads((root / "theirs.json").read_text())
    assert mine["meta"]["show_contexts"] is theirs["meta"]["show_contexts"] is True
    entry, expected = mine["files"]["pkg/shapes.py"], theirs["files"]["pkg/shapes.py"]
    assert entry["contexts"] == {
        line: sorted(found) for line, found in expected["contexts"].items()
    }
    # A function's entry has its own lines' contexts (coverage.py repeats the file's).
    assert set(entry["functions"]["area"]["contexts"]) == {"2", "3", "4", "5"}


# Test functions of every kind coverage.py names: a plain function, a method, a static
# method, a unittest method, one that raises through pytest.raises, and code run at import
# and from a helper outside any test (the empty context).
MOD = """\
    def add(a, b):
        return a + b


    def sub(a, b):
        if a > b:
            return a - b
        return b - a


    class Thing:
        def run(self):
            return add(1, 2)
    """

TEST_FUNCTIONS = """\
    import unittest

    import pytest

    from pkg.mod import Thing, add, sub


    def test_add():
        assert add(1, 2) == 3


    def test_sub_raises():
        sub(3, 1)
        with pytest.raises(TypeError):
            sub(None, 1)


    class TestThing:
        def test_run(self):
            assert Thing().run() == 3

        @staticmethod
        def test_static():
            assert sub(1, 3) == 2


    class Case(unittest.TestCase):
        def test_case(self):
            self.assertEqual(add(2, 2), 4)


    def helper():
        return sub(5, 5)


    helper()
    """


def contexts_as_coverage_py_reads_them(root: Path, tool: list[str]) -> dict[int, list[str]]:
    """Run the suite under `tool` in `root`, then read pkg/mod.py's contexts with coverage.py."""
    for old in [*root.glob(".coverage"), *root.glob(".coverage.*")]:
        old.unlink()
    done = subprocess.run(
        [*tool, "-p", "no:cacheprovider", "-q"],
        cwd=root,
        env=tally_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return coverage_py_contexts(root / ".coverage", root / "pkg" / "mod.py")


@pytest.mark.parametrize("engine", ["count", "monitor"] if HAS_MONITORING else ["count"])
def test_dynamic_context_test_function_names_contexts_as_coverage_py_does(
    tmp_path: Path, engine: str
) -> None:
    write(tmp_path / "pkg" / "__init__.py", "")
    write(tmp_path / "pkg" / "mod.py", MOD)
    write(tmp_path / "test_things.py", TEST_FUNCTIONS)
    write(
        tmp_path / ".coveragerc",
        f"[run]\nsource = pkg\ndynamic_context = test_function\n[tally]\nengine = {engine}\n",
    )
    expected = contexts_as_coverage_py_reads_them(
        tmp_path, [PY, "-m", "coverage", "run", "-m", "pytest"]
    )
    assert expected[2] == [
        "test_things.Case.test_case",
        "test_things.TestThing.test_run",
        "test_things.test_add",
    ]
    assert expected[6] == ["", "test_things.TestThing.test_static", "test_things.test_sub_raises"]

    assert (
        contexts_as_coverage_py_reads_them(tmp_path, [PY, "-m", "tally", "run", "-m", "pytest"])
        == expected
    )
    assert contexts_as_coverage_py_reads_them(tmp_path, [PY, "-m", "pytest", "--tally"]) == expected


def test_an_unknown_dynamic_context_is_a_config_error(tmp_path: Path) -> None:
    write(tmp_path / "prog.py", "print('hi')\n")
    write(tmp_path / ".coveragerc", "[run]\ndynamic_context = test_method\n")
    result = run_tally("run", "prog.py", cwd=tmp_path)
    assert result.returncode != 0
    assert "dynamic_context = test_method: the only dynamic context is test_function" in (
        result.stderr
    )
