"""The import hook that instruments measured modules as they load, caching what it compiles.

Instrumenting comes in three flavours: "count" puts counters in (rewrite.py), "branch"
counters and arm counters, "markers" only the monitor engine's arm markers (markers.py).
Like pytest's assertion rewriting, the instrumented code is cached beside the source in
`__pycache__`, under a tag of its own (pycache.py), so a second run pays nothing to
instrument and plain Python never loads it. Where `__pycache__` can't be used
(`PYTHONDONTWRITEBYTECODE`, a read-only tree), a content-addressed cache of tally's own
does the same (codecache.py). pytest compiles test files itself;
PytestPatch instruments those as it rewrites their asserts.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
from collections.abc import Callable, Sequence
from types import CodeType, ModuleType
from typing import TYPE_CHECKING, Any

from tally.collect.pycache import Flavour, cache_for, cache_suffix, read_cache, write_cache

if TYPE_CHECKING:
    import ast

    from tally.collect.codecache import CodeCache

__all__ = [
    "RAISING_NAME",
    "InstrumentingFinder",
    "PytestPatch",
    "compile_instrumented",
    "install_finder",
    "instrument_test_tree",
    "instrumented_or_none",
    "uncompiled",
    "watch_pytest",
]


def instrument_tree(
    tree: ast.Module,
    source: str | bytes,
    path: str,
    flavour: Flavour = "count",
    runs: CodeType | None = None,
) -> ast.Module:
    """Instrument an already-parsed module in place (also pytest's test files). `runs` is
    the code that will run, uninstrumented, when something rewrites the tree after us
    (pytest's asserts): the line events counted come from it, not from `source`."""
    from tally.collect.rewrite import instrument

    # The source's own code is needed for its arcs, and for its events unless `runs` is given.
    if flavour == "count" and runs is not None:
        return instrument(tree, path, runs, source=source).tree
    # The parsed tree compiles without parsing the source again (rewriting comes after).
    original = compile(tree, path, "exec", dont_inherit=True)
    if flavour == "count":
        return instrument(tree, path, original, source=source).tree
    from tally.analysis.arcs import source_arcs
    from tally.analysis.source import decode_source

    # Decoded as the save reads it back (markers.py), so both find the same arcs.
    text = source if isinstance(source, str) else decode_source(source)
    arcs = source_arcs(tree, text, original)
    if flavour == "markers":
        from tally.collect.markers import insert_markers, remember

        remember(path, insert_markers(tree, arcs))
        return tree
    return instrument(tree, path, runs or original, arcs, source).tree


def compile_instrumented(source: str | bytes, path: str, flavour: Flavour = "count") -> CodeType:
    """Compile `source` (the file at `path`) instrumented."""
    import ast

    __tracebackhide__ = True  # the user's SyntaxError is the user's (pytest hides us)
    # compile(), not ast.parse: a SyntaxError then has no frame of ast.py's either.
    tree = compile(source, path, "exec", ast.PyCF_ONLY_AST, dont_inherit=True)
    assert isinstance(tree, ast.Module)
    instrumented = instrument_tree(tree, source, path, flavour)
    return compile(instrumented, path, "exec", dont_inherit=True)


def instrumented_or_none(
    source: str | bytes, path: str, flavour: Flavour = "count"
) -> CodeType | None:
    """`source` compiled instrumented; None (after one warning) if instrumenting fails for
    any reason but the user's own syntax error, which is raised as Python raises it, so the
    caller can run the module plainly instead of breaking the user's program."""
    __tracebackhide__ = True
    try:
        return compile_instrumented(source, path, flavour)
    except SyntaxError:
        raise
    except Exception as exc:
        from tally.warnings import Notice, warn

        warn(
            Notice(
                f"couldn't instrument {path} ({type(exc).__name__}: {exc}); it runs unmeasured",
                "couldnt-instrument",
            )
        )
        return None


class _InstrumentingLoader(importlib.machinery.SourceFileLoader):
    """A SourceFileLoader whose code carries counters; `on_load(path, code)` registers them."""

    on_load: Callable[[str, str], object]
    flavour: Flavour
    cache: CodeCache | None

    def get_code(self, fullname: str) -> CodeType:
        __tracebackhide__ = True
        path = self.get_filename(fullname)
        self.on_load(path, fullname)
        where = cache_for(path, self.flavour)  # the stamp from before the source is read
        if where is not None:
            code = read_cache(where[0], path, where[1])
            if isinstance(code, CodeType):
                return code
        source = self.get_data(path)
        # Where __pycache__ can't serve (not written, or not writable), the content cache
        # does: a fresh clone finds what an earlier clone instrumented.
        key = None
        if self.cache is not None:
            key = self.cache.key(path, source, cache_suffix(self.flavour) + ".pyc")
            code = self.cache.load(key)
            if isinstance(code, CodeType):
                return code
        try:
            code = instrumented_or_none(source, path, self.flavour)
        except SyntaxError as err:
            return _raising(err, path)
        if code is None:
            plain = super().get_code(fullname)
            assert plain is not None  # a source file always compiles to code
            return plain
        written = where is not None and write_cache(where[0], path, where[1], code)
        if self.cache is not None and key is not None and not written:
            self.cache.store(key, code)
        return code


# The user's errors in modules that didn't compile, by path, until their stand-in raises
# them (_raising).
_UNCOMPILED: dict[str, SyntaxError] = {}
# The file name of that stand-in: programs' tracebacks leave it out (collect/program.py).
RAISING_NAME = "<tally: a module that didn't compile>"


def _raising(error: SyntaxError, path: str) -> CodeType:
    """A module's code in place of code that didn't compile: it raises the user's
    `error`, out of the import machinery's exec, as Python's own loader's compile raises
    it from a call whose frames Python removes from tracebacks. So the traceback is the
    user's, as plain Python shows it; the stand-in's own frame is hidden, from pytest by
    __tracebackhide__ and from `tally run` by its file name."""
    _UNCOMPILED[path] = error.with_traceback(None)
    return compile(
        "__tracebackhide__ = True\n"
        "raise __import__('tally.collect.importer', fromlist=['_']).uncompiled(__file__)\n",
        RAISING_NAME,
        "exec",
        dont_inherit=True,
    )


def uncompiled(path: str) -> SyntaxError:
    """The error of the module at `path` that didn't compile (for its stand-in)."""
    return _UNCOMPILED.pop(path)


class InstrumentingFinder:  # a meta path finder: find_spec() is all the protocol asks
    """Finds modules with the finders after it, and gives measured source files our loader."""

    def __init__(
        self,
        should_measure: Callable[[str, str], bool],
        on_load: Callable[[str, str], object],
        flavour: Flavour = "count",
        cache: CodeCache | None = None,
    ) -> None:
        self.should_measure = should_measure
        self.on_load = on_load
        self.flavour = flavour
        self.cache = cache
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
        if not self.should_measure(spec.origin, fullname):
            return None
        loader = _InstrumentingLoader(fullname, spec.origin)
        loader.on_load = self.on_load
        loader.flavour = self.flavour
        loader.cache = self.cache
        spec.loader = loader
        return spec


class PytestPatch:
    """Makes pytest's assertion rewriting instrument measured test files too.

    pytest compiles test files and conftests itself (an import hook ahead of ours), so we
    instrument the AST just before it rewrites asserts, call `before_exec(path)` before such
    a module runs, and give its .pyc cache a tag of its own so plain pytest never loads
    instrumented code. `wants(path)` says whether to instrument a file now.
    """

    def __init__(
        self,
        flavour: Flavour,
        wants: Callable[[str], bool],
        before_exec: Callable[[str], object] | None = None,
    ) -> None:
        self.flavour = flavour
        self.wants = wants
        self.before_exec = before_exec
        self.applied = False

    def apply(self, rewrite: ModuleType) -> None:
        """Patch pytest's `_pytest.assertion.rewrite` module (once)."""
        if self.applied or not hasattr(rewrite, "rewrite_asserts"):
            return
        self.applied = True
        patch = self
        original: Callable[..., None] = getattr(rewrite, "rewrite_asserts")  # noqa: B009

        def rewrite_asserts(
            mod: ast.Module, source: bytes, module_path: str | None = None, config: Any = None
        ) -> None:
            if module_path and patch.wants(module_path):
                instrument_test_tree(
                    original, mod, source, module_path, patch.flavour, config=config
                )
            original(mod, source, module_path, config)

        setattr(rewrite, "rewrite_asserts", rewrite_asserts)  # noqa: B010
        tail = getattr(rewrite, "PYC_TAIL", None)
        if isinstance(tail, str):
            # pytest reads this module constant at each cache lookup.
            tagged = tail.replace(".pyc", f"{cache_suffix(self.flavour)}.pyc")
            setattr(rewrite, "PYC_TAIL", tagged)  # noqa: B010
        hook = getattr(rewrite, "AssertionRewritingHook", None)
        if self.before_exec is not None and hook is not None and hasattr(hook, "exec_module"):
            exec_module: Callable[[Any, ModuleType], None] = hook.exec_module
            before_exec = self.before_exec

            def exec_with_counters(self: Any, module: ModuleType) -> None:
                __tracebackhide__ = True
                origin = getattr(module.__spec__, "origin", None)
                if origin:
                    before_exec(origin)
                exec_module(self, module)

            hook.exec_module = exec_with_counters


def instrument_test_tree(
    rewrite_asserts: Callable[..., None],
    tree: ast.Module,
    source: bytes,
    path: str,
    flavour: Flavour,
    *,
    config: Any = None,
) -> None:
    """Instrument a test module's tree in place, just before pytest's `rewrite_asserts`
    rewrites it: its events are those of the code pytest's rewrite runs."""
    runs = None
    if flavour != "markers" and _spans_lines_asserting(tree.body):
        runs = _rewritten_code(rewrite_asserts, source, path, config)
    instrument_tree(tree, source, path, flavour, runs)


def _spans_lines_asserting(body: list[ast.stmt]) -> bool:
    """Is there an `assert` spread over lines among these statements (in any statement list
    under them)? Only such an assert makes other line events once pytest rewrites it: a
    rewritten assert on one line runs all its code on that line, and pytest rewrites
    nothing else (its imports go on the first statement's line)."""
    import ast

    from tally.analysis.nodes import BLOCK_FIELDS

    todo = list(body)
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Assert):
            if (node.end_lineno or node.lineno) > node.lineno:
                return True
            continue
        for field in BLOCK_FIELDS:
            todo.extend(getattr(node, field, ()))
    return False


def _rewritten_code(
    rewrite_asserts: Callable[..., None],
    source: bytes,
    module_path: str,
    config: Any,
) -> CodeType:
    """The test module as it will run without tally: pytest's rewritten asserts make other
    line events than the source's (`assert x == [` on several lines comes back to its
    first line once, not twice), and counts follow what runs. Rewritten on a tree of its
    own (parsed again: a deep copy of the tree costs several parses), with pytest's
    warnings silenced: the real rewrite that follows gives them once."""
    import ast
    import warnings

    rewritten = ast.parse(source, module_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rewrite_asserts(rewritten, source, module_path, config)
    return compile(rewritten, module_path, "exec", dont_inherit=True)


def install_finder(finder: InstrumentingFinder) -> None:
    """Put `finder` in `sys.meta_path` ahead of the path finders, but behind pytest's
    assertion rewriter when it is already there (`pytest --tally` starts tally after
    pytest installed it): pytest compiles test files itself, instrumented by PytestPatch,
    and a test file tally compiled would lose pytest's assertion messages."""
    if finder in sys.meta_path:
        return
    at = 0
    for index, entry in enumerate(sys.meta_path):
        if type(entry).__name__ == "AssertionRewritingHook":
            at = index + 1
    sys.meta_path.insert(at, finder)


def watch_pytest(patch: PytestPatch) -> None:
    """Apply `patch` to pytest's assertion rewriter now if imported, else as soon as it is
    (each start() asks; one watcher waits at a time)."""
    module = sys.modules.get("_pytest.assertion.rewrite")
    if module is not None:
        patch.apply(module)
        return
    waiting = (w for w in sys.meta_path if isinstance(w, _ImportWatcher))
    if not any(w.callback == patch.apply for w in waiting):
        sys.meta_path.insert(0, _ImportWatcher("_pytest.assertion.rewrite", patch.apply))


class _ImportWatcher:
    """A meta path entry that runs `callback(module)` right after one module is executed."""

    def __init__(self, name: str, callback: Callable[[ModuleType], None]) -> None:
        self.name = name
        self.callback = callback

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname != self.name:
            return None
        sys.meta_path.remove(self)
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
