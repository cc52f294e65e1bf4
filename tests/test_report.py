"""The terminal report's options, formats and filters, on real data files."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from support import run_tally


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("proj")
    (root / "pkg").mkdir()
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "full.py").write_text("def f():\n    return 1\n\n\nf()\n")
    (root / "pkg" / "half.py").write_text(
        textwrap.dedent("""\
        def g(x):
            if x:
                return 1
            return 2


        g(1)
        """)
    )
    (root / "main.py").write_text("import pkg.full\nimport pkg.half\n")
    result = run_tally("run", "--count", "main.py", cwd=root)
    assert result.returncode == 0, result.stderr
    return root


def rows(text: str) -> list[list[str]]:
    """The table's rows (header, files, TOTAL), split into cells."""
    table = text.split("\n\n", maxsplit=1)[0]
    return [line.split() for line in table.splitlines() if not line.startswith("-")]


def test_skip_covered_and_skip_empty(project: Path) -> None:
    out = run_tally("report", "--skip-covered", "--skip-empty", cwd=project).stdout
    names = [r[0] for r in rows(out)]
    assert names == ["Name", "pkg/half.py", "TOTAL"]
    # As in coverage.py, an empty file is 100% covered, so skip_covered takes it first.
    assert "3 files skipped due to complete coverage." in out
    assert "empty file" not in out
    out = run_tally("report", "--skip-empty", cwd=project).stdout
    assert "1 empty file skipped." in out and "pkg/__init__.py" not in out


@pytest.mark.parametrize(
    ("sort", "first"), [("name", "main.py"), ("-miss", "pkg/half.py"), ("cover", "pkg/half.py")]
)
def test_sort(project: Path, sort: str, first: str) -> None:
    out = run_tally("report", f"--sort={sort}", cwd=project).stdout
    assert rows(out)[1][0] == first


def test_bad_sort_is_a_clear_error(project: Path) -> None:
    result = run_tally("report", "--sort=size", cwd=project)
    assert result.returncode == 1
    assert result.stderr.startswith("tally: invalid sorting option 'size'")


def test_total_and_markdown_formats(project: Path) -> None:
    assert run_tally("report", "--format=total", cwd=project).stdout == "90\n"
    md = run_tally("report", "--format=markdown", "--precision=1", cwd=project).stdout
    lines = md.splitlines()
    assert lines[0].startswith("| Name") and lines[1].startswith("|---")
    assert "| pkg/half.py" in md and "**90.0%**" in lines[-1]


def test_include_omit_and_line_threshold(project: Path) -> None:
    out = run_tally("report", "--include=pkg/*", "--omit=*/full.py", cwd=project).stdout
    assert [r[0] for r in rows(out)] == ["Name", "pkg/__init__.py", "pkg/half.py", "TOTAL"]
    (project / "coverage.ini").write_text("[tally]\nline_threshold = 3\n")
    try:
        out = run_tally("report", cwd=project).stdout
    finally:
        (project / "coverage.ini").unlink()
    assert [r[0] for r in rows(out)][1:-1] == ["pkg/full.py", "pkg/half.py"]
    assert "2 files below line_threshold skipped." in out


def test_unparsable_source_errors_unless_ignored(project: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(project, copy)
    run_tally("run", "main.py", cwd=copy)
    (copy / "pkg" / "half.py").write_text("def broken(:\n")
    result = run_tally("report", cwd=copy)
    assert result.returncode == 1
    assert "couldn't parse" in result.stderr and "--ignore-errors" in result.stderr
    ignored = run_tally("report", "--ignore-errors", cwd=copy)
    assert ignored.returncode == 0 and "pkg/half.py" not in ignored.stdout
    (copy / "pkg" / "half.py").unlink()
    gone = run_tally("report", cwd=copy)
    assert gone.returncode == 1 and "no source for" in gone.stderr


def test_json_output_format_and_debug_data(project: Path, tmp_path: Path) -> None:
    (tmp_path / "p.py").write_text("for i in range(3):\n    pass\n")
    (tmp_path / "coverage.ini").write_text("[tally]\noutput_format = json\ncounts = true\n")
    run_tally("run", "p.py", cwd=tmp_path)
    doc = json.loads((tmp_path / ".coverage.json").read_text())
    (entry,) = doc["files"].values()
    assert entry == {"executed_lines": [1, 2], "counts": {"1": 4, "2": 3}}
    out = run_tally("debug", "data", cwd=tmp_path).stdout
    assert "meta tally_engine: count" in out and "2 lines, 7 hits" in out


def test_relative_files_and_append(tmp_path: Path) -> None:
    (tmp_path / "p.py").write_text("import sys\nif len(sys.argv) > 1:\n    x = 1\n")
    (tmp_path / ".coveragerc").write_text("[run]\nrelative_files = true\n")
    run_tally("run", "--count", "p.py", cwd=tmp_path)
    run_tally("run", "--count", "--append", "p.py", "arg", cwd=tmp_path)
    out = run_tally("debug", "data", cwd=tmp_path).stdout
    assert "\np.py: 3 lines, 5 hits\n" in out


def test_run_uses_command_line_from_config(tmp_path: Path) -> None:
    (tmp_path / "p.py").write_text("print('configured')\n")
    (tmp_path / ".coveragerc").write_text("[run]\ncommand_line = p.py\n")
    assert run_tally("run", cwd=tmp_path).stdout == "configured\n"


def test_syntax_error_in_script_is_the_programs_error(tmp_path: Path) -> None:
    (tmp_path / "bad.py").write_text("x = (\n")
    result = run_tally("run", "--count", "bad.py", cwd=tmp_path)
    assert result.returncode == 1
    assert "SyntaxError" in result.stderr and "tally" not in result.stderr.split("\n")[0]


def test_directory_with_main(tmp_path: Path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    (app / "__main__.py").write_text("print('dir main')\n")
    assert run_tally("run", "app", cwd=tmp_path).stdout == "dir main\n"
    (tmp_path / "empty").mkdir()
    result = run_tally("run", "empty", cwd=tmp_path)
    assert result.returncode == 1 and "has no __main__.py" in result.stderr


def test_debug_flag_explains_the_run(tmp_path: Path) -> None:
    (tmp_path / "p.py").write_text("x = 1\n")
    result = run_tally("run", "--debug", "--source=nowhere_pkg_xyz", "p.py", cwd=tmp_path)
    assert "tally: engine " in result.stderr
    assert "Module nowhere_pkg_xyz was never imported. (module-not-imported)" in result.stderr
    assert "tally: warning: No data was collected. (no-data-collected)" in result.stderr


def test_source_as_package_name(tmp_path: Path) -> None:
    (tmp_path / "mypkg").mkdir()
    (tmp_path / "mypkg" / "__init__.py").write_text("VALUE = 1\n")
    (tmp_path / "main.py").write_text("import mypkg\n")
    run_tally("run", "--source=mypkg", "main.py", cwd=tmp_path)
    out = run_tally("report", cwd=tmp_path).stdout
    assert [r[0] for r in rows(out)][1:-1] == ["mypkg/__init__.py"]
