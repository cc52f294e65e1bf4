"""The façade: `Coverage` owns a measurement's lifecycle and builds its parts in one place."""

from __future__ import annotations

import os
import random
from collections.abc import Iterable, Iterator, Mapping, Sequence
from types import CodeType, TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from tally import env
from tally.collect.codecache import code_cache
from tally.collect.contexts import TestFunctions, dynamic_contexts
from tally.collect.engine import Engine, EngineChoice, choose_engine
from tally.collect.filter import FileFilter
from tally.config.readers import Config, load_config
from tally.config.rules import apply_rules
from tally.data.schema import COUNTS_ASKED
from tally.data.sqlite import CoverageData, write_data
from tally.measurement import Measurement
from tally.paths import relative_name
from tally.warnings import Notice, silence

if TYPE_CHECKING:
    from tally.analysis.analyzer import Analyses
    from tally.data.combine import CombineResult

__all__ = ["Coverage"]

_V = TypeVar("_V")


class Coverage:
    """Measure code, like `coverage.Coverage`: start(), stop(), save(), or use `with`.

    Args:
        data_file: where save() writes (default: config `[run] data_file`, `.coverage`).
        config_file: a config file path, True to look for the usual files, False for none.
        source, include, omit: what to measure (`[run]` options of the same names).
        branch: measure branch arcs too (engine.py says which engine does it where).
        count: measure exact per-line execution counts.
        engine: "auto", "monitor" or "count".
        config: a ready Config, instead of reading files.
        main_file: the program's main script, always measured unless omitted.
        cwd: the directory relative settings are taken from (default: the current one).
    """

    def __init__(
        self,
        data_file: str | None = None,
        *,
        config_file: str | bool = True,
        source: list[str] | None = None,
        include: list[str] | None = None,
        omit: list[str] | None = None,
        branch: bool | None = None,
        count: bool | None = None,
        engine: str | None = None,
        config: Config | None = None,
        main_file: str | None = None,
        cwd: str | None = None,
    ) -> None:
        if config is None:
            overrides: dict[str, object] = {
                "run:data_file": data_file,
                "run:source": source,
                "run:include": include,
                "run:omit": omit,
                "run:branch": branch,
                "tally:counts": count,
                "tally:engine": engine,
            }
            rcfile = config_file if isinstance(config_file, str) else None
            config = load_config(rcfile, overrides=overrides) if config_file else Config()
            if not config_file:
                for key, value in overrides.items():
                    if value is not None:
                        config.set(key, value, "Coverage() argument")
        apply_rules(config)
        self.config = config
        silence(config.items("run:disable_warnings"))
        self.cwd = cwd or os.getcwd()
        self.main_file = main_file
        self.choice: EngineChoice = choose_engine(
            config.text("tally:engine"),
            counts=config.flag("tally:counts"),
            branch=config.flag("run:branch"),
        )
        self.warnings: list[Notice] = [*config.warnings, *self.choice.warnings]
        self._engine: Engine | None = None
        self._filter: FileFilter | None = None
        self._started = False
        self._suffix: str | None = None
        # A child's main script, when the engine can't see it (Capabilities.sees_child_main).
        self._script: Engine | None = None
        # `[run] dynamic_context = test_function`: per-test contexts found from the code,
        # its watcher made (and the setting checked) when measuring starts.
        self._tests: TestFunctions | None = None
        self.last_saved: Measurement | None = None  # what save() last wrote

    @property
    def base_data_file(self) -> str:
        """The data file without a parallel suffix, absolute: what reports read and
        `combine` writes."""
        return os.path.join(self.cwd, os.path.expanduser(self.config.text("run:data_file")))

    @property
    def suffix(self) -> str:
        """This process's parallel suffix: host, pid and a random number. Chosen once, so
        every look at the path agrees."""
        if self._suffix is None:
            host = env.hostname()
            self._suffix = f"{host}.{os.getpid()}.X{random.randint(0, 999999):06d}x"
        return self._suffix

    @property
    def data_file(self) -> str:
        """The data file save() writes, made absolute against the starting directory."""
        path = self.base_data_file
        if self.config.flag("run:parallel"):
            path += "." + self.suffix
        return path

    @property
    def journal_file(self) -> str:
        """Where this process's raw data journal goes (data/journal.py)."""
        from tally.data.journal import journal_path

        return journal_path(self.base_data_file, self.suffix)

    def _build(self) -> Engine:
        """Build the file filter and the chosen engine (once)."""
        if self._engine is None:
            cfg = self.config
            self._filter = FileFilter(
                source=cfg.items("run:source") + cfg.items("run:source_dirs"),
                source_pkgs=cfg.items("run:source_pkgs"),
                include=cfg.items("run:include"),
                omit=cfg.items("run:omit"),
                cover_pylib=cfg.flag("run:cover_pylib"),
                cwd=self.cwd,
                extra_files=[self.main_file] if self.main_file else [],
            )
            self._engine = self.choice.build(self._filter, code_cache(cfg.get("tally:cache_dir")))
        return self._engine

    def start(self) -> None:
        """Start measuring (in the static context `[run] context`, when it is set)."""
        engine = self._build()
        if self._tests is None:
            self._tests = dynamic_contexts(
                self.config.text("run:dynamic_context"), self.switch_context
            )
        engine.start()
        self._started = True
        if self.config.text("run:context"):
            engine.switch_context(self.config.text("run:context"))
        if self._tests is not None:
            self._tests.start()

    def switch_context(self, name: str) -> None:
        """From now on, record what runs as run in context `name` (a test's, for
        per-test contexts), after the static `[run] context` and a `|` when it is set."""
        static = self.config.text("run:context")
        self._build().switch_context(f"{static}|{name}" if static and name else name or static)

    def stop(self) -> None:
        """Stop measuring; the data so far is kept for save()."""
        if self._started and self._engine is not None:
            if self._tests is not None:
                self._tests.stop()
            self._engine.stop()
            self._started = False
        if self._script is not None:
            self._script.stop()

    def forked(self) -> None:
        """In a forked child: forget the parent's data, and save under a suffix of its own."""
        self._suffix = None
        if self._engine is not None:
            self._engine.forget()
        if self._script is not None:
            self._script.forget()

    def trace_main(self, path: str) -> None:
        """Count the main script of a process Python started itself (a measured
        subprocess's), where the engine can't compile it: by a trace function."""
        engine = self._build()
        assert self._filter is not None
        if engine.capabilities.sees_child_main or not self._filter.should_measure(path):
            return
        from tally.collect.script import ScriptTracer
        from tally.paths import canonical

        self._script = ScriptTracer(path, canonical(path, self.cwd), branch=self.choice.branch)
        self._script.start()

    @classmethod
    def configured(cls, rcfile: str | None, overrides: Mapping[str, object]) -> Coverage:
        """The façade as a command builds it: the config file `rcfile` (None: the usual
        files; "": none), the TALLY_* environment, then `overrides` (option keys, such as
        "report:precision", to values), as `tally report` reads them."""
        return cls(config=load_config(rcfile, overrides=overrides))

    def analyze(self, *, contexts: bool = False, formats: Iterable[str] = ()) -> Analyses:
        """The data file this configuration names, analysed by its report settings: what
        every report starts from (with `contexts`, or when one of the report `formats`
        shows them by this configuration, which contexts ran each line). Warnings (an
        incomplete run, files skipped) go to stderr."""
        return _analyze(self.config, contexts=contexts, formats=formats)

    def report(
        self,
        format: str = "term",
        dest: str | None = None,
        *,
        results: Analyses | None = None,
        **options: object,
    ) -> str:
        """The report `format` (report/registry.py) of `results` (else of the data file,
        analysed for it). A table ("term", "term-missing", "markdown") is returned;
        "markdown" with a `dest`, and a file format (html, xml, json, lcov, badge), is
        written to `dest`, else where the configuration says, and the line saying so is
        returned. `options` set the format's settings for this report alone, by name, as
        a config file would (`show_missing=True`, `precision=2`, `title="..."`; the
        registry lists each format's); those that choose the files (`include`, `omit`)
        apply when the report analyses the data itself. Raises UsageError for a format or
        a setting tally doesn't have."""
        from tally.report.registry import FORMATS, TABLES, terminal_table, write_table

        config = _with_settings(self.config, format, options)
        if results is None:
            results = _analyze(config, formats=[format])
        if format in TABLES:
            if dest and TABLES[format].format == "markdown":
                return write_table(config, results, format, dest)
            return terminal_table(config, results, format)
        form = FORMATS[format]
        return form.write(config, results, dest or config.text(form.destination))

    def compile_main(self, path: str, source: str) -> CodeType:
        """Compile the program's main script for measurement by the current engine."""
        return self._build().compile_main(path, source)

    def measurement(self, *, contexts: bool = True, unexecuted: bool = True) -> Measurement:
        """What has been measured so far, with run metadata; with `contexts`, what ran in
        each context as well; with `unexecuted`, the source files that never ran as well,
        with nothing executed (coverage.py's touched files: they report at 0%)."""
        engine = self._build()
        measured = engine.measurement(contexts=contexts)
        if self._script is not None:
            measured = _with_script(measured, self._script.measurement())
        if unexecuted:
            measured = _with_unexecuted(measured, self.unexecuted_files())
        measured.meta.update({**self.meta, "tally_engine_reason": "; ".join(self.choice.reasons)})
        if self.config.flag("run:relative_files"):
            measured = _relative(measured, self.cwd)
        return measured

    @property
    def meta(self) -> dict[str, str]:
        """What the data notes of how it was measured: the engine, and whether counts
        were asked for (COUNTS_ASKED; the count engine counts anyway)."""
        meta = {"tally_engine": self.choice.name}
        if self.config.flag("tally:counts"):
            meta[COUNTS_ASKED] = "1"
        return meta

    def save(self) -> str:
        """Write the data file (and its JSON twin with `[tally] output_format = json`).

        Returns the path written.
        """
        path = self.data_file
        measured = self.measurement()
        write_data(path, measured, append=self.config.flag("run:append"))
        self.last_saved = measured
        if self.config.text("tally:output_format") == "json":
            _write_json(path + ".json", CoverageData(path))
        return path

    def rescue(self) -> str | None:
        """After save() failed: write this run's data alone (nothing appended) beside the
        data file, or failing that in the temporary directory, so a broken or unwritable
        data file costs no measurement. Returns where it went (None if nowhere would do)."""
        import tempfile

        from tally.exceptions import TallyError

        measured = self.measurement()
        name = f"{os.path.basename(self.data_file)}.rescued.{os.getpid()}"
        for directory in (os.path.dirname(self.data_file) or self.cwd, tempfile.gettempdir()):
            target = os.path.join(directory, name)
            try:
                write_data(target, measured)
            except (TallyError, OSError):
                continue
            return target
        return None

    def combine(
        self,
        paths: Sequence[str] = (),
        *,
        keep: bool = False,
        own: bool = False,
        skip: Sequence[str] = (),
    ) -> CombineResult:
        """Add parallel data files into the data file, as `tally combine` does: those in
        `paths` (a directory stands for its parallel files), or else those beside the data
        file, less those in `skip`; `[paths]` remaps where they were measured, `[run]
        append` keeps what the data file held. With `own`, this process's measurement goes
        in as well, without being saved first (the pytest plugin's end: one write of the
        data, not a write, a read and a write). Raises NoDataError when there is nothing
        to combine."""
        from tally.data.combine import PathAliases, combine, data_files_to_combine
        from tally.data.sqlite import stored_of

        cfg = self.config
        target = self.base_data_file
        aliases = PathAliases(cfg.paths, self.cwd, relative=cfg.flag("run:relative_files"))
        inputs = [p for p in data_files_to_combine(target, paths) if p not in skip]
        measured = {"this process": stored_of(self.measurement())} if own else None
        return combine(
            target, inputs, aliases, keep=keep, append=cfg.flag("run:append"), measured=measured
        )

    def erase(self) -> None:
        """Delete the data file (and parallel ones and journals beside it)."""
        from tally.data.journal import is_journal_of

        directory, name = os.path.split(self.base_data_file)
        for entry in os.listdir(directory or "."):
            ours = entry.startswith(name + ".") and not entry.endswith(".py")
            if entry == name or ours or is_journal_of(entry, name):
                target = os.path.join(directory, entry)
                if os.path.isfile(target):
                    os.remove(target)

    def get_data(self) -> CoverageData:
        """The saved data file, read."""
        return CoverageData(self.data_file)

    def unexecuted_files(self) -> list[str]:
        """The source files that could have run (under `source`) and so far haven't."""
        self._build()
        assert self._filter is not None
        namespaces = self.config.flag("report:include_namespace_packages")
        return self._filter.possibly_unexecuted(namespaces)

    def source_warnings(self, measured: Measurement) -> list[Notice]:
        """What to tell the user when a run is done: source modules never imported, and
        that nothing was measured (coverage.py's warnings of the same names)."""
        self._build()
        assert self._filter is not None
        found = [
            Notice(f"Module {name} was never imported.", "module-not-imported")
            for name in self._filter.unimported_sources
        ]
        if not any(measured.lines.values()):
            found.append(Notice("No data was collected.", "no-data-collected"))
        return found

    def debug_filter(self, path: str) -> str:
        """Why `path` is (or isn't) measured."""
        self._build()
        assert self._filter is not None
        return self._filter.reason(path)

    def __enter__(self) -> Coverage:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
        self.save()


