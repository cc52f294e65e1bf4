"""Which source files to measure: --source, --include/--omit, and the defaults coverage.py uses."""

from __future__ import annotations

import importlib.util
import os
import site
import sys
import sysconfig
from collections.abc import Iterable

from tally.paths import TALLY_DIR, GlobMatcher, canonical, is_under, prep_patterns

__all__ = ["FileFilter"]


def _stdlib_dirs() -> list[str]:
    paths = sysconfig.get_paths()
    dirs = {paths["stdlib"], paths["platstdlib"], os.path.dirname(os.__file__)}
    return sorted({canonical(d) for d in dirs if d})


def _third_party_dirs() -> list[str]:
    paths = sysconfig.get_paths()
    dirs = {paths["purelib"], paths["platlib"]}
    dirs.update(getattr(site, "getsitepackages", list)())
    user = getattr(site, "getusersitepackages", lambda: "")()
    if user:
        dirs.add(user)
    dirs.update(p for p in sys.path if p.rstrip("/\\").endswith(("site-packages", "dist-packages")))
    return sorted({canonical(d) for d in dirs if d})


class FileFilter:
    """Decides, once per file, whether it's measured; remembers the decision and its reason."""

    def __init__(
        self,
        *,
        source: Iterable[str] = (),
        include: Iterable[str] = (),
        omit: Iterable[str] = (),
        cover_pylib: bool = False,
        cwd: str | None = None,
        extra_files: Iterable[str] = (),
    ) -> None:
        self.cwd = canonical(cwd or os.getcwd())
        self.source_dirs: list[str] = []
        self.source_files: list[str] = []
        self.unresolved_sources: list[str] = []
        for entry in source:
            self._add_source(entry)
        self.include = GlobMatcher(prep_patterns(include, self.cwd)) if include else None
        self.omit = GlobMatcher(prep_patterns(omit, self.cwd)) if omit else None
        self.cover_pylib = cover_pylib
        self.stdlib = _stdlib_dirs()
        self.third_party = _third_party_dirs()
        self.extra_files = {canonical(f) for f in extra_files}
        self._decisions: dict[str, tuple[bool, str]] = {}

    def _add_source(self, entry: str) -> None:
        path = canonical(entry, self.cwd)
        if os.path.isdir(path):
            self.source_dirs.append(path)
            return
        if os.path.isfile(path):
            self.source_files.append(path)
            return
        # Not a directory: an importable package or module name, as coverage.py accepts.
        try:
            spec = importlib.util.find_spec(entry)
        except (ImportError, ValueError):
            spec = None
        if spec is None:
            self.unresolved_sources.append(entry)
        elif spec.submodule_search_locations:
            self.source_dirs.extend(canonical(p) for p in spec.submodule_search_locations)
        elif spec.origin and os.path.isfile(spec.origin):
            self.source_files.append(canonical(spec.origin))

    @property
    def has_source(self) -> bool:
        """Was --source given (so only those places are measured)?"""
        return bool(self.source_dirs or self.source_files or self.unresolved_sources)

    def should_measure(self, filename: str) -> bool:
        """Should code from `filename` (as in co_filename) be measured?"""
        decision = self._decisions.get(filename)
        if decision is None:
            decision = self._decide(filename)
            self._decisions[filename] = decision
        return decision[0]

    def reason(self, filename: str) -> str:
        """Why `filename` is or isn't measured (for --debug)."""
        self.should_measure(filename)
        return self._decisions[filename][1]

    def _decide(self, filename: str) -> tuple[bool, str]:
        if not filename or filename.startswith("<") or not filename.endswith((".py", ".pyw")):
            return False, "not a Python source file"
        path = canonical(filename, self.cwd)
        if is_under(path, TALLY_DIR):
            return False, "tally never measures itself"
        if self.omit and self.omit.match(path):
            return False, "matches omit"
        if path in self.extra_files and not self.has_source:
            return True, "the program being run"
        if self.has_source:
            if path in self.source_files or any(is_under(path, d) for d in self.source_dirs):
                return True, "inside --source"
            return False, "outside --source"
        if self.include:
            if self.include.match(path):
                return True, "matches include"
            return False, "doesn't match include"
        # Third-party first: in a venv, sysconfig's platstdlib is the venv's lib/pythonX.Y,
        # which holds its site-packages.
        if any(is_under(path, d) for d in self.third_party):
            return False, "an installed third-party package"
        if not self.cover_pylib and any(is_under(path, d) for d in self.stdlib):
            return False, "in the standard library"
        if is_under(path, self.cwd):
            return True, "under the current directory"
        return False, "outside the current directory"
