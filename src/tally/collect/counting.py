"""The count engine: exact per-line execution counts from counters compiled into the code."""

from __future__ import annotations

import builtins
import sys
from collections.abc import Callable
from types import CodeType, ModuleType
from typing import TYPE_CHECKING, Any

from tally.collect.filter import FileFilter
from tally.collect.importer import InstrumentingFinder, instrument_tree, instrumented_or_none
from tally.collect.rewrite import ENTRY_HELPER, HIT_HELPER, TICK_HELPER, counter_name
from tally.data.sqlite import Measurement
from tally.paths import canonical
from tally.types import Count, LineNo

if TYPE_CHECKING:
    import ast

__all__ = ["CountEngine", "derive_case_counts"]


def _hit(counters: list[int], line: int, value: Any) -> Any:
    """Count an `except E:` test and hand back E (the rewriter wraps E in this call)."""
    counters[line] += 1
    return value


def _tick(counters: list[int], line: int) -> bool:
    """Count one call or iteration of nested code (a lambda or comprehension)."""
    counters[line] += 1
    return True


def _entry(counters: list[int], line: int, iterable: Any) -> Any:
    """Count the start of a comprehension's own code object; hand back its iterable."""
    counters[line] += 1
    return iterable


def _line_count(path: str) -> int:
    try:
        with open(path, "rb") as handle:
            return handle.read().count(b"\n") + 2
    except OSError:
        return 2


class CountEngine:
    """Instruments measured modules as they're imported (and the main script), then reads the
    counter lists back. Counters live in `builtins`, one list per file, so instrumented code
    finds them from any globals; they stay there after stop() because code that was
    instrumented may still run (threads, atexit handlers)."""

    name = "count"
    supports_counts = True

    def __init__(self, file_filter: FileFilter) -> None:
        self.filter = file_filter
        self._arrays: dict[str, list[int]] = {}  # canonical path -> counters by line
        self._totals: dict[str, dict[LineNo, Count]] = {}
        self._finder = InstrumentingFinder(file_filter.should_measure, self._register)
        self._running = False
        self._pytest_patched = False

    def _register(self, path: str, _name: str = "") -> list[int]:
        """The counter list for the file at `path`, created in builtins on first use."""
        key = canonical(path, self.filter.cwd)
        name = counter_name(path)
        array = self._arrays.get(key)
        existing = builtins.__dict__.get(name)
        size = _line_count(path)
        if array is None:
            array = existing if isinstance(existing, list) else [0] * size
            self._arrays[key] = array
        if len(array) < size:
            array.extend([0] * (size - len(array)))
        builtins.__dict__[name] = array
        return array

    def start(self) -> None:
        """Install the import hook; zero the counters of files seen before."""
        for array in self._arrays.values():
            array[:] = [0] * len(array)
        builtins.__dict__[HIT_HELPER] = _hit
        builtins.__dict__[TICK_HELPER] = _tick
        builtins.__dict__[ENTRY_HELPER] = _entry
        if self._finder not in sys.meta_path:
            sys.meta_path.insert(0, self._finder)
        self._running = True
        _watch_pytest(self)

    def stop(self) -> None:
        """Remove the import hook and bank the counts so far."""
        if self._finder in sys.meta_path:
            sys.meta_path.remove(self._finder)
        self._bank()
        self._running = False

    def _bank(self) -> None:
        for path, array in self._arrays.items():
            totals = self._totals.setdefault(path, {})
            for line, n in enumerate(array):
                if n:
                    totals[line] = totals.get(line, 0) + n
            array[:] = [0] * len(array)

    def measurement(self) -> Measurement:
        """Counts (and so executed lines) for every instrumented file."""
        if self._running:
            self._bank()
        counts: dict[str, dict[LineNo, Count]] = {}
        for path in self._arrays:
            file_counts = dict(self._totals.get(path, {}))
            derive_case_counts(path, file_counts)
            counts[path] = file_counts
        lines = {path: set(c) for path, c in counts.items()}
        return Measurement(lines, counts, {"tally_engine": self.name})

    def compile_main(self, path: str, source: str) -> CodeType:
        """The main script, instrumented when it is measured."""
        if not self.filter.should_measure(path):
            return compile(source, path, "exec", dont_inherit=True)
        self._register(path)
        code = instrumented_or_none(source, path)
        return compile(source, path, "exec", dont_inherit=True) if code is None else code

    def patch_pytest(self, rewrite: ModuleType) -> None:
        """Make pytest's assertion rewriting instrument measured test files too.

        pytest compiles test files and conftests itself (an import hook ahead of ours), so we
        instrument the AST just before it rewrites asserts, register the counters before the
        module runs, and give its .pyc cache a tag of its own so plain pytest never loads
        instrumented code.
        """
        if self._pytest_patched or not hasattr(rewrite, "rewrite_asserts"):
            return
        self._pytest_patched = True
        engine = self
        original: Callable[..., None] = getattr(rewrite, "rewrite_asserts")  # noqa: B009

        def rewrite_asserts(
            mod: ast.Module, source: bytes, module_path: str | None = None, config: Any = None
        ) -> None:
            if module_path and engine._running and engine.filter.should_measure(module_path):
                instrument_tree(mod, source, module_path)
            original(mod, source, module_path, config)

        setattr(rewrite, "rewrite_asserts", rewrite_asserts)  # noqa: B010
        tail = getattr(rewrite, "PYC_TAIL", None)
        if isinstance(tail, str):
            from tally import __version__

            # pytest reads this module constant at each cache lookup.
            setattr(rewrite, "PYC_TAIL", tail.replace(".pyc", f".tally-{__version__}.pyc"))  # noqa: B010
        hook = getattr(rewrite, "AssertionRewritingHook", None)
        if hook is not None and hasattr(hook, "exec_module"):
            exec_module: Callable[[Any, ModuleType], None] = hook.exec_module

            def exec_with_counters(self: Any, module: ModuleType) -> None:
                origin = getattr(module.__spec__, "origin", None)
                if origin and engine.filter.should_measure(origin):
                    engine._register(origin)
                exec_module(self, module)

            hook.exec_module = exec_with_counters


