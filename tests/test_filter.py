"""Which files are measured: --source, include/omit, and coverage.py's defaults."""

from __future__ import annotations

import importlib
import json
import os
import sys
import sysconfig
from pathlib import Path

import pytest
from support import BRANCH_ENGINES, pytest_run, run_coverage, run_tally, tally_env, write

from tally.collect.filter import FileFilter


def test_defaults_measure_the_current_directory_only(tmp_path: Path) -> None:
    (tmp_path / "mine.py").write_text("")
    f = FileFilter(cwd=str(tmp_path))
    assert f.should_measure(str(tmp_path / "mine.py"))
    assert f.reason(str(tmp_path / "mine.py")) == "under the current directory"
    assert not f.should_measure(os.__file__)
    assert f.reason(os.__file__) == "in the standard library"
    site = sysconfig.get_paths()["purelib"]
    assert f.reason(os.path.join(site, "x", "y.py")) == "an installed third-party package"
    assert f.reason("/somewhere/else.py") == "outside the current directory"
    assert f.reason("<string>") == "not a Python source file"


def test_tally_never_measures_itself(tmp_path: Path) -> None:
    import tally.api

    f = FileFilter(cwd=str(Path(tally.api.__file__).parent.parent.parent))
    assert f.reason(tally.api.__file__) == "tally never measures itself"


def test_source_dirs_files_and_packages(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "single.py").write_text("")
    f = FileFilter(source=["src", "single.py", "json", "no_such_thing_xyz"], cwd=str(tmp_path))
    assert f.should_measure(str(tmp_path / "src" / "a.py"))
    assert f.should_measure(str(tmp_path / "single.py"))
    import json

    assert f.should_measure(json.__file__)  # a package named by import name
    assert not f.should_measure(str(tmp_path / "other.py"))
    assert f.unimported_sources == ["no_such_thing_xyz"]


def test_source_module_name(tmp_path: Path) -> None:
    import textwrap

    f = FileFilter(source=["textwrap"], cwd=str(tmp_path))
    assert f.should_measure(textwrap.__file__)


def test_include_and_omit(tmp_path: Path) -> None:
    f = FileFilter(include=["*/keep/*"], omit=["*/keep/skip.py"], cwd=str(tmp_path))
    assert f.should_measure("/x/keep/a.py")
    assert f.reason("/x/keep/skip.py") == "matches omit"
    assert f.reason("/x/other/a.py") == "doesn't match include"


def test_cover_pylib_measures_the_stdlib(tmp_path: Path) -> None:
    f = FileFilter(cover_pylib=True, cwd=os.path.dirname(os.__file__))
    assert f.should_measure(os.__file__)


def test_main_script_is_measured_wherever_it_is(tmp_path: Path) -> None:
    f = FileFilter(cwd=str(tmp_path), extra_files=["/opt/tool/script.py"])
    assert f.reason("/opt/tool/script.py") == "the program being run"


def test_include_filters_the_main_script_too(tmp_path: Path) -> None:
    f = FileFilter(cwd=str(tmp_path), include=["*/lib/*"], extra_files=["/opt/tool/script.py"])
    assert f.reason("/opt/tool/script.py") == "doesn't match include"


def test_a_source_module_that_becomes_importable_later_is_measured(tmp_path: Path) -> None:
    """As coverage.py: a name that isn't a directory is matched against modules as they
    are imported, not only against what sys.path held when measurement started."""
    late = tmp_path / "later"
    late.mkdir()
    write(late / "late_mod_xq.py", "X = 1\n")
    write(late / "late_pkg_xq" / "__init__.py", "")
    write(late / "late_pkg_xq" / "inner.py", "")
    f = FileFilter(source=["late_mod_xq", "late_pkg_xq"], cwd=str(tmp_path))
    assert f.unimported_sources == ["late_mod_xq", "late_pkg_xq"]
    # The count engine asks as it imports, by module name...
    assert f.should_measure(str(late / "late_mod_xq.py"), "late_mod_xq")
    assert f.should_measure(str(late / "late_pkg_xq" / "__init__.py"), "late_pkg_xq")
    # ...and then the package's directory is measured, whoever asks.
    assert f.should_measure(str(late / "late_pkg_xq" / "inner.py"))
    assert not f.should_measure(str(late / "other.py"))


def test_a_source_module_found_in_sys_modules_is_placed(tmp_path: Path) -> None:
    """The monitor engine asks by file alone: an imported source module is found in
    sys.modules (where it is put before its code runs)."""
    write(tmp_path / "placed_by_import_xq.py", "")
    f = FileFilter(source=["placed_by_import_xq"], cwd=str(tmp_path / "elsewhere"))
    sys.path.insert(0, str(tmp_path))
    try:
        importlib.import_module("placed_by_import_xq")
    finally:
        sys.path.remove(str(tmp_path))
    assert f.should_measure(str(tmp_path / "placed_by_import_xq.py"))
    assert f.unimported_sources == []


