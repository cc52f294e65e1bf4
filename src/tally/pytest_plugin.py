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


def pytest_addoption(parser: pytest.Parser) -> None:
    """The --tally options, in a group of their own."""
    group = parser.getgroup("tally", "coverage measured by tally")
    group.addoption(
        "--tally",
        action="append",
        nargs="?",
        const=True,
        dest="tally_source",
        metavar="SOURCE",
        help="measure coverage; SOURCE (a directory or package, repeatable) limits what is "
        "measured, else [run] source or the current directory",
    )
    group.addoption(
        "--tally-branch", action="store_true", default=None, help="measure branch coverage too"
    )
    group.addoption(
        "--tally-count",
        action="store_true",
        default=None,
        help="measure exact per-line execution counts",
    )
    group.addoption(
        "--tally-report",
        action="append",
        default=None,
        metavar="TYPE[:DEST]",
        help="report to print or write after the run: term, term-missing, markdown (or "
        "markdown:FILE), html[:DIR], xml[:FILE], json[:FILE], lcov[:FILE]; repeatable; "
        "an empty TYPE for none (default: term)",
    )
    group.addoption(
        "--tally-fail-under",
        type=float,
        default=None,
        metavar="N",
        help="fail the run when total coverage is under N percent",
    )
    group.addoption(
        "--tally-no-regression",
        action="store_true",
        default=False,
        help="fail the run when coverage fell from the baseline (or the last recorded run) "
        "by more than [tally] tolerance",
    )
    group.addoption(
        "--tally-config",
        default=None,
        metavar="PATH",
        help="the config file (default: as tally finds it)",
    )
    group.addoption(
        "--tally-context",
        default=None,
        choices=["test"],
        help="record which test ran each line: contexts NODEID|setup, NODEID|call and "
        "NODEID|teardown, as pytest-cov's --cov-context=test",
    )
    group.addoption(
        "--no-tally",
        action="store_true",
        default=False,
        help="measure nothing, whatever the other --tally options say",
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

        sources = [s for s in self.options.tally_source if isinstance(s, str)]
        try:
            self.cov = Coverage(
                config_file=self.options.tally_config or True,
                source=sources or None,
                branch=self.options.tally_branch,
                count=self.options.tally_count,
            )
            if not self.cov.config.flag("tally:enabled"):
                # TALLY_ENABLED=0 or [tally] enabled = false, as `tally run` honours them.
                self.cov = None
                return
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
        reason = fail_under_reason(results.total.pc_covered, threshold, precision)
        if reason:
            self.failure = f"tally: coverage failure: {reason}"
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
        if self.data_file is not None:
            terminalreporter.section("tally coverage")
            reports = self._reports()
            analysed = self._analysed() if reports else None
            write(self._analysis_said)  # what the analysis warned of, however it was asked
            for report in reports:
                assert analysed is not None
                write(self._run_report(report, analysed))
        if isinstance(self.recorded, str):
            write(self.recorded + "\n")
        if self.failure:
            write(self.failure + "\n", red=True, bold=True)

    def _reports(self) -> list[str]:
        chosen = self.options.tally_report
        if chosen is None:
            return ["term"]
        return [r for r in chosen if r]

    def _run_report(self, report: str, analysed: tuple[Config, Analyses] | TallyError) -> str:
        """Print or write one report (`TYPE[:DEST]`) of the analysed data through the
        façade; returns what to print. Fail-under is judged once, by the plugin, not by
        each report."""
        from tally.exceptions import TallyError
        from tally.report.registry import pytest_choices

        kind, _, dest = report.partition(":")
        choices = pytest_choices()
        if kind not in choices:
            return f"tally: unknown --tally-report {kind!r}: use one of {', '.join(choices)}\n"
        if not isinstance(analysed, tuple):
            return f"tally: {analysed.message}\n"
        assert self.cov is not None
        try:
            said = self.cov.report(kind, dest or None, results=analysed[1])
        except TallyError as err:
            return f"tally: {err.message}\n"
        return said if not said or said.endswith("\n") else said + "\n"
