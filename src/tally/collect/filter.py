"""Which source files to measure: --source, --include/--omit, and the defaults coverage.py uses."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import re
import site
import sys
import sysconfig
from collections.abc import Iterable, Iterator

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
    """Decides, once per file, whether it's measured; remembers the decision and its reason.

    A `source` entry that is a directory or a file is matched by path. Any other entry (and
    every `source_pkgs` entry) is a module name, matched as coverage.py matches it: against
    modules as they are imported, so a package that only becomes importable once the run has
    started (pytest puts its rootdir on sys.path itself) is measured too.
    """

    def __init__(
        self,
        *,
        source: Iterable[str] = (),
        source_pkgs: Iterable[str] = (),
        include: Iterable[str] = (),
        omit: Iterable[str] = (),
        cover_pylib: bool = False,
        cwd: str | None = None,
        extra_files: Iterable[str] = (),
    ) -> None:
        self.cwd = canonical(cwd or os.getcwd())
        self.source_dirs: list[str] = []
        self.source_files: list[str] = []
        self.source_names: list[str] = []  # module names, in the order given
        self._pending: list[str] = []  # names not matched to a place yet
        self._given_dirs: list[str] = []
        for entry in source:
            self._add_source(entry)
        for name in source_pkgs:
            self._add_name(name)
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
            self._given_dirs.append(path)
        elif os.path.isfile(path):
            self.source_files.append(path)
        else:
            self._add_name(entry)

    def _add_name(self, name: str) -> None:
        """Measure the module or package `name`: placed now when finding it imports
        nothing, else when it is imported."""
        self.source_names.append(name)
        if not self._place(_spec_without_importing(name)):
            self._pending.append(name)

    def _place(self, spec: importlib.machinery.ModuleSpec | None) -> bool:
        """Measure where `spec` says a source module's code is; False if nowhere."""
        if spec is None:
            return False
        if spec.submodule_search_locations:
            self.source_dirs.extend(canonical(p) for p in spec.submodule_search_locations)
        elif spec.origin and os.path.isfile(spec.origin):
            self.source_files.append(canonical(spec.origin))
        else:
            return False
        return True

    def _place_pending(self, filename: str, module: str | None) -> None:
        """Place the source names imported since the last look, and `module` (from
        `filename`, being imported now) when it is one: a dict look-up a waiting name."""
        placed = []
        for name in self._pending:
            if name == module:
                path = canonical(filename, self.cwd)
                if os.path.basename(path).startswith("__init__."):
                    self.source_dirs.append(os.path.dirname(path))
                else:
                    self.source_files.append(path)
                placed.append(name)
            elif name in sys.modules and self._place(getattr(sys.modules[name], "__spec__", None)):
                placed.append(name)
        if placed:
            self._pending = [name for name in self._pending if name not in placed]
            self._decisions.clear()

    @property
    def unimported_sources(self) -> list[str]:
        """The source module names that nothing imported (coverage.py's "Module X was
        never imported")."""
        return [name for name in self.source_names if name not in sys.modules]

    def possibly_unexecuted(self, include_namespace_packages: bool = False) -> list[str]:
        """Every Python file under the source that could have run, as coverage.py finds
        its unexecuted files (reported at 0% when they never ran): the importable files
        below each source directory and each imported source package, less those omitted."""
        roots = list(self._given_dirs)
        for name in self.source_names:
            origin = getattr(sys.modules.get(name), "__file__", None)
            if origin and os.path.basename(origin).startswith("__init__."):
                roots.append(canonical(os.path.dirname(origin)))
        found: dict[str, None] = {}
        for root in dict.fromkeys(roots):
            for path in _python_files(root, include_namespace_packages):
                if not (self.omit and self.omit.match(path)):
                    found[path] = None
        return list(found)

    @property
    def has_source(self) -> bool:
        """Was --source given (so only those places are measured)?"""
        return bool(self.source_dirs or self.source_files or self.source_names)

    def should_measure(self, filename: str, module: str | None = None) -> bool:
        """Should code from `filename` (as in co_filename) be measured? `module` is its
        module's name when an import is asking."""
        if self._pending and (module is not None or filename not in self._decisions):
            self._place_pending(filename, module)
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
        if path in self.extra_files and not self.has_source and not self.include:
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


def _spec_without_importing(name: str) -> importlib.machinery.ModuleSpec | None:
    """The module `name`'s spec when finding it imports nothing (a top-level name, or one
    whose parent package is imported already), else None: finding `a.b` imports `a`, and
    code imported before measurement starts would be missed."""
    parent = name.rpartition(".")[0]
    if parent and parent not in sys.modules:
        return None
    try:
        return importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None


# coverage.py's rule for a file name that could be imported (editor side-files and names
# with characters no module name has are left out).
_IMPORTABLE = re.compile(r"^[^.#~!$@%^&*()+=,]+\.pyw?$")


def _python_files(directory: str, namespaces: bool, *, top: bool = True) -> Iterator[str]:
    """The importable Python files below `directory`, as coverage.py's find_python_files
    finds them: a subdirectory counts only with an `__init__.py` (any, with `namespaces`),
    the named directory itself needs none; links to directories are not followed. The
    paths are canonical: a file that is a link is resolved, the rest joined to `directory`
    (canonical already), which saves a realpath() a file on large trees."""
    try:
        entries = sorted(os.scandir(directory), key=lambda entry: entry.name)
    except OSError:
        return
    if not top and not namespaces and not any(e.name == "__init__.py" for e in entries):
        return
    for entry in entries:
        if entry.is_dir():
            if not entry.is_symlink():
                yield from _python_files(entry.path, namespaces, top=False)
        elif _IMPORTABLE.match(entry.name):
            yield os.path.realpath(entry.path) if entry.is_symlink() else entry.path
