"""The count engine's import hook: instrumented code cached beside the source, safely."""

from __future__ import annotations

import importlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import BRANCH_ENGINES, PY, clean_env, pytest_run, run_tally, write

from tally.collect import counting, importer
from tally.collect.filter import FileFilter


@pytest.fixture
def engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[counting.CountEngine]:
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    (tmp_path / "hooked.py").write_text("X = 1\nfor i in range(2):\n    X += i\n")
    engine = counting.CountEngine(FileFilter(source=[str(tmp_path)], cwd=str(tmp_path)))
    yield engine
    engine.stop()
    sys.modules.pop("hooked", None)


def _import_and_count(engine: counting.CountEngine, tmp_path: Path) -> dict[int, int]:
    sys.modules.pop("hooked", None)
    engine.start()
    importlib.import_module("hooked")
    engine.stop()
    counts = engine.measurement().counts or {}
    return dict(counts[str((tmp_path / "hooked.py").resolve())])


def test_second_import_uses_the_cache_and_counts_the_same(
    engine: counting.CountEngine, tmp_path: Path
) -> None:
    first = _import_and_count(engine, tmp_path)
    (cache,) = (tmp_path / "__pycache__").glob("hooked.*tally*.pyc")
    assert first == {1: 1, 2: 3, 3: 2}
    assert _import_and_count(engine, tmp_path) == {1: 2, 2: 6, 3: 4}  # banked twice
    assert cache.exists()


def test_a_corrupt_cache_is_ignored_and_replaced(
    engine: counting.CountEngine, tmp_path: Path
) -> None:
    _import_and_count(engine, tmp_path)
    (cache,) = (tmp_path / "__pycache__").glob("hooked.*tally*.pyc")
    cache.write_bytes(b"TLY1garbage")
    assert _import_and_count(engine, tmp_path)[2] == 6
    assert cache.read_bytes() != b"TLY1garbage"


def test_instrumentation_failure_warns_and_runs_unmeasured(
    engine: counting.CountEngine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def broken(source: object, path: str) -> object:
        raise RuntimeError("boom")

    monkeypatch.setattr(importer, "compile_instrumented", broken)
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    sys.modules.pop("hooked", None)
    engine.start()
    module = importlib.import_module("hooked")
    engine.stop()
    assert module.X == 2  # the module ran, plainly
    assert "couldn't instrument" in capsys.readouterr().err


def test_instrumented_modules_keep_their_docstrings(
    engine: counting.CountEngine, tmp_path: Path
) -> None:
    """Counters and guards go after a docstring, so modules, classes and functions keep it."""
    (tmp_path / "hooked.py").write_text(
        '"""module doc"""\n'
        "class A:\n"
        '    """class doc"""\n'
        "    def f(self):\n"
        '        """function doc"""\n'
        "        return 1\n"
    )
    sys.modules.pop("hooked", None)
    engine.start()
    module = importlib.import_module("hooked")
    engine.stop()
    assert (module.__doc__, module.A.__doc__, module.A.f.__doc__) == (
        "module doc",
        "class doc",
        "function doc",
    )


def test_a_test_module_is_rewritten_for_its_events_only_with_an_assert_over_lines(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """pytest's rewrite of an assert on one line runs on that line, so its events are the
    source's: the module's own code serves, without rewriting a copy and compiling it."""
    import ast

    from _pytest.assertion.rewrite import rewrite_asserts

    rewritten: list[str] = []

    def rewritten_code(rewrite: object, source: bytes, path: str, config: object) -> object:
        rewritten.append(path)
        return compile(source, path, "exec")

    monkeypatch.setattr(importer, "_rewritten_code", rewritten_code)
    one_line = b"def test_one():\n    assert 1 + 1 == 2\n    if True:\n        assert [1] == [1]\n"
    over_lines = b"def test_two():\n    assert [1] == [\n        1,\n    ]\n"
    for path, source in (("test_one.py", one_line), ("test_two.py", over_lines)):
        importer.instrument_test_tree(rewrite_asserts, ast.parse(source), source, path, "count")
    assert rewritten == ["test_two.py"]


@pytest.mark.parametrize("flavour", ["--count", "--branch"])
def test_instrumented_code_still_runs_cleanly_while_the_interpreter_shuts_down(
    tmp_path: Path, flavour: str
) -> None:
    """CPython restores builtins to their start-up state before the last `__del__` methods
    run; the counters and helpers that instrumented code finds there must still be found."""
    write(
        tmp_path / "held.py",
        """\
        class Closer:
            def __del__(self):
                total = sum(n * 2 for n in range(3)) + len([n for n in range(2)])
                try:
                    raise KeyError(total)
                except KeyError as caught:
                    print("closed", caught.args[0], flush=True)
                f = lambda: total
                if f():
                    print("still counting", flush=True)

        held = Closer()
        """,
    )
    write(tmp_path / "main.py", "import held\nprint('main done')\n")
    done = run_tally("run", flavour, "--engine=count", "main.py", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-2:] == ["closed 8", "still counting"]
    assert "Exception ignored" not in done.stderr


def _collection_error(output: str) -> str:
    """pytest's report of a collection error: its header and body, to the next section."""
    lines = output[output.index("ERROR collecting") :].splitlines()[1:]
    return "\n".join(
        line for line in lines[: next(i for i, x in enumerate(lines) if x.startswith("="))]
    )


@pytest.mark.parametrize("engine", BRANCH_ENGINES)
def test_a_syntax_error_in_an_imported_module_shows_the_users_traceback(
    tmp_path: Path, engine: str
) -> None:
    """The traceback of a SyntaxError in a measured module that a program imports is the
    one plain Python prints, with no frame of tally's or of the import machinery's:
    under `tally run`, and in pytest's collection error under the plugin."""
    write(tmp_path / "main.py", "import broken\n")
    write(tmp_path / "broken.py", "def f():\n    x = (\n")
    write(tmp_path / "tests" / "test_it.py", "import broken\n\n\ndef test_it():\n    pass\n")
    plain = subprocess.run(
        [PY, "main.py"], cwd=tmp_path, capture_output=True, text=True, env=clean_env(), check=False
    )
    ran = run_tally("run", "--rcfile=", "--branch", f"--engine={engine}", "main.py", cwd=tmp_path)
    assert (ran.returncode, ran.stderr) == (plain.returncode, plain.stderr)
    assert "tally" not in ran.stderr
    write(tmp_path / ".coveragerc", f"[tally]\nengine = {engine}\n[run]\nbranch = true\n")
    untallied = pytest_run(tmp_path, "tests", env=clean_env())
    tallied = pytest_run(tmp_path, "--tally=.", "--tally-report=", "tests")
    assert tallied.returncode == untallied.returncode == 2
    assert _collection_error(tallied.stdout) == _collection_error(untallied.stdout)