def _analyze(config: Config, *, contexts: bool = False, formats: Iterable[str] = ()) -> Analyses:
    """The data file `config` names, analysed by its report settings, with contexts when
    asked or when one of the report `formats` shows them."""
    from tally.analysis.analyzer import analyze_config
    from tally.report.registry import shows_contexts

    contexts = contexts or shows_contexts(config, formats)
    return analyze_config(config, contexts=contexts)


def _with_settings(config: Config, format: str, settings: Mapping[str, object]) -> Config:
    """`config` with the report `format`'s settings given by name (Coverage.report's
    keyword arguments) over it: a copy, or `config` itself when none is given. Raises
    UsageError for a format, or a setting of it, tally doesn't have."""
    from tally.config.options import find_option
    from tally.config.readers import parse_value
    from tally.exceptions import UsageError
    from tally.report.registry import settings_of

    keys = settings_of(format)
    if not settings:
        return config
    by_name = {key.partition(":")[2]: key for key in keys}
    copy = Config.from_dict(config.to_dict(), "the configuration")
    for name, raw in settings.items():
        key = by_name.get(name)
        if key is None:
            raise UsageError(
                f"the {format} report has no setting {name!r}: its settings are "
                + ", ".join(sorted(by_name))
            )
        option = find_option(*key.split(":"))
        assert option is not None, f"the registry names an undeclared option {key}"
        where = f"Coverage.report({name}=...)"
        copy.set(key, parse_value(option, raw, where), where)
    return copy