def test_finding_a_dotted_source_imports_nothing(tmp_path: Path) -> None:
    """Finding `a.b` would import `a` before measurement starts, and its lines would be
    missed: it waits for the import instead."""
    write(tmp_path / "parent_xq" / "__init__.py", "")
    write(tmp_path / "parent_xq" / "child.py", "")
    sys.path.insert(0, str(tmp_path))
    try:
        f = FileFilter(source=["parent_xq.child"], cwd=str(tmp_path))
        assert "parent_xq" not in sys.modules
    finally:
        sys.path.remove(str(tmp_path))
    assert f.should_measure(str(tmp_path / "parent_xq" / "child.py"), "parent_xq.child")


def test_possibly_unexecuted_files_are_coverage_pys(tmp_path: Path) -> None:
    """Below a source directory: its own files, and those of subdirectories that are
    packages (any subdirectory with include_namespace_packages); no editor side-files,
    nothing omitted, no links to directories followed."""
    for name in (
        "top.py",
        "gui.pyw",
        ".#top.py",
        "#top.py#",
        "top.py~",
        "notes.txt",
        "pkg/__init__.py",
        "pkg/a.py",
        "pkg/deep/__init__.py",
        "pkg/deep/b.py",
        "pkg/skip_me.py",
        "pkg/ns/c.py",
        "scripts/d.py",
    ):
        write(tmp_path / "src" / name, "")
    os.symlink(tmp_path / "src" / "pkg", tmp_path / "src" / "pkg" / "loop")
    f = FileFilter(source=["src"], omit=["*/skip_me.py"], cwd=str(tmp_path))
    root = str(tmp_path / "src") + os.sep
    found = sorted(p.removeprefix(root) for p in f.possibly_unexecuted())
    assert found == [
        "gui.pyw",
        "pkg/__init__.py",
        "pkg/a.py",
        "pkg/deep/__init__.py",
        "pkg/deep/b.py",
        "top.py",
    ]
    with_namespaces = {p.removeprefix(root) for p in f.possibly_unexecuted(True)}
    assert with_namespaces - set(found) == {"pkg/ns/c.py", "scripts/d.py"}


def _project(root: Path) -> None:
    write(root / "main.py", "import pkg.used\npkg.used.f(1)\n")
    write(root / "pkg" / "__init__.py", "")
    write(root / "pkg" / "used.py", "def f(x):\n    if x:\n        return 1\n    return 2\n")
    write(root / "pkg" / "unused.py", "a = 1\nif a:\n    b = 2\n")
    write(root / "pkg" / "sub" / "__init__.py", "")
    write(root / "pkg" / "sub" / "never.py", "def g():\n    return 3\n")
    write(root / "pkg" / "loose" / "not_a_package.py", "z = 0\n")
    write(root / "pkg" / "broken_name-1.py", "q = 0\n")  # coverage.py lists it...
    write(root / "pkg" / "editor,side.py", "r = 0\n")  # ...but not this one


def _json_report(tool: str, root: Path) -> dict[str, object]:
    run = run_coverage if tool == "coverage" else run_tally
    out = root / f"{tool}.json"
    assert run("json", "-o", str(out), cwd=root).returncode == 0
    report = json.loads(out.read_text())
    return {
        name: (entry["executed_lines"], entry["missing_lines"], entry.get("missing_branches"))
        for name, entry in report["files"].items()
    } | {"TOTAL": report["totals"]["percent_covered_display"]}


