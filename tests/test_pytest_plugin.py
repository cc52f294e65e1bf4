"""`pytest --tally`: the plugin measures real pytest runs, plain and under pytest-xdist."""

from __future__ import annotations

import re
import signal
import subprocess
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from support import PY, pytest_run, run_coverage, run_tally, tally_env, write

from tally.data.sqlite import CoverageData

xdist = pytest.importorskip("xdist", reason="pytest-xdist is a test dependency")


def make_project(root: Path) -> Path:
    """A package, a conftest that imports it at module level, and tests of it."""
    (root / "pkg").mkdir()
    (root / "tests").mkdir()
    write(root / "pkg" / "__init__.py", "from pkg.shapes import area\n")
    write(
        root / "pkg" / "shapes.py",
        """\
        SIDES = {"square": 4, "triangle": 3}


        def area(kind, size):
            if kind == "square":
                return size * size
            if kind == "triangle":
                return size * size / 2
            raise ValueError(kind)


        def unused():
            return "never"
        """,
    )
    write(
        root / "conftest.py",
        """\
        import pkg

        SQUARE = pkg.area("square", 1)
        """,
    )
    write(
        root / "tests" / "test_shapes.py",
        """\
        import pytest

        from pkg import area


        @pytest.mark.parametrize("size", range(6))
        def test_square(size):
            assert area("square", size) == size * size


        @pytest.mark.parametrize("size", range(4))
        def test_triangle(size):
            assert area("triangle", size) == size * size / 2
        """,
    )
    return root


def shapes_lines(root: Path, data_file: str = ".coverage") -> list[int] | None:
    return CoverageData(str(root / data_file)).lines(str(root / "pkg" / "shapes.py"))


def coverage_py_lines(root: Path) -> list[int] | None:
    """What coverage.py's own `coverage run -m pytest` executes in pkg/shapes.py."""
    run_coverage(
        "run",
        "--data-file=.cov-oracle",
        "--source=pkg",
        "-m",
        "pytest",
        "-q",
        cwd=root,
        check=False,
    )
    return CoverageData(str(root / ".cov-oracle")).lines(str(root / "pkg" / "shapes.py"))


