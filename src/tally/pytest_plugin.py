"""tally's pytest plugin (entry point `pytest11`): `pytest --tally` measures the test run.

Measurement starts in `pytest_load_initial_conftests`, before conftest files and the
measured package are imported, as pytest-cov starts; it stops when the test loop ends,
the data is saved (and, under pytest-xdist, the workers' data added in), and the reports
print after pytest's summary. A test run that fails or is interrupted still saves.

Under pytest-xdist every worker measures its share and hands its data file back over the
xdist channel when it finishes (so remote `--tx` workers need no shared disk); the
controller, which measures the imports it makes itself, combines them all.

This module is imported by every pytest run where tally is installed: it imports nothing
of tally's until `--tally` asks for it.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
from typing import TYPE_CHECKING, Any

import pytest

from tally.warnings import Notice, text, warn

if TYPE_CHECKING:
    from tally.analysis.analyzer import Analyses
    from tally.api import Coverage
    from tally.config.readers import Config
    from tally.exceptions import TallyError
    from tally.process import MeasuredProcess, Saved

__all__ = ["TallyPlugin"]

_WORKER_DATA = "tally_data"  # the workeroutput key a worker's data file travels under


# The terminal tables pytest-cov takes, and the one modifier they take.
_TERMINAL = ("term", "term-missing")
_SKIP_COVERED = "skip-covered"


def _report_spec(arg: str) -> tuple[str, str | None]:
    """One --tally-report, TYPE[:DEST] (or a terminal table's `:skip-covered`), checked
    as pytest parses the command line, as pytest-cov checks --cov-report: a bad one is a
    usage error (exit 4) before any test runs."""
    from tally.report.registry import pytest_choices

    kind, colon, rest = arg.partition(":")
    choices = pytest_choices()
    if kind not in [*choices, ""]:
        raise argparse.ArgumentTypeError(
            f'invalid choice: "{arg}" (choose from {", ".join(choices)})'
        )
    if not colon:
        return kind, None
    if kind in _TERMINAL and rest == _SKIP_COVERED:
        return kind, rest
    if kind in _TERMINAL or not kind:
        raise argparse.ArgumentTypeError(
            f'"{arg}": {kind or "an empty TYPE"} takes no destination '
            f"(term and term-missing take :{_SKIP_COVERED})"
        )
    return kind, rest


class _StoreReport(argparse.Action):
    """--tally-report, into a dict of report types to their destination (or modifier),
    as pytest-cov keeps --cov-report: the last of a type wins."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        kind, dest = values
        reports = dict(getattr(namespace, self.dest, None) or {})
        if kind in ("markdown", "markdown-append") and dest is None:
            dest = "coverage.md"  # pytest-cov's default: coverage.py has none for Markdown
        reports[kind] = dest
        both = {"markdown", "markdown-append"} <= reports.keys()
        if both and reports["markdown"] == reports["markdown-append"]:
            parser.error(
                f"markdown and markdown-append can't both write {dest}: give one of them "
                "a destination (--tally-report=markdown:FILE)"
            )
        setattr(namespace, self.dest, reports)


def _percentage(text: str) -> float:
    """--tally-fail-under's value: a number from 0 to 100 (an int when it is one, so
    the banner shows it as given, as pytest-cov's does)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"{text} is not a percentage from 0 to 100")
    return int(value) if value.is_integer() and "." not in text else value


def pytest_addoption(parser: pytest.Parser) -> None:
    """The --tally options, in a group of their own: each of pytest-cov's --cov options
    has its twin, with the same meaning (tests/test_pytest_plugin.py reads pytest-cov's
    parser to hold them to it)."""
    group = parser.getgroup("tally", "coverage measured by tally")
    group.addoption(
        "--tally",
        action="append",
        nargs="?",
        const=True,
        default=[],
        dest="tally_source",
        metavar="SOURCE",
        help="measure coverage; SOURCE (a directory or package, repeatable) limits what is "
        "measured, else [run] source or the current directory",
    )
    group.addoption(
        "--tally-reset",
        action="store_const",
        const=[],
        dest="tally_source",
        help="forget the --tally sources given so far",
    )
    group.addoption(
        "--tally-report",
        action=_StoreReport,
        type=_report_spec,
        default=None,
        metavar="TYPE",
        help="report to print or write: term, term-missing (either may end in "
        ":skip-covered), annotate, html, xml, json, markdown, markdown-append, lcov (each "
        "may end in :DEST); repeatable; --tally-report= for none (default: term)",
    )
    group.addoption(
        "--tally-config",
        default=None,
        metavar="PATH",
        help="the config file (default: as tally finds it)",
    )
    group.addoption(
        "--no-tally-on-fail",
        action="store_true",
        default=False,
        help="don't report (nor check fail-under) when tests failed; the data is saved",
    )
    group.addoption(
        "--no-tally",
        action="store_true",
        default=False,
        help="measure nothing, whatever the other --tally options say",
    )
    group.addoption(
        "--tally-fail-under",
        type=_percentage,
        default=None,
        metavar="MIN",
        help="fail the run when total coverage is under MIN percent",
    )
    group.addoption(
        "--tally-append",
        action="store_true",
        default=False,
        help="add to the data file instead of starting afresh",
    )
    group.addoption(
        "--tally-branch", action="store_true", default=None, help="measure branch coverage too"
    )
    group.addoption(
        "--tally-precision",
        type=int,
        default=None,
        help="the reports' precision (digits after the point), over [report] precision",
    )
    group.addoption(
        "--tally-context",
        default=None,
        choices=["test"],
        help="record which test ran each line: contexts NODEID|setup, NODEID|call and "
        "NODEID|teardown, as pytest-cov's --cov-context=test",
    )
    group.addoption(
        "--tally-count",
        action="store_true",
        default=None,
        help="measure exact per-line execution counts",
    )
    group.addoption(
        "--tally-no-regression",
        action="store_true",
        default=False,
        help="fail the run when coverage fell from the baseline (or the last recorded run) "
        "by more than [tally] tolerance",
    )


def _wanted(options: argparse.Namespace) -> bool:
    return bool(getattr(options, "tally_source", None)) and not getattr(options, "no_tally", False)


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(
    early_config: pytest.Config, parser: pytest.Parser, args: list[str]
) -> None:
    """Start measuring before conftest files are imported."""
    options = early_config.known_args_namespace
    if not _wanted(options):
        return
    _start(early_config, options)


def pytest_configure(config: pytest.Config) -> None:
    """A pytest-xdist worker may not see the options early: start there, late, if asked."""
    if config.pluginmanager.has_plugin("_tally") or not _wanted(config.option):
        return
    _start(config, config.option)


def _start(config: pytest.Config, options: argparse.Namespace) -> None:
    plugin = TallyPlugin(config, options)
    config.pluginmanager.register(plugin, "_tally")
    plugin.start()


class TallyPlugin:
    """One pytest process's measurement: the controller's (or a plain run's) or a worker's."""

    def __init__(self, config: pytest.Config, options: argparse.Namespace) -> None:
        self.config = config
        self.options = options
        self.cov: Coverage | None = None
        self.process: MeasuredProcess | None = None
        self.finished = False
        self.worker_files: list[str] = []
        self.lost_workers: list[str] = []
        self.combine_warnings: list[Notice] = []  # inputs the controller's combine skipped
        self.source_warnings: list[Notice] = []  # sources never imported, nothing measured
        self.failure: str | None = None
        self.quiet = False  # tests failed under --no-tally-on-fail: no reports, no gates
        self.banner: tuple[str, bool] | None = None  # fail-under's line, and whether it failed
        self.recorded: str | Notice | None = None  # [tally] record_history: what became of it
        # The saved data analysed once for every report (_analysed), and what it warned of.
        self._analysis: tuple[Config, Analyses] | TallyError | None = None
        self._analysis_said = ""
        self.data_file: str | None = None
        self.pid = os.getpid()

    @property
    def worker_id(self) -> str | None:
        """The xdist worker id when this process is a worker. Asked late: a worker's
        config gets its `workerinput` only after the early hooks ran."""
        workerinput = getattr(self.config, "workerinput", None)
        if workerinput is not None:
            return str(workerinput.get("workerid", "gw?"))
        return os.environ.get("PYTEST_XDIST_WORKER")

    # -- measuring ------------------------------------------------------------------------

    def start(self) -> None:
        from tally.api import Coverage
        from tally.exceptions import TallyError
        from tally.process import MeasuredProcess

        # pytest-cov's rule: a bare --tally among the sources measures without a filter.
        given = self.options.tally_source
        sources = None if True in given else [s for s in given if isinstance(s, str)] or None
        try:
            self.cov = Coverage(
                config_file=self.options.tally_config or True,
                source=sources,
                branch=self.options.tally_branch,
                count=self.options.tally_count,
            )
            if not self.cov.config.flag("tally:enabled"):
                # TALLY_ENABLED=0 or [tally] enabled = false, as `tally run` honours them.
                self.cov = None
                return
            config = self.cov.config
            if self.options.tally_append:
                config.set("run:append", True, "--tally-append")
            if self.options.tally_precision is not None:
                config.set("report:precision", self.options.tally_precision, "--tally-precision")
            self.process = MeasuredProcess(self.cov, write=self._write, finish=self._ended)
        except TallyError as err:
            raise pytest.UsageError(f"tally: {err.message}") from None
        if self.worker_id is None:
            if not self.cov.config.flag("run:append"):
                # A fresh start, as pytest-cov's: the end combines every parallel file and
                # journal beside the data file, and none may be from an earlier run.
                self.cov.erase()
            self.process.save_on_sigterm()
        try:
            self.process.start()
        except TallyError as err:  # a setting only measuring checks ([run] dynamic_context)
            raise pytest.UsageError(f"tally: {err.message}") from None
        if self.worker_id is None:
            for notice in [*self.cov.warnings, *self.process.warnings]:
                warn(notice)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        self._switch(item, "setup")

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_call(self, item: pytest.Item) -> None:
        self._switch(item, "call")

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> None:
        self._switch(item, "teardown")

    def _switch(self, item: pytest.Item, when: str) -> None:
        """--tally-context=test: what runs from here on is this test phase's."""
        if self.options.tally_context == "test" and self.cov is not None and not self.finished:
            self.cov.switch_context(f"{item.nodeid}|{when}")

    @pytest.hookimpl(wrapper=True)
    def pytest_runtestloop(self, session: pytest.Session) -> Any:
        """After the tests: stop, save, and (controller) check fail_under, so that a miss
        fails the run as a failed test would."""
        try:
            return (yield)
        finally:
            self.finish(session)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """Saves when the test loop never finished (an interrupt, a collection error)."""
        self.finish(session)

    def _ended(self, saved: Saved) -> None:
        """The session's end after a save that ends the process (SIGTERM, os._exit, exec):
        what finish() does after saving; after SIGTERM, say where the data went, past
        pytest's capture."""
        from tally.process import Cause

        self.finish(None)
        if saved.cause is not Cause.SIGNAL:
            return
        capture = self.config.pluginmanager.getplugin("capturemanager")
        if capture is not None:  # the signal came mid-test: let the message out
            capture.suspend_global_capture(in_=False)
        if self.data_file:
            sys.stderr.write(f"tally: SIGTERM: data saved to {self.data_file}\n")

    def finish(self, session: pytest.Session | None) -> None:
        if self.finished or self.cov is None or self.process is None:
            return
        self.finished = True
        from tally.process import Cause

        if os.getpid() != self.pid:  # a forked child that ran on into pytest's ending
            self.process.save(Cause.FORK)
            return
        saved = self.process.save(Cause.END)
        if saved.failure is not None:
            self.failure = saved.failure
            if session is not None:
                session.testsfailed += 1
            return
        if self._is_worker():
            return
        self.data_file = saved.path
        if self.options.no_tally_on_fail and session is not None and session.testsfailed:
            self.quiet = True  # --no-tally-on-fail: the data is saved, nothing reported
            return
        if not self.worker_files and self.cov.last_saved is not None:
            # What coverage.py warns of too; only for this process's own data (under
            # xdist the workers imported the sources, not the controller).
            self.source_warnings = self.cov.source_warnings(self.cov.last_saved)
        if session is not None:
            self._check_fail_under(session)
            if self.options.tally_no_regression:
                self._check_regression(session)
        if self.cov.config.flag("tally:record_history"):
            from tally.track.gates import not_recorded, record_history

            analysed = self._analysed()
            if isinstance(analysed, tuple):
                self.recorded = record_history(*analysed)
            else:
                self.recorded = not_recorded(analysed.message)

    def _is_worker(self) -> bool:
        """A pytest-xdist worker? By the end a real worker has its workerinput; the
        environment variable alone may be inherited by a pytest a worker's test started."""
        return getattr(self.config, "workerinput", None) is not None

    def _write(self) -> str:
        """How this process's data is written (MeasuredProcess's `write`): a worker hands
        it to the controller; the controller saves it, combined with its workers'."""
        if self._is_worker():
            self._send_to_controller()
            return "the pytest-xdist controller"
        return self._save()

    def _save(self) -> str:
        """Save this process's data; with workers' data (or [run] parallel), combine it
        with theirs and every parallel file beside the data file. Returns the data file."""
        assert self.cov is not None and self.process is not None
        if not (self.worker_files or self.lost_workers or self.cov.config.flag("run:parallel")):
            return self.cov.save()
        self.cov.config.set("run:parallel", True, "pytest --tally")
        # This process's data goes into the combined file straight from memory; its
        # journal, the copy on disk until then, is not an input but a safety net, kept
        # if combining fails (and the data is rescued).
        journal = self.process.journal.path if self.process.journal is not None else None
        result = self.cov.combine(own=True, skip=[journal] if journal else [])
        self.combine_warnings = result.warnings()
        return self.cov.base_data_file

    def _send_to_controller(self) -> None:
        """A worker: save to a file of its own and hand its bytes to the controller."""
        assert self.cov is not None
        import tempfile

        with tempfile.TemporaryDirectory(prefix="tally-worker-") as directory:
            path = os.path.join(directory, ".coverage")
            self.cov.config.set("run:data_file", path, "pytest-xdist worker")
            self.cov.config.set("run:parallel", False, "pytest-xdist worker")
            self.cov.config.set("run:append", False, "pytest-xdist worker")
            self.cov.save()
            with open(path, "rb") as handle:
                self.config.workeroutput[_WORKER_DATA] = handle.read()  # type: ignore[attr-defined]

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        """The controller: a worker finished (or died); keep the data it sent."""
        output = getattr(node, "workeroutput", None) or {}
        payload = output.get(_WORKER_DATA)
        worker = output.get("workerid") or getattr(getattr(node, "gateway", None), "id", "?")
        if not payload:
            self.lost_workers.append(str(worker))
            return
        assert self.cov is not None
        path = f"{self.cov.base_data_file}.xdist-{worker}.{os.getpid()}"
        with open(path, "wb") as handle:
            handle.write(payload)
        self.worker_files.append(path)

    def _check_fail_under(self, session: pytest.Session) -> None:
        """Fail the run under --tally-fail-under, or else `[report] fail_under`."""
        threshold = self.options.tally_fail_under
        if threshold is None and self.cov is not None:
            threshold = self.cov.config.number("report:fail_under") or None
        if threshold is None or self.data_file is None:
            return
        from tally.analysis.results import fail_under_reason

        analysed = self._analysed()
        if not isinstance(analysed, tuple):
            self.failure = f"tally: {analysed.message}"
            session.testsfailed += 1
            return
        config, results = analysed
        precision = int(config.get("report:precision"))
        total = results.total.pc_covered
        failed = fail_under_reason(total, threshold, precision) is not None
        # pytest-cov's words, so that a CI job reading them reads tally's the same way.
        reached = "not reached" if failed else "reached"
        self.banner = (
            f"{'FAIL ' if failed else ''}Required test coverage of {threshold}% {reached}. "
            f"Total coverage: {total:.2f}%",
            failed,
        )
        if failed:
            session.testsfailed += 1

    def _check_regression(self, session: pytest.Session) -> None:
        """--tally-no-regression: fail the run when coverage fell, as `tally check
        --no-regression` would (the same policy, the same words)."""
        from tally.track.gates import regression_of, unchecked

        analysed = self._analysed()
        if isinstance(analysed, tuple):
            reasons = regression_of(*analysed)
        else:
            reasons = [unchecked(analysed.message)]
        if reasons:
            failure = "tally: coverage failure: " + "; ".join(reasons)
            self.failure = f"{self.failure}\n{failure}" if self.failure else failure
            session.testsfailed += 1

    def _analysed(self) -> tuple[Config, Analyses] | TallyError:
        """The config and the saved data analysed by the façade, once per session for
        every report and gate; or the error that stopped it. What the analysis warns of is
        kept for the report section."""
        if self._analysis is None:
            from tally.exceptions import TallyError

            assert self.cov is not None
            wanted = [r.partition(":")[0] for r in self._reports()]
            said = io.StringIO()
            try:
                with contextlib.redirect_stderr(said):
                    self._analysis = (self.cov.config, self.cov.analyze(formats=wanted))
            except TallyError as err:
                self._analysis = err
            self._analysis_said = said.getvalue()
        return self._analysis

    # -- reporting ------------------------------------------------------------------------

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        """Print the reports after pytest's own summary."""
        if self.worker_id is not None or self.cov is None:
            return
        write = terminalreporter.write
        notices = [*self.source_warnings, *self.combine_warnings]
        if self.lost_workers:
            notices.insert(
                0,
                Notice(
                    f"no data came back from worker(s) {', '.join(sorted(self.lost_workers))}: "
                    "the run's coverage is incomplete",
                    "worker-lost",
                ),
            )
        if isinstance(self.recorded, Notice):
            notices.append(self.recorded)
        for line in filter(None, map(text, notices)):
            write(line + "\n", red=True)
        if self.data_file is not None and not self.quiet:
            terminalreporter.section("tally coverage")
            reports = self._reports()
            analysed = self._analysed() if reports else None
            write(self._analysis_said)  # what the analysis warned of, however it was asked
            if analysed is not None:
                write(self._run_reports(reports, analysed))
        if isinstance(self.recorded, str):
            write(self.recorded + "\n")
        if self.banner is not None:
            line, failed = self.banner
            write(line + "\n", **({"red": True, "bold": True} if failed else {"green": True}))
        if self.failure:
            write(self.failure + "\n", red=True, bold=True)

    def _reports(self) -> dict[str, str | None]:
        """The reports asked for: type to destination (or `skip-covered`); term when
        none was asked for, none for --tally-report= alone."""
        chosen: dict[str, str | None] | None = self.options.tally_report
        if chosen is None:
            return {"term": None}
        return {kind: dest for kind, dest in chosen.items() if kind}

    def _run_reports(
        self, reports: dict[str, str | None], analysed: tuple[Config, Analyses] | TallyError
    ) -> str:
        """The reports, printed or written through the façade, as pytest-cov makes them:
        one terminal table (with the missing lines when term-missing is asked for, without
        fully covered files when either table says :skip-covered), then each file, with
        the line pytest-cov prints for it. Fail-under is judged once, by the plugin."""
        from tally.exceptions import TallyError

        if not isinstance(analysed, tuple):
            return f"tally: {analysed.message}\n"
        assert self.cov is not None
        config, results = analysed
        out = []
        try:
            tables = [kind for kind in _TERMINAL if kind in reports]
            if tables:
                skip = any(reports[kind] == _SKIP_COVERED for kind in tables)
                settings: dict[str, object] = {"skip_covered": True} if skip else {}
                out.append(self.cov.report(tables[-1], None, results=results, **settings))
            for kind, dest in reports.items():
                if kind in _TERMINAL:
                    continue
                self.cov.report(kind, dest or None, results=results)
                out.append(_written(kind, dest, config) + "\n")
        except TallyError as err:
            out.append(f"tally: {err.message}\n")
        return "".join(out)


# What pytest-cov prints for each report file it writes, worded the same way.
_WRITTEN = {
    "annotate": "Coverage annotated source written to dir {}",
    "html": "Coverage HTML written to dir {}",
    "xml": "Coverage XML written to file {}",
    "json": "Coverage JSON written to file {}",
    "markdown": "Coverage Markdown information written to file {}",
    "markdown-append": "Coverage Markdown information appended to file {}",
    "lcov": "Coverage LCOV written to file {}",
}


def _written(kind: str, dest: str | None, config: Config) -> str:
    """pytest-cov's line for the report `kind` written to `dest` (else where `config`
    says)."""
    from tally.report.registry import FORMATS

    if kind == "annotate" and not (dest or config.text("tally:annotate_directory")):
        return "Coverage annotated source written next to source"
    if not dest and kind in FORMATS:
        dest = config.text(FORMATS[kind].destination)
    return _WRITTEN[kind].format(dest)