def _watch_pytest(engine: CountEngine) -> None:
    """Patch pytest's assertion rewriter now if imported, else as soon as it is."""
    module = sys.modules.get("_pytest.assertion.rewrite")
    if module is not None:
        engine.patch_pytest(module)
        return
    watcher = _ImportWatcher("_pytest.assertion.rewrite", engine.patch_pytest)
    sys.meta_path.insert(0, watcher)


class _ImportWatcher:
    """A meta path entry that runs `callback(module)` right after one module is executed."""

    def __init__(self, name: str, callback: Callable[[ModuleType], None]) -> None:
        self.name = name
        self.callback = callback

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname != self.name:
            return None
        sys.meta_path.remove(self)
        import importlib.util

        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        loader = spec.loader
        callback = self.callback
        original_exec = loader.exec_module

        def exec_module(module: ModuleType) -> None:
            original_exec(module)
            callback(module)

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def derive_case_counts(path: str, counts: dict[LineNo, Count]) -> None:
    """Turn `case` lines' entry counts into test counts: a case is tested each time the match
    runs and no earlier case matched (case bodies count their entries on the case line)."""
    if not counts:
        return
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError:
        return
    if b"match" not in data:
        return
    import ast

    try:
        tree = ast.parse(data)
    except (SyntaxError, ValueError):
        return
    for node in ast.walk(tree):
        if not isinstance(node, ast.Match):
            continue
        remaining = counts.get(node.lineno, 0)
        for case in node.cases:
            line = case.pattern.lineno
            entered = counts.get(line, 0)
            if remaining:
                counts[line] = remaining
            else:
                counts.pop(line, None)
            remaining -= entered
