"""Which files are measured: --source, include/omit, and coverage.py's defaults."""

from __future__ import annotations

import os
import sysconfig
from pathlib import Path

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
    assert f.unresolved_sources == ["no_such_thing_xyz"]


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
