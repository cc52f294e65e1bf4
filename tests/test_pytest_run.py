"""`tally run -m pytest`: test files rewritten by pytest are measured too, outcomes unchanged."""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

from support import PY, run_tally, tally_env

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