def test_plugin_measures_from_before_conftest_like_coverage_run(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    result = pytest_run(root, "--tally=pkg", "--tally-report=term-missing", "-q")
    assert result.returncode == 0, result.stdout + result.stderr
    # The report comes after the tests' progress, where pytest-cov's does.
    assert result.stdout.index("[100%]") < result.stdout.index("tally coverage")
    shapes_row = next(r for r in result.stdout.splitlines() if r.startswith("pkg/shapes.py"))
    assert shapes_row.endswith("9, 13")
    assert shapes_lines(root) == coverage_py_lines(root)
    # Module-level lines ran when conftest imported the package, before any test.
    assert 1 in (shapes_lines(root) or [])


@pytest.mark.parametrize("flags", [["--tally-count"], ["--tally-branch", "--tally-count"]])
def test_counts_under_the_plugin_are_the_runs_counts(tmp_path: Path, flags: list[str]) -> None:
    root = make_project(tmp_path)
    result = pytest_run(root, "--tally=pkg", *flags, "-q")
    assert result.returncode == 0, result.stdout + result.stderr
    counts = CoverageData(str(root / ".coverage")).counts(str(root / "pkg" / "shapes.py"))
    # conftest calls area once, the tests ten times; six squares plus one from conftest.
    assert counts[5] == 11 and counts[6] == 7 and counts[7] == 4 and counts[8] == 4


def test_failing_tests_keep_their_data_and_assertion_rewriting(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    write(
        root / "tests" / "test_broken.py",
        """\
        from pkg import area


        def test_wrong():
            assert area("square", 3) == 10
        """,
    )
    result = pytest_run(root, "--tally=pkg", "--tally-count", "-q")
    assert result.returncode == 1
    assert "assert 9 == 10" in result.stdout  # pytest still rewrote the assert
    assert result.stdout.index("FAILURES") < result.stdout.index("tally coverage")
    assert shapes_lines(root) == coverage_py_lines(root)


def test_fail_under_fails_the_run_with_its_reason(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    result = pytest_run(root, "--tally=pkg", "--tally-fail-under=100", "-q")
    assert result.returncode == 1
    tail = result.stdout[result.stdout.index("tally coverage") :]
    # pytest-cov's banner, word for word.
    banner = "FAIL Required test coverage of 100% not reached. Total coverage: 80.00%"
    assert banner in tail.splitlines()
    passing = pytest_run(root, "--tally=pkg", "--tally-fail-under=50", "-q")
    assert passing.returncode == 0, passing.stdout
    assert "Required test coverage of 50% reached. Total coverage: 80.00%" in passing.stdout
    # Without the option, the config's fail_under applies, as in `tally report`.
    write(root / ".coveragerc", "[report]\nfail_under = 95\n")
    from_config = pytest_run(root, "--tally=pkg", "-q")
    assert from_config.returncode == 1
    assert "FAIL Required test coverage of 95.0% not reached" in from_config.stdout


def test_reports_are_written_where_asked(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    result = pytest_run(
        root,
        "--tally=pkg",
        "--tally-report=html:out/html",
        "--tally-report=xml:out/cov.xml",
        "--tally-report=json:out/cov.json",
        "--tally-report=lcov:out/cov.lcov",
        "--tally-report=markdown:out/summary.md",
        "-q",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for name in ("html/index.html", "cov.xml", "cov.json", "cov.lcov", "summary.md"):
        assert (root / "out" / name).stat().st_size > 0, name
    summary = (root / "out" / "summary.md").read_text()
    assert summary.startswith("| Name") and "| pkg/shapes.py " in summary
    for line in (
        "Coverage HTML written to dir out/html",
        "Coverage XML written to file out/cov.xml",
        "Coverage JSON written to file out/cov.json",
        "Coverage LCOV written to file out/cov.lcov",
        "Coverage Markdown information written to file out/summary.md",
    ):  # pytest-cov's words
        assert line in result.stdout.splitlines(), line


def test_a_session_analyses_its_data_once_for_every_report_and_fail_under(
    tmp_path: Path,
) -> None:
    root = make_project(tmp_path)
    # A conftest that counts the analyses made in this pytest process (the plugin's).
    with (root / "conftest.py").open("a") as conftest:
        conftest.write(
            textwrap.dedent(
                """
                import tally.analysis.analyzer as _analyzer

                _analyses = []
                _analyze = _analyzer.analyze_data

                def _counted(*args, **kwargs):
                    _analyses.append(1)
                    return _analyze(*args, **kwargs)

                _analyzer.analyze_data = _counted

                def pytest_unconfigure(config):
                    with open("analyses.txt", "w") as out:
                        out.write(str(len(_analyses)))
                """
            )
        )
    # History recorded, then checked: the second run records again and gates on the first.
    write(root / ".coveragerc", "[tally]\nrecord_history = true\n")
    first = pytest_run(root, "--tally=pkg", "-q")
    assert "tally: recorded run 1" in first.stdout, first.stdout + first.stderr
    result = pytest_run(
        root,
        "--tally=pkg",
        "--tally-report=term-missing",
        "--tally-report=xml:out/cov.xml",
        "--tally-report=json:out/cov.json",
        "--tally-report=markdown",
        "--tally-fail-under=10",
        "--tally-no-regression",
        "-q",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (root / "out" / "cov.xml").exists() and "pkg/shapes.py " in result.stdout
    assert "| pkg/shapes.py " in (root / "coverage.md").read_text()  # pytest-cov's default
    assert "tally: recorded run 2" in result.stdout
    assert (root / "analyses.txt").read_text() == "1"


@pytest.mark.parametrize("engine", ["count", "monitor"])
def test_measured_test_files_keep_pytests_assertion_messages(tmp_path: Path, engine: str) -> None:
    """pytest --tally starts after pytest's assertion rewriter is installed: test files are
    still compiled by pytest (instrumented on the way), not by tally's import hook."""
    write(tmp_path / "test_lists.py", "def test_lists():\n    x = [1, 2]\n    assert x == [1, 3]\n")
    write(tmp_path / ".coveragerc", f"[tally]\nengine = {engine}\n[run]\nbranch = true\n")
    result = pytest_run(tmp_path, "--tally=.", "--tally-report=term-missing")
    assert result.returncode == 1
    assert "At index 1 diff: 2 != 3" in result.stdout, result.stdout
    assert re.search(r"^test_lists\.py\s+3\s+0\s", result.stdout, re.M), result.stdout


def test_no_tally_tally_enabled_0_and_no_option_measure_nothing(tmp_path: Path) -> None:
    """--no-tally, TALLY_ENABLED=0 (as for tally run) and [tally] enabled = false turn
    the plugin off whatever the other options say; no option, nothing to turn off."""
    root = make_project(tmp_path)
    for args, env in (
        (["--no-tally"], tally_env()),
        ([], tally_env(TALLY_ENABLED="0")),
        (["--tally-config=off.ini"], tally_env()),
    ):
        write(root / "off.ini", "[tally]\nenabled = false\n")
        ran = pytest_run(root, "--tally=pkg", "--tally-fail-under=100", *args, "-q", env=env)
        assert ran.returncode == 0, (args, ran.stdout + ran.stderr)
        assert "tally" not in ran.stdout, args
        assert not (root / ".coverage").exists(), args
    assert pytest_run(root, "-q").returncode == 0
    assert not (root / ".coverage").exists()


def test_importlib_import_mode_is_measured(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    result = pytest_run(root, "--tally=pkg", "--import-mode=importlib", "-q")
    assert result.returncode == 0, result.stdout + result.stderr
    assert shapes_lines(root) == coverage_py_lines(root)


@pytest.mark.parametrize("dist", [["-n", "2"], ["-n", "2", "--dist", "loadgroup"]])
def test_xdist_workers_measure_and_the_controller_combines(tmp_path: Path, dist: list[str]) -> None:
    root = make_project(tmp_path)
    result = pytest_run(root, "--tally=pkg", "--tally-count", *dist, "-q")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "tally coverage" in result.stdout
    assert shapes_lines(root) == coverage_py_lines(root)
    counts = CoverageData(str(root / ".coverage")).counts(str(root / "pkg" / "shapes.py"))
    # Each test ran once, in one worker or the other; conftest ran in each process.
    assert counts[7] == 4 and counts[8] == 4
    assert not list(root.glob(".coverage.*"))  # the workers' files were combined away


def test_remote_style_workers_send_their_data_over_the_channel(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    result = pytest_run(
        root,
        "--tally=pkg",
        "--tx",
        f"popen//python={PY}",
        "--tx",
        f"popen//python={PY}",
        "--dist",
        "load",
        "-q",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert shapes_lines(root) == coverage_py_lines(root)


def test_a_worker_that_dies_is_named_and_the_rest_is_kept(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    write(
        root / "tests" / "test_zcrash.py",
        """\
        import os

        from pkg import area


        def test_dies():
            area("triangle", 1)
            os._exit(3)
        """,
    )
    result = pytest_run(root, "--tally=pkg", "-n", "2", "--max-worker-restart=0", "-q")
    assert result.returncode == 1
    assert "tally: warning: no data came back from worker(s) gw" in result.stdout
    assert "the run's coverage is incomplete (worker-lost)" in result.stdout
    # The controller's own data (conftest's import of the package) is still saved.
    assert 1 in (shapes_lines(root) or [])


def test_sigterm_saves_the_data_collected_so_far(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    marker = root / "started"
    write(
        root / "tests" / "test_zslow.py",
        f"""\
        import pathlib
        import time

        from pkg import area


        def test_slow():
            area("triangle", 2)
            pathlib.Path({str(marker)!r}).write_text("x")
            time.sleep(60)
        """,
    )
    proc = subprocess.Popen(
        [PY, "-m", "pytest", "-p", "no:cacheprovider", "--tally=pkg", "-q"],
        cwd=root,
        env=tally_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGTERM
    assert "tally: SIGTERM: data saved to" in err
    # The triangle branch ran in the interrupted test: its lines were saved.
    assert {7, 8} <= set(shapes_lines(root) or [])


def test_parallel_files_the_plugin_cannot_combine_are_named(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    write(root / ".coveragerc", "[run]\nparallel = true\n")
    # Written during the run: the plugin erases what earlier runs left at its start.
    write(
        root / "tests" / "test_broken.py",
        """
        def test_leaves_a_broken_parallel_file():
            open(".coverage.broken", "wb").write(b"not a data file")
        """,
    )
    result = pytest_run(root, "--tally=pkg", "-q")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "tally: warning: skipped" in result.stdout and ".coverage.broken" in result.stdout
    # The run's own data was combined all the same (a triangle test ran lines 7 and 8).
    assert {1, 7, 8} <= set(shapes_lines(root) or [])


def test_subprocesses_started_by_tests_are_measured(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    write(root / ".coveragerc", "[run]\npatch = subprocess\n")
    write(
        root / "tests" / "test_child.py",
        """\
        import subprocess
        import sys


        def test_a_child_process_calls_unused():
            code = "import pkg.shapes as s; assert s.unused() == 'never'"
            subprocess.run([sys.executable, "-c", code], check=True)
        """,
    )
    result = pytest_run(root, "--tally=pkg", "--tally-report=term-missing")
    assert result.returncode == 0, result.stdout + result.stderr
    # unused() ran only in the child; the run's report has it (only the raise is missing).
    assert 13 in (shapes_lines(root) or [])
    assert re.search(r"pkg/shapes\.py\s+9\s+1\s+89%(\s+\d+)?\s+9\n", result.stdout), result.stdout


def test_a_test_that_calls_os_exit_keeps_the_runs_data(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    write(root / ".coveragerc", "[run]\npatch = _exit\n")
    write(
        root / "tests" / "test_zexit.py",
        """\
        import os

        from pkg import area


        def test_exits():
            area("triangle", 1)
            os._exit(3)
        """,
    )
    result = pytest_run(root, "--tally=pkg")
    assert result.returncode == 3
    assert {1, 4, 5, 6, 7, 8} <= set(shapes_lines(root) or [])


KILLED_TEST = """\
    import os
    import signal
    import time

    import pytest

    from pkg import area


    def test_killed():
        with pytest.raises(ValueError):
            area("circle", 1)  # line 9, which no other test runs
        time.sleep(1.0)  # ten flushes of the journal
        os.kill(os.getpid(), signal.SIGKILL)
    """


def test_a_run_killed_mid_test_is_recovered_by_combine(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    write(root / "tests" / "test_zkilled.py", KILLED_TEST)
    result = pytest_run(root, "--tally=pkg", env=tally_env(TALLY_FLUSH_INTERVAL="0.1"))
    assert result.returncode == -signal.SIGKILL
    assert run_tally("combine", "-q", cwd=root).returncode == 0
    report = run_tally("report", "-m", cwd=root)
    assert report.returncode == 0, report.stderr
    assert "tally: warning: the run was incomplete: process" in report.stderr
    # The killed test's first line ran long before the kill: its lines were flushed.
    assert {1, 4, 5, 7, 9} <= set(shapes_lines(root) or [])


def test_a_worker_killed_mid_test_keeps_its_data_up_to_its_last_flush(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    write(root / "tests" / "test_zkilled.py", KILLED_TEST)
    result = pytest_run(
        root,
        "--tally=pkg",
        "-n",
        "2",
        "--max-worker-restart=0",
        env=tally_env(TALLY_FLUSH_INTERVAL="0.1"),
    )
    assert result.returncode == 1
    assert "tally: warning: no data came back from worker(s) gw" in result.stdout
    assert "tally: warning: the run was incomplete: process" in result.stdout
    assert 9 in (shapes_lines(root) or [])


def test_pytest_cov_and_tally_in_one_run_each_keep_their_data(tmp_path: Path) -> None:
    """pytest-cov (coverage.py) and tally measure one session side by side: each writes
    its data file, the same lines, and neither warns of the other's files, although
    tally's journal sits beside coverage.py's parallel data files all session."""
    root = make_project(tmp_path)
    write(tmp_path / ".coveragerc", "[run]\nparallel = true\n")  # pytest-cov combines
    write(tmp_path / "tally.ini", "[run]\ndata_file = .tally-data\n")
    env = tally_env(TALLY_FLUSH_INTERVAL="0.05")
    ran = pytest_run(
        root,
        "--cov=pkg",
        "--cov-report=",
        "--tally=pkg",
        "--tally-config=tally.ini",
        "--tally-report=",
        "-p",
        "no:randomly",
        env=env,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    said = ran.stdout + ran.stderr
    assert "Couldn't use data file" not in said and "warning" not in said.lower(), said
    theirs = CoverageData(str(root / ".coverage"))
    ours = CoverageData(str(root / ".tally-data"))
    shapes = str(root / "pkg" / "shapes.py")
    assert ours.lines(shapes) == theirs.lines(shapes)
    assert not list(root.glob(".tally-data-tally.*"))  # the journal went once saved


class _Recorder:
    """Stands in for pytest's parser: records each option a plugin adds."""

    def __init__(self) -> None:
        self.options: dict[str, dict[str, Any]] = {}

    def getgroup(self, *args: Any, **kwargs: Any) -> _Recorder:
        return self

    def addoption(self, *names: str, **kwargs: Any) -> None:
        for name in names:
            self.options[name] = kwargs


def _options_of(addoption: Any) -> dict[str, dict[str, Any]]:
    recorder = _Recorder()
    addoption(recorder)
    return recorder.options


def test_every_pytest_cov_option_has_a_tally_twin_that_parses_alike() -> None:
    """pytest-cov's own parser (pytest-cov is pinned as a test dependency) against
    tally's: each --cov option's twin, --cov -> --tally, takes its values the same way."""
    from pytest_cov.plugin import pytest_addoption as cov_options  # type: ignore[import-untyped]

    from tally.pytest_plugin import pytest_addoption as tally_options

    theirs, ours = _options_of(cov_options), _options_of(tally_options)
    assert len(theirs) >= 11
    for name, spec in theirs.items():
        twin = name.replace("cov", "tally")
        assert twin in ours, f"{name} has no twin {twin}"
        mine = ours[twin]
        for key in ("nargs", "const"):
            assert mine.get(key) == spec.get(key), (name, key)
        plain = ("store", None)
        action = spec.get("action")
        if isinstance(action, str):  # pytest-cov's own Action classes: a type of tally's own
            assert (
                (mine.get("action") in plain) if action in plain else mine.get("action") == action
            ), name
        assert ("type" in mine) == ("type" in spec) or name == "--cov-context", name
        assert mine.get("dest", "").replace("tally", "cov") == spec.get("dest", ""), name


@pytest.mark.parametrize(
    ("spec", "why"),
    [
        ("annotated", "invalid choice"),
        ("term:out.txt", "term takes no destination"),
        ("term-missing:skip", "term-missing takes no destination"),
        (":x", "an empty TYPE takes no destination"),
    ],
)
def test_a_bad_report_spec_is_a_usage_error_before_any_test_runs(
    tmp_path: Path, spec: str, why: str
) -> None:
    root = make_project(tmp_path)
    write(root / "tests" / "test_marker.py", "def test_mark(tmp_path):\n    open('RAN', 'w')\n")
    ran = pytest_run(root, "--tally=pkg", f"--tally-report={spec}", "-q")
    assert ran.returncode == 4, ran.stdout + ran.stderr
    assert why in ran.stderr
    assert not (root / "RAN").exists()
    assert not (root / ".coverage").exists()


def test_pytest_cov_report_modifiers_and_files(tmp_path: Path) -> None:
    """term-missing:skip-covered leaves out fully covered files and says how many, as
    coverage.py says it; markdown-append adds to a file; annotate writes ,cover files;
    --tally-report= alone reports nothing; --tally-precision sets the digits."""
    root = make_project(tmp_path)
    write(root / "pkg" / "full.py", "X = 1\n")
    write(root / "conftest.py", "import pkg\nimport pkg.full\n")
    write(root / "notes.md", "# Notes\n")
    ran = pytest_run(
        root,
        "--tally=pkg",
        "--tally-report=term-missing:skip-covered",
        "--tally-report=markdown-append:notes.md",
        "--tally-report=annotate:ann",
        "--tally-precision=2",
        "-q",
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    table = ran.stdout[ran.stdout.index("tally coverage") :]
    assert "pkg/full.py" not in table and "pkg/shapes.py" in table
    assert "2 files skipped due to complete coverage." in table  # full.py, __init__.py
    assert re.search(r"^TOTAL .* 81\.82%$", table, re.M), table
    notes = (root / "notes.md").read_text()
    assert notes.startswith("# Notes\n") and "| pkg/shapes.py " in notes
    assert "Coverage Markdown information appended to file notes.md" in table
    assert "Coverage annotated source written to dir ann" in table
    annotated = {p.name for p in (root / "ann").iterdir()}
    assert any(name.endswith("_shapes.py,cover") for name in annotated), annotated
    quiet = pytest_run(root, "--tally=pkg", "--tally-report=", "-q")
    assert "tally coverage" in quiet.stdout and "TOTAL" not in quiet.stdout


def test_append_reset_and_no_report_on_fail(tmp_path: Path) -> None:
    """--tally-append adds this run's data to the data file's; --tally-reset forgets the
    --tally sources before it; --no-tally-on-fail saves but neither reports nor fails
    the run for coverage when tests failed."""
    root = make_project(tmp_path)
    write(
        root / "tests" / "test_more.py",
        "from pkg.shapes import unused\n\n\ndef test_unused():\n    assert unused() == 'never'\n",
    )
    first = pytest_run(root, "--tally=pkg", "tests/test_more.py", "-q")
    assert first.returncode == 0, first.stdout
    shapes = str(root / "pkg" / "shapes.py")
    alone = set(CoverageData(str(root / ".coverage")).lines(shapes) or ())
    pytest_run(root, "--tally=pkg", "--tally-append", "tests/test_shapes.py", "-q")
    appended = set(CoverageData(str(root / ".coverage")).lines(shapes) or ())
    assert alone < appended and 13 in appended  # unused()'s body, from the first run
    reset = pytest_run(root, "--tally=elsewhere", "--tally-reset", "--tally=pkg", "-q")
    assert "pkg/shapes.py" in reset.stdout
    write(root / "tests" / "test_fails.py", "def test_fails():\n    assert False\n")
    failing = pytest_run(root, "--tally=pkg", "--no-tally-on-fail", "--tally-fail-under=100", "-q")
    assert failing.returncode == 1
    assert "TOTAL" not in failing.stdout and "Required test coverage" not in failing.stdout
    assert (root / ".coverage").exists()


def test_markdown_and_markdown_append_to_one_file_is_a_usage_error(tmp_path: Path) -> None:
    """As in pytest-cov: both default to coverage.md, and one file can't take both."""
    root = make_project(tmp_path)
    both = ["--tally-report=markdown", "--tally-report=markdown-append"]
    ran = pytest_run(root, "--tally=pkg", *both, "-q")
    assert ran.returncode == 4
    assert "markdown and markdown-append can't both write coverage.md" in ran.stderr
    apart = pytest_run(root, "--tally=pkg", "--tally-report=markdown:a.md", both[1], "-q")
    assert apart.returncode == 0, apart.stdout + apart.stderr
    assert (root / "a.md").exists() and (root / "coverage.md").exists()
