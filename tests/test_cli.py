"""`tally run` behaves like `python` for the program; every command's errors are one line."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from support import PY, run_coverage, run_tally, tally_env, write

import tally
from tally.data.sqlite import CoverageData


def data_lines(tmp: Path, name: str) -> list[int] | None:
    data = tally.CoverageData(str(tmp / ".coverage"))
    return data.lines(str((tmp / name).resolve()))


def test_script_sees_python_argv_main_and_path0(tmp_path: Path) -> None:
    write(
        tmp_path / "prog.py",
        """\
        import sys
        print(sys.argv, __name__, sys.path[0] == __import__("os").path.dirname(__file__))
        """,
    )
    result = run_tally("run", "prog.py", "a", "--flag", cwd=tmp_path)
    assert result.stdout == "['prog.py', 'a', '--flag'] __main__ True\n"
    assert result.returncode == 0
    assert data_lines(tmp_path, "prog.py") == [1, 2]


def test_exit_status_of_sys_exit_is_kept_and_data_saved(tmp_path: Path) -> None:
    write(tmp_path / "prog.py", "import sys\nprint('x')\nsys.exit(3)\nprint('never')\n")
    result = run_tally("run", "prog.py", cwd=tmp_path)
    assert result.returncode == 3
    assert data_lines(tmp_path, "prog.py") == [1, 2, 3]


def test_uncaught_exception_shows_the_programs_traceback_only(tmp_path: Path) -> None:
    write(tmp_path / "prog.py", "def f():\n    raise ValueError('bad')\nf()\n")
    result = run_tally("run", "prog.py", cwd=tmp_path)
    plain = subprocess.run(
        [PY, "prog.py"], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert result.returncode == 1 == plain.returncode
    assert result.stderr == plain.stderr
    assert "tally" not in result.stderr
    assert data_lines(tmp_path, "prog.py") == [1, 2, 3]


def test_counting_a_generator_over_a_non_iterable_keeps_the_programs_traceback(
    tmp_path: Path,
) -> None:
    write(tmp_path / "prog.py", "x = 5\ng = (i for i in x)\n")
    result = run_tally("run", "--count", "prog.py", cwd=tmp_path)
    assert result.returncode == 1
    assert "tally" not in result.stderr
    assert 'prog.py", line 2, in <module>' in result.stderr
    assert result.stderr.endswith("TypeError: 'int' object is not iterable\n")


def test_stdin_and_stdout_pass_through(tmp_path: Path) -> None:
    write(tmp_path / "prog.py", "import sys\nsys.stdout.write(sys.stdin.read().upper())\n")
    result = run_tally("run", "prog.py", cwd=tmp_path, stdin="hello\n")
    assert result.stdout == "HELLO\n"


def test_module_and_command_forms(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    write(pkg / "__init__.py", "")
    write(pkg / "__main__.py", "import sys\nprint('main', sys.argv[1:])\n")
    result = run_tally("run", "-m", "pkg", "x", cwd=tmp_path)
    assert result.stdout == "main ['x']\n"
    assert data_lines(tmp_path, "pkg/__main__.py") == [1, 2]
    result = run_tally(
        "run", "--data-file=c.cov", "-c", "import sys; print(sys.argv)", "q", cwd=tmp_path
    )
    assert result.stdout == "['-c', 'q']\n"


def test_missing_program_is_one_line_exit_1(tmp_path: Path) -> None:
    result = run_tally("run", "nope.py", cwd=tmp_path)
    assert (result.returncode, result.stderr) == (1, "tally: no file to run: 'nope.py'\n")
    result = run_tally("run", "-m", "no_such_module_xyz", cwd=tmp_path)
    assert result.returncode == 1 and result.stderr.count("\n") == 1


def test_usage_errors_are_one_line_exit_1(tmp_path: Path) -> None:
    result = run_tally("report", "--precision=x", "--data-file=nope", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("tally: ") and result.stderr.count("\n") == 1
    result = run_tally("frobnicate", cwd=tmp_path)
    assert result.returncode == 1 and "invalid choice" in result.stderr


def test_tally_enabled_0_runs_plainly(tmp_path: Path) -> None:
    write(tmp_path / "prog.py", "print('plain')\n")
    result = run_tally("run", "prog.py", cwd=tmp_path, env=tally_env(TALLY_ENABLED="0"))
    assert result.stdout == "plain\n"
    assert not (tmp_path / ".coverage").exists()


def test_keyboard_interrupt_saves_data_and_dies_of_sigint(tmp_path: Path) -> None:
    write(tmp_path / "prog.py", "x = 1\nraise KeyboardInterrupt\n")
    result = run_tally("run", "prog.py", cwd=tmp_path)
    assert result.returncode == -signal.SIGINT
    assert "KeyboardInterrupt" in result.stderr
    assert data_lines(tmp_path, "prog.py") == [1, 2]


def test_sigterm_saves_data(tmp_path: Path) -> None:
    write(
        tmp_path / "prog.py",
        """\
        import time
        print('ready', flush=True)
        while True:
            time.sleep(0.05)
        """,
    )
    proc = subprocess.Popen(
        [PY, "-m", "tally", "run", "prog.py"],
        cwd=tmp_path,
        env=tally_env(),
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline() == "ready\n"
    time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == -signal.SIGTERM
    proc.stdout.close()
    assert data_lines(tmp_path, "prog.py") == [1, 2, 3, 4]


def test_threads_finish_before_data_is_saved_and_counts_are_exact(tmp_path: Path) -> None:
    write(
        tmp_path / "prog.py",
        """\
        import threading

        def work():
            for _ in range(20000):
                x = 1

        threads = [threading.Thread(target=work) for _ in range(8)]
        for t in threads:
            t.start()
        """,
    )
    result = run_tally("run", "--count", "prog.py", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    counts = tally.CoverageData(str(tmp_path / ".coverage")).counts(
        str((tmp_path / "prog.py").resolve())
    )
    assert counts[4] == 8 * 20001 and counts[5] == 8 * 20000


def test_report_matches_coverage_py_and_fail_under_exits_2(tmp_path: Path) -> None:
    write(tmp_path / "a.py", "import b\nif b.f(1):\n    print('yes')\nelse:\n    print('no')\n")
    write(tmp_path / "b.py", "def f(x):\n    return x\n\n\ndef g():\n    return 2\n")
    run_tally("run", "a.py", cwd=tmp_path)
    ours = run_tally("report", "-m", cwd=tmp_path)
    theirs = run_coverage("report", "-m", "--rcfile=", cwd=tmp_path)
    assert ours.stdout == theirs.stdout  # no Hits column: the run was not asked to count
    assert ours.returncode == 0
    failed = run_tally("report", "--fail-under=90", cwd=tmp_path)
    assert failed.returncode == 2
    assert failed.stderr == "tally: coverage failure: total of 75 is less than fail-under=90\n"


def test_counts_column_and_hot_lines(tmp_path: Path) -> None:
    write(tmp_path / "loop.py", "total = 0\nfor i in range(50):\n    total += i\n")
    run_tally("run", "--count", "loop.py", cwd=tmp_path)
    report = run_tally("report", "--hot", "2", cwd=tmp_path)
    assert report.stdout.splitlines()[0].split() == ["Name", "Stmts", "Miss", "Hits", "Cover"]
    assert report.stdout.splitlines()[2].split() == ["loop.py", "3", "0", "102", "100%"]
    hot = report.stdout.split("\n\n")[1].splitlines()
    assert hot[1].split() == ["1", "51", "loop.py:2", "for", "i", "in", "range(50):"]
    assert hot[2].split()[:3] == ["2", "50", "loop.py:3"]


@pytest.mark.skipif(
    sys.version_info < (3, 12), reason="3.11 has only the count engine, whose data always counts"
)
def test_hot_without_counts_is_a_clear_error(tmp_path: Path) -> None:
    write(tmp_path / "p.py", "x = 1\n")
    run_tally("run", "--engine=monitor", "p.py", cwd=tmp_path)
    result = run_tally("report", "--hot", "3", cwd=tmp_path)
    assert result.returncode == 1
    assert (
        result.stderr == "tally: --hot needs execution counts: measure with `tally run --count`\n"
    )


def test_corrupt_data_file_is_one_line_exit_1(tmp_path: Path) -> None:
    (tmp_path / ".coverage").write_bytes(b"SQLite format 3\x00" + b"\x00" * 40)
    result = run_tally("report", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("tally: couldn't read data file ")
    assert result.stderr.count("\n") == 1


def test_no_data_file_is_one_line_exit_1(tmp_path: Path) -> None:
    result = run_tally("report", cwd=tmp_path)
    assert result.returncode == 1
    assert "no data file" in result.stderr and "Traceback" not in result.stderr


def test_erase_removes_the_data_file(tmp_path: Path) -> None:
    write(tmp_path / "p.py", "x = 1\n")
    run_tally("run", "p.py", cwd=tmp_path)
    assert (tmp_path / ".coverage").exists()
    assert run_tally("erase", cwd=tmp_path).returncode == 0
    assert not (tmp_path / ".coverage").exists()


def test_debug_sys_and_config_explain_choices(tmp_path: Path) -> None:
    write(tmp_path / ".coveragerc", "[run]\nbranch = true\n")
    sys_out = run_tally("debug", "sys", "--count", cwd=tmp_path).stdout
    assert "engine: count\n" in sys_out
    assert "engine_reason: counts requested" in sys_out
    assert "engine_reason: branches: a counter at the start of each arm" in sys_out
    assert "warning" not in sys_out
    cfg = run_tally("debug", "config", cwd=tmp_path).stdout
    assert "run:branch = True  (.coveragerc [run] branch)" in cfg


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="3.11 has no sys.monitoring")
def test_monitor_engine_request_on_311_warns_and_counts(tmp_path: Path) -> None:
    write(tmp_path / "p.py", "x = 1\n")
    result = run_tally("run", "--engine=monitor", "p.py", cwd=tmp_path)
    assert "engine 'monitor' needs sys.monitoring (Python 3.12+)" in result.stderr
    assert tally.CoverageData(str(tmp_path / ".coverage")).meta()["tally_engine"] == "count"


def test_python_dash_m_tally_is_the_same_cli(tmp_path: Path) -> None:
    result = subprocess.run(
        [PY, "-m", "tally", "--version"],
        capture_output=True,
        text=True,
        check=True,
        env=tally_env(),
    )
    assert result.stdout == f"tally {tally.__version__}\n"


def test_source_option_limits_measurement(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    write(tmp_path / "src" / "lib.py", "def f():\n    return 1\n")
    write(tmp_path / "main.py", "import sys\nsys.path.insert(0, 'src')\nimport lib\nlib.f()\n")
    run_tally("run", "--count", "--source=src", "main.py", cwd=tmp_path)
    data = tally.CoverageData(str(tmp_path / ".coverage"))
    assert [os.path.basename(p) for p in data.measured_files()] == ["lib.py"]
    assert data.counts(data.measured_files()[0]) == {1: 1, 2: 1}


def test_no_command_prints_help_and_exits_1(tmp_path: Path) -> None:
    result = run_tally(cwd=tmp_path)
    assert result.returncode == 1 and "commands:" in result.stdout


def test_main_in_process_reports_errors_as_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from tally.cli.main import main

    assert main(["report", f"--data-file={tmp_path / 'none'}"]) == 1
    assert capsys.readouterr().err.startswith("tally: no data file ")


def test_a_run_whose_data_file_cant_take_it_keeps_its_data_beside_it(tmp_path: Path) -> None:
    """Appending to a corrupt data file fails; the run's own data is written next to it."""
    write(tmp_path / "p.py", "x = 1\ny = 2\n")
    (tmp_path / ".coverage").write_bytes(b"SQLite format 3\x00" + b"\x00" * 40)
    result = run_tally("run", "--append", "p.py", cwd=tmp_path)
    assert result.returncode == 0  # the program's status
    assert result.stderr.startswith("tally: couldn't read data file ")
    (rescued,) = tmp_path.glob(".coverage.rescued.*")
    assert f"this run's data was saved to {rescued} instead" in result.stderr
    data = CoverageData(str(rescued))
    assert data.lines(str(tmp_path / "p.py")) == [1, 2]