def _with_script(measured: Measurement, script: Measurement) -> Measurement:
    """The engine's measurement with the traced main script's put over it."""
    counts = None if measured.counts is None else _Over(script.counts or {}, measured.counts)
    arcs = None if measured.arcs is None else _Over(script.arcs or {}, measured.arcs)
    lines = _Over(script.lines, measured.lines)
    return Measurement(lines, counts, measured.meta, arcs, measured.contexts)


class _Over(Mapping[str, _V]):
    """Per file: `top`'s entry where it has one, else `base`'s (read when asked, as the
    count engine's own mappings are)."""

    def __init__(self, top: Mapping[str, _V], base: Mapping[str, _V]) -> None:
        self.top = top
        self.base = base

    def __getitem__(self, path: str) -> _V:
        return self.top[path] if path in self.top else self.base[path]

    def __iter__(self) -> Iterator[str]:
        yield from self.top
        yield from (path for path in self.base if path not in self.top)

    def __len__(self) -> int:
        return sum(1 for _ in self)


def _with_unexecuted(measured: Measurement, paths: list[str]) -> Measurement:
    """`measured` with each of `paths` that it lacks as a file where nothing ran."""
    missing = [path for path in paths if path not in measured.lines]
    if not missing:
        return measured
    lines = _Over(measured.lines, {path: set() for path in missing})
    counts = None if measured.counts is None else _Over(measured.counts, {p: {} for p in missing})
    arcs = None if measured.arcs is None else _Over(measured.arcs, {p: {} for p in missing})
    return Measurement(lines, counts, measured.meta, arcs, measured.contexts)


def _relative(measured: Measurement, cwd: str) -> Measurement:
    lines = {relative_name(p, cwd): s for p, s in measured.lines.items()}
    counts = (
        None
        if measured.counts is None
        else {relative_name(p, cwd): c for p, c in measured.counts.items()}
    )
    arcs = (
        None
        if measured.arcs is None
        else {relative_name(p, cwd): a for p, a in measured.arcs.items()}
    )
    contexts = {name: _relative(part, cwd) for name, part in measured.contexts.items()}
    return Measurement(lines, counts, measured.meta, arcs, contexts)


def _write_json(path: str, data: CoverageData) -> None:
    import json

    doc: dict[str, Any] = {"meta": data.meta(), "files": {}}
    for name in data.measured_files():
        entry: dict[str, Any] = {"executed_lines": data.lines(name)}
        if data.has_counts():
            entry["counts"] = {str(k): v for k, v in sorted(data.counts(name).items())}
        doc["files"][name] = entry
    temp = path + ".tmp"
    with open(temp, "w", encoding="utf-8") as handle:
        json.dump(doc, handle, indent=2)
    os.replace(temp, path)
