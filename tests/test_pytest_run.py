"""`tally run -m pytest`: test files rewritten by pytest are measured too, outcomes unchanged."""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path

import pytest
from support import BRANCH_ENGINES, PY, coverage_json, run_coverage, run_tally, tally_env

import tally

PROJECT = {
    "calc.py": """\
        def add(a, b):
            return a + b


        def unused():
            return 0
        """,
    "tests/test_calc.py": """\
        import pytest

        from calc import add


        @pytest.mark.parametrize("n", range(4))
        def test_add(n):
            assert add(n, 1) == n + 1


        def test_fails():
            assert add(1, 1) == 3
        """,
}


def make_project(root: Path) -> None:
    for name, text in PROJECT.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(textwrap.dedent(text))
    (root / "conftest.py").write_text(
        "import sys, os\nsys.path.insert(0, os.path.dirname(__file__))\n"
    )


def outcome(stdout: str) -> str:
    return stdout.strip().splitlines()[-1].split(" in ")[0]


def test_pytest_outcome_unchanged_and_test_files_counted(tmp_path: Path) -> None:
    make_project(tmp_path)
    args = ["-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"]
    env = tally_env()
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # this test is about the bytecode caches
    plain = subprocess.run(
        [PY, *args], cwd=tmp_path, env=env, capture_output=True, text=True, check=False
    )
    for attempt in range(2):  # the second run loads instrumented code from the cache
        measured = run_tally("run", "--count", *args, cwd=tmp_path, env=env)
        assert outcome(measured.stdout) == outcome(plain.stdout) == "1 failed, 4 passed"
        assert measured.returncode == plain.returncode == 1
        data = tally.CoverageData(str(tmp_path / ".coverage"))
        test_file = str((tmp_path / "tests" / "test_calc.py").resolve())
        calc = str((tmp_path / "calc.py").resolve())
        assert data.counts(calc) == {1: 1, 2: 5, 5: 1}, attempt
        counts = data.counts(test_file)
        assert counts[8] == 4 and counts[12] == 1, attempt
    caches = list((tmp_path / "tests" / "__pycache__").glob("*tally*"))
    assert caches, "pytest's cache for instrumented test files carries tally's tag"
    # Plain pytest afterwards must not pick up instrumented code.
    again = subprocess.run(
        [PY, *args], cwd=tmp_path, env=env, capture_output=True, text=True, check=False
    )
    assert outcome(again.stdout) == "1 failed, 4 passed"


@pytest.mark.parametrize("engine", BRANCH_ENGINES)
def test_branches_in_test_files_and_code_are_measured_under_pytest(
    engine: str, tmp_path: Path
) -> None:
    """Test files compiled by pytest's assertion rewriting carry branch measurement too
    (counters, or markers): coverage.py reads the same missing branches from tally's file
    as from its own."""
    make_project(tmp_path)
    (tmp_path / "calc.py").write_text(
        "def add(a, b):\n    if a < 0:\n        a = -a\n    return a + b\n"
    )
    (tmp_path / "tests" / "test_calc.py").write_text(
        "from calc import add\n"
        "\n"
        "def test_add():\n"
        "    for n in range(3):\n"
        "        if n > 5:\n"
        "            break\n"
        "        assert add(n, 1) == n + 1\n"
    )
    args = ["-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"]
    env = tally_env()
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    # Without tally's plugin, whose import (tally's package, outside site-packages in a
    # development install) coverage.py would measure too.
    run_coverage("run", "--branch", "--data-file=cov.data", *args, "-p", "no:tally", cwd=tmp_path)
    for attempt in range(2):  # the second run loads instrumented code from the caches
        result = run_tally(
            "run",
            "--branch",
            f"--engine={engine}",
            "--data-file=t.data",
            *args,
            cwd=tmp_path,
            env=env,
        )
        assert result.returncode == 0, result.stderr
        mine = coverage_json(tmp_path / "t.data", tmp_path)
        assert mine == coverage_json(tmp_path / "cov.data", tmp_path), attempt
        assert mine["tests/test_calc.py"]["missing_branches"] == [(5, 6)]
        assert mine["calc.py"]["missing_branches"] == [(2, 3)]


TRACE_PYTEST = """\
import json, os, sys, trace
tracer = trace.Trace(count=1, trace=0, ignoredirs=[sys.prefix, sys.base_prefix])
tracer.runctx("import pytest; pytest.main(sys.argv[1:])", {"sys": sys}, {})
counts = {
    f"{os.path.realpath(path)}:{line}": n for (path, line), n in tracer.results().counts.items()
}
print(json.dumps(counts))
"""


def test_counts_in_rewritten_asserts_equal_trace(tmp_path: Path) -> None:
    """pytest's rewritten `assert` makes other line events than the source's: an assert
    spread over lines comes back to its first line once, not twice. tally counts what runs:
    the same counts as `trace` over the same pytest run, line for line."""
    test_file = tmp_path / "test_asserts.py"
    test_file.write_text(
        textwrap.dedent(
            """\
            def test_lists():
                result = [1, 2, 3]
                assert result == [
                    1,
                    2,
                    3,
                ]
                assert len(result) == 3, (
                    "a message on "
                    f"two lines {result}"
                )
                for n in result:
                    assert n in [
                        1, 2, 3,
                    ]
                assert result
            """
        )
    )
    args = ["-q", "-p", "no:cacheprovider", "-p", "no:tally", "test_asserts.py"]
    env = tally_env()
    traced = subprocess.run(
        [PY, "-c", TRACE_PYTEST, *args],
        check=False,
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert traced.returncode == 0, traced.stderr
    trace_counts = json.loads(traced.stdout.strip().splitlines()[-1])
    measured = run_tally("run", "--count", "-m", "pytest", *args, cwd=tmp_path, env=env)
    assert measured.returncode == 0, measured.stderr
    counts = tally.CoverageData(str(tmp_path / ".coverage")).counts(str(test_file.resolve()))
    assert counts is not None
    assert {3: 1, 8: 1, 13: 3, 16: 1}.items() <= counts.items()
    theirs = {line: trace_counts.get(f"{test_file.resolve()}:{line}") for line in counts}
    assert counts == theirs
