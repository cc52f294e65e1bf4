"""The import hook that instruments measured modules as they load, caching what it compiles.

Like pytest's assertion rewriting, the instrumented code is cached beside the source in
`__pycache__`, under a tag of its own (`<name>.<cache_tag>.tally-<version>-<format>.pyc`,
`...-<format>b.pyc` with branch counters), so a second run pays nothing to instrument and
plain Python never loads it.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import marshal
import os
import sys
from collections.abc import Callable, Sequence
from types import CodeType, ModuleType
from typing import TYPE_CHECKING

from tally import env

if TYPE_CHECKING:
    import ast

__all__ = ["InstrumentingFinder", "cache_suffix", "compile_instrumented", "instrumented_or_none"]

# The instrumentation's format: bump it whenever instrumented code changes shape, so no
# cache (ours, or pytest's under CACHE_SUFFIX) hands old code to a new engine.
_FORMAT = 9
_CACHE_MAGIC = b"TLY%d" % _FORMAT + importlib.util.MAGIC_NUMBER


def cache_suffix(branch: bool) -> str:
    """What instrumented .pyc names carry before `.pyc`: tally's version and format, and
    whether branch arms are counted (the code differs)."""
    from tally import __version__

    return f".tally-{__version__}-{_FORMAT}{'b' if branch else ''}"


def _cache_path(source_path: str, branch: bool) -> str | None:
    if env.CACHE_TAG is None or sys.dont_write_bytecode:
        return None
    directory, name = os.path.split(source_path)
    stem = name.rsplit(".", 1)[0]
    suffix = cache_suffix(branch)
    return os.path.join(directory, "__pycache__", f"{stem}.{env.CACHE_TAG}{suffix}.pyc")


def _read_cache(cache: str, path: str, stamp: tuple[int, int]) -> CodeType | None:
    try:
        with open(cache, "rb") as handle:
            data = handle.read()
        if not data.startswith(_CACHE_MAGIC):
            return None
        saved_path, mtime, size, code = marshal.loads(data[len(_CACHE_MAGIC) :])
    except (OSError, ValueError, EOFError, TypeError):
        return None
    if (saved_path, mtime, size) != (path, *stamp) or not isinstance(code, CodeType):
        return None
    return code


def _write_cache(cache: str, path: str, stamp: tuple[int, int], code: CodeType) -> None:
    try:
        os.makedirs(os.path.dirname(cache), exist_ok=True)
        temp = f"{cache}.{os.getpid()}.tmp"
        with open(temp, "wb") as handle:
            handle.write(_CACHE_MAGIC + marshal.dumps((path, *stamp, code)))
        os.replace(temp, cache)
    except OSError:
        pass  # a read-only tree just goes without the cache


def instrument_tree(
    tree: ast.Module, source: str | bytes, path: str, branch: bool = False
) -> ast.Module:
    """Instrument an already-parsed module (also used on pytest's rewritten test files),
    with `branch`, counting each arm of each decision too."""
    from tally.collect.rewrite import instrument

    original = compile(source, path, "exec", dont_inherit=True)
    if not branch:
        return instrument(tree, path, original).tree
    from tally.analysis.arcs import find_arcs
    from tally.analysis.source import multiline_map, raw_statement_lines

    text = source if isinstance(source, str) else _decode(source)
    arcs = find_arcs(tree, raw_statement_lines(original), multiline_map(text))
    return instrument(tree, path, original, arcs).tree


def _decode(source: bytes) -> str:
    """Source bytes as text, by their coding declaration as Python reads them."""
    import io
    import tokenize

    encoding, _ = tokenize.detect_encoding(io.BytesIO(source).readline)
    return source.decode(encoding)


def compile_instrumented(source: str | bytes, path: str, branch: bool = False) -> CodeType:
    """Compile `source` (the file at `path`) with counters in it."""
    import ast

    tree = ast.parse(source, path)
    instrumented = instrument_tree(tree, source, path, branch)
    return compile(instrumented, path, "exec", dont_inherit=True)


def instrumented_or_none(source: str | bytes, path: str, branch: bool = False) -> CodeType | None:
    """`source` compiled with counters; None (after one warning) if instrumenting fails for
    any reason but the user's own syntax error, which is raised as Python raises it, so the
    caller can run the module plainly instead of breaking the user's program."""
    try:
        return compile_instrumented(source, path, branch)
    except SyntaxError:
        raise
    except Exception as exc:
        print(
            f"tally: warning: couldn't instrument {path} ({type(exc).__name__}: {exc}); "
            "it runs unmeasured",
            file=sys.stderr,
        )
        return None


class _InstrumentingLoader(importlib.machinery.SourceFileLoader):
    """A SourceFileLoader whose code carries counters; `on_load(path, code)` registers them."""

    on_load: Callable[[str, str], object]
    branch: bool

    def get_code(self, fullname: str) -> CodeType:
        path = self.get_filename(fullname)
        self.on_load(path, fullname)
        try:
            st = os.stat(path)
            stamp = (int(st.st_mtime_ns), st.st_size)
        except OSError:
            stamp = (0, 0)
        cache = _cache_path(path, self.branch)
        if cache is not None:
            code = _read_cache(cache, path, stamp)
            if code is not None:
                return code
        code = instrumented_or_none(self.get_data(path), path, self.branch)
        if code is None:
            plain = super().get_code(fullname)
            assert plain is not None  # a source file always compiles to code
            return plain
        if cache is not None and stamp != (0, 0):
            _write_cache(cache, path, stamp, code)
        return code


class InstrumentingFinder:  # a meta path finder: find_spec() is all the protocol asks
    """Finds modules with the finders after it, and gives measured source files our loader."""

    def __init__(
        self,
        should_measure: Callable[[str], bool],
        on_load: Callable[[str, str], object],
        branch: bool = False,
    ) -> None:
        self.should_measure = should_measure
        self.on_load = on_load
        self.branch = branch
        self._busy = False

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if self._busy:
            return None
        self._busy = True
        try:
            spec = importlib.machinery.PathFinder.find_spec(fullname, path, target)
        finally:
            self._busy = False
        if spec is None or spec.origin is None:
            return None
        if not isinstance(spec.loader, importlib.machinery.SourceFileLoader):
            return None
        if not self.should_measure(spec.origin):
            return None
        loader = _InstrumentingLoader(fullname, spec.origin)
        loader.on_load = self.on_load
        loader.branch = self.branch
        spec.loader = loader
        return spec