@pytest.mark.parametrize("engine", BRANCH_ENGINES)
@pytest.mark.parametrize(
    "how", [["--source=pkg"], ["--source=pkg", "--branch"], ["--source=pkg.used,pkg.unused"]]
)
def test_files_that_never_ran_are_reported_as_coverage_py_reports_them(
    tmp_path: Path, engine: str, how: list[str]
) -> None:
    """With a source, every importable file under it that never ran is in the data file
    and the reports at 0%, exactly the files coverage.py adds: the totals agree."""
    _project(tmp_path)
    run_coverage("run", *how, "main.py", cwd=tmp_path)
    theirs = _json_report("coverage", tmp_path)
    (tmp_path / ".coverage").unlink()
    ran = run_tally("run", f"--engine={engine}", *how, "main.py", cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert _json_report("tally", tmp_path) == theirs
    # coverage.py reading tally's data file sees the same files.
    assert _json_report("coverage", tmp_path) == theirs


@pytest.mark.parametrize("engine", BRANCH_ENGINES)
def test_a_source_never_imported_is_warned_of(tmp_path: Path, engine: str) -> None:
    _project(tmp_path)
    ran = run_tally("run", f"--engine={engine}", "--source=pkg,nowhere_xq", "main.py", cwd=tmp_path)
    assert "tally: warning: Module nowhere_xq was never imported. (module-not-imported)" in (
        ran.stderr
    )
    assert "never imported" not in ran.stderr.replace("nowhere_xq was never imported", "")


@pytest.mark.parametrize("engine", BRANCH_ENGINES)
def test_source_importable_only_once_the_program_runs(tmp_path: Path, engine: str) -> None:
    """`--source=mody` where the program itself puts mody's directory on sys.path, and
    `--include` keeps the main script out, as coverage.py does."""
    write(tmp_path / "sub" / "mody.py", "def g(x):\n    if x:\n        return 1\n    return 2\n")
    write(tmp_path / "drv2.py", "import sys\nsys.path.insert(0, 'sub')\nimport mody\nmody.g(1)\n")
    for how in (["--source=mody"], ["--include=sub/mody.py"]):
        run_coverage("run", "--branch", *how, "drv2.py", cwd=tmp_path)
        theirs = _json_report("coverage", tmp_path)
        assert list(theirs) == ["sub/mody.py", "TOTAL"]
        ran = run_tally("run", f"--engine={engine}", "--branch", *how, "drv2.py", cwd=tmp_path)
        assert ran.returncode == 0, ran.stderr
        assert "warning" not in ran.stderr
        assert _json_report("tally", tmp_path) == theirs


@pytest.mark.parametrize("engine", BRANCH_ENGINES)
def test_pytest_source_module_in_the_rootdir(tmp_path: Path, engine: str) -> None:
    """`pytest --tally=single` where single.py sits in the rootdir, which pytest puts on
    sys.path only when it collects the tests."""
    write(tmp_path / "single.py", "def h(a):\n    return a + 1\n")
    write(tmp_path / "test_s.py", "import single\ndef test_h():\n    assert single.h(1) == 2\n")
    ran = pytest_run(tmp_path, "--tally=single", env=tally_env(TALLY_ENGINE=engine))
    assert ran.returncode == 0, ran.stdout + ran.stderr
    report = _json_report("tally", tmp_path)
    assert report == {"single.py": ([1, 2], [], None), "TOTAL": "100"}


@pytest.mark.parametrize("engine", BRANCH_ENGINES)
def test_pytest_reports_source_files_no_test_imported(tmp_path: Path, engine: str) -> None:
    _project(tmp_path)
    write(tmp_path / "test_m.py", "import pkg.used\ndef test_f():\n    assert pkg.used.f(1)\n")
    ran = pytest_run(tmp_path, "--tally=pkg", "--tally-branch", env=tally_env(TALLY_ENGINE=engine))
    assert ran.returncode == 0, ran.stdout + ran.stderr
    report = _json_report("tally", tmp_path)
    assert sorted(report) == [
        "TOTAL",
        "pkg/__init__.py",
        "pkg/broken_name-1.py",
        "pkg/sub/__init__.py",
        "pkg/sub/never.py",
        "pkg/unused.py",
        "pkg/used.py",
    ]
    assert report["pkg/unused.py"] == ([], [1, 2, 3], [[2, -1], [2, 3]])


def test_disable_warnings_silences_a_warning_by_its_slug(tmp_path: Path) -> None:
    _project(tmp_path)
    write(tmp_path / ".coveragerc", "[run]\ndisable_warnings = module-not-imported\n")
    ran = run_tally("run", "--source=pkg,nowhere_xq", "main.py", cwd=tmp_path)
    assert ran.returncode == 0
    assert "never imported" not in ran.stderr
    write(tmp_path / ".coveragerc", "[run]\ndisable_warnings = no-data-collected\n")
    ran = run_tally("run", "--source=nowhere_xq", "main.py", cwd=tmp_path)
    assert ran.stderr.splitlines() == [
        "tally: warning: Module nowhere_xq was never imported. (module-not-imported)"
    ]


def test_the_pytest_plugin_warns_of_a_source_never_imported(tmp_path: Path) -> None:
    _project(tmp_path)
    write(tmp_path / "test_main.py", "import main\n\n\ndef test_runs():\n    pass\n")
    ran = pytest_run(tmp_path, "--tally=pkg", "--tally=nowhere_xq")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "tally: warning: Module nowhere_xq was never imported. (module-not-imported)" in (
        ran.stdout
    )
    write(tmp_path / ".coveragerc", "[run]\ndisable_warnings = module-not-imported\n")
    assert "never imported" not in pytest_run(tmp_path, "--tally=pkg", "--tally=nowhere_xq").stdout