def test_a_run_whose_data_directory_is_unwritable_keeps_its_data_in_tmp(tmp_path: Path) -> None:
    write(tmp_path / "p.py", "x = 1\n")
    (tmp_path / "blocked").write_text("a file, not a directory")
    result = run_tally("run", "--data-file=blocked/.coverage", "p.py", cwd=tmp_path)
    assert result.returncode == 0
    match = re.search(r"this run's data was saved to (\S+) instead", result.stderr)
    assert match, result.stderr
    rescued = Path(match.group(1))
    try:
        assert rescued.parent == Path(tempfile.gettempdir())
        assert CoverageData(str(rescued)).lines(str(tmp_path / "p.py")) == [1]
    finally:
        rescued.unlink()


def test_help_lists_each_command_once_grouped_by_what_it_is_for(tmp_path: Path) -> None:
    shown = run_tally("--help", cwd=tmp_path).stdout
    from tally.cli.main import COMMANDS
    from tally.report.registry import FORMATS

    listed = re.findall(r"^    (\w+)  ", shown, re.MULTILINE)
    assert sorted(listed) == sorted([*COMMANDS, *FORMATS])  # every command, once
    groups = re.findall(r"^  (\w+)$", shown, re.MULTILINE)
    assert groups == ["measure", "report", "track", "inspect"]
    report_group = shown.split("\n  report\n")[1].split("\n  track\n")[0]
    assert all(f"    {name} " in report_group for name in FORMATS)
    assert "positional arguments" not in shown
    assert run_tally("report", "--help", cwd=tmp_path).stdout.startswith("usage: tally report [")
