"""File paths: canonical forms and glob matching, for POSIX and Windows paths."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tally.paths import GlobMatcher, canonical, is_under, prep_patterns, relative_name


def test_relative_paths_become_absolute_and_symlinks_resolve(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (real / "m.py").write_text("")
    link = tmp_path / "link"
    link.symlink_to(real)
    assert canonical("link/./m.py", str(tmp_path)) == str((real / "m.py").resolve())


def test_windows_paths_are_normalised_wherever_we_run() -> None:
    assert canonical(r"C:\proj\src\..\pkg\mod.py") == r"C:\proj\pkg\mod.py"
    assert canonical("C:/proj/pkg/mod.py") == r"C:\proj\pkg\mod.py"


def test_is_under_for_windows_paths_ignores_case() -> None:
    assert is_under(r"c:\Proj\pkg\mod.py", r"C:\proj")
    assert not is_under(r"C:\projects\mod.py", r"C:\proj")


def test_is_under_needs_a_whole_directory_name() -> None:
    assert is_under("/a/b/c.py", "/a/b")
    assert not is_under("/a/bc/d.py", "/a/b")


def test_relative_name_inside_and_outside_base() -> None:
    assert relative_name("/work/src/m.py", "/work") == "src/m.py"
    assert relative_name("/elsewhere/m.py", "/work") == "/elsewhere/m.py"
    assert relative_name(r"C:\work\src\m.py", r"C:\work") == r"src\m.py"


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("*/tests/*", "/p/tests/test_a.py", True),
        ("*/tests/*", "/p/src/a.py", False),
        ("*.py", "/deep/dir/a.py", True),
        ("src/*", "/root/src/a.py", True),
        ("src/*", "/root/src/sub/a.py", True),  # a trailing /* takes subdirectories too
        ("src/*.py", "/root/src/sub/a.py", False),
        ("src/**/*.py", "/root/src/sub/deep/a.py", True),
        ("*/tests/*", r"C:\p\tests\test_a.py", True),
    ],
)
def test_globs_follow_coverage_py(pattern: str, path: str, matches: bool) -> None:
    prepped = prep_patterns([pattern], "/root")
    assert GlobMatcher(prepped, case_insensitive=False).match(path) is matches


def test_prep_patterns_adds_the_absolute_form() -> None:
    assert prep_patterns(["src/*", "*/x"], "/r") == ["src/*", os.path.join("/r", "src/*"), "*/x"]


def test_bad_glob_is_a_config_error() -> None:
    from tally.exceptions import ConfigError

    with pytest.raises(ConfigError, match="can't include"):
        GlobMatcher(["a***b"])
