"""A measured process, from start to end: saving its data exactly once however it ends, the
journal that keeps its data if it can't, and the processes it starts.

`[run] patch` names the behaviours to patch, as coverage.py's option does (config/rules.py
reads it):

- `subprocess`: every Python process started while this one is measured is measured too.
  The settings travel in the environment variable TALLY_PROCESS_CONFIG, and the `.pth`
  file installed with tally (a1_tally.pth) calls startup() in every Python that starts
  with it set. Implies `_exit` and `fork`, and `[run] parallel`.
- `_exit`: os._exit saves the data before the process ends (multiprocessing's forked
  children end that way).
- `fork`: a forked child drops its parent's data and writes a data file of its own
  (implies `[run] parallel`).
- `execv`: the exec family saves the data before the process image is replaced.
"""

from __future__ import annotations

import atexit
import enum
import json
import os
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType
from typing import TYPE_CHECKING, Any

from tally import env
from tally.config.rules import requested_patches
from tally.exceptions import TallyError
from tally.warnings import Notice, warn

if TYPE_CHECKING:
    from tally.api import Coverage
    from tally.data.journal import Journal

__all__ = ["ENV_VAR", "PTH_NAME", "Cause", "MeasuredProcess", "Saved", "die_of", "startup"]
ENV_VAR = "TALLY_PROCESS_CONFIG"
FIRST_FLUSH = 1.0  # seconds from the start to the journal's first flush
PTH_NAME = "a1_tally.pth"


class Cause(enum.Enum):
    """Why a process's data is saved."""

    END = "end"  # the program (or the test session) finished
    EXIT = "exit"  # the interpreter is exiting: a measured subprocess's end, os._exit
    SIGNAL = "signal"  # SIGTERM, or Ctrl-C under tally run
    EXEC = "exec"  # an exec function is about to replace the process image
    FORK = "fork"  # a forked child with data of its own is exiting


@dataclass(frozen=True)
class Saved:
    """The outcome of saving: where the data went (None: nowhere), and, when it was
    `rescued` because the data file couldn't be written, the one line that says so."""

    cause: Cause
    path: str | None
    failure: str | None = None
    rescued: bool = False


class MeasuredProcess:
    """One process's measurement: started, then saved exactly once through save(), which
    names its cause (the end, exit, a signal, exec, a fork), its journal flushed meanwhile.

    `write` is how the process's owner writes the data (the pytest plugin combines its
    workers' data too; it returns the path written), else Coverage.save; a forked child
    always writes its own. `finish`, the owner's end, runs after a save that ends the
    process abruptly (a signal, os._exit, exec) in the owner's process.
    """

    def __init__(
        self,
        cov: Coverage,
        write: Callable[[], str] | None = None,
        finish: Callable[[Saved], None] | None = None,
    ) -> None:
        self.cov = cov
        self._write = write
        self._finish = finish
        self._saved: Saved | None = None
        self._saved_in: int | None = None  # the pid that saved
        self._pid = os.getpid()
        self.patches = requested_patches(cov.config)
        self.journal: Journal | None = None
        self._flusher: threading.Thread | None = None
        self._stop_flushing = threading.Event()
        self.warnings: list[Notice] = []

    # -- starting -----------------------------------------------------------------------

    def start(self) -> None:
        """Start measuring, the journal and the patches."""
        self.cov.start()
        self._start_journal()
        if "subprocess" in self.patches:
            self._export_config()
        if "_exit" in self.patches:
            os._exit = self._saving_first(os._exit, Cause.EXIT)
        if "execv" in self.patches:
            os.execv = self._saving_first(os.execv, Cause.EXEC)
            os.execve = self._saving_first(os.execve, Cause.EXEC)
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(
                before=self._pause_journal,
                after_in_parent=self._resume_journal,
                after_in_child=self._forked,
            )

    def _start_journal(self) -> None:
        interval = self.cov.config.number("tally:flush_interval")
        if interval <= 0:
            return
        from tally.data.journal import Journal

        about = {
            "pid": os.getpid(),
            "host": env.hostname(),
            "command": " ".join(sys.argv)[:200],
            "branch": self.cov.choice.branch,
            "counts": self.cov.choice.capabilities.counts,
            "meta": self.cov.meta,
        }
        try:
            self.journal = Journal(self.cov.journal_file, about)
        except OSError as err:
            self.warnings.append(
                Notice(
                    f"can't write the data journal {self.cov.journal_file} ({err.strerror}): "
                    "if this process is killed, its data is lost",
                    "journal-unwritable",
                )
            )
            return
        self._resume_journal()

    def _resume_journal(self) -> None:
        """Start the journal's thread (again, after a fork)."""
        if self.journal is None:
            return
        interval = self.cov.config.number("tally:flush_interval")
        self._stop_flushing = threading.Event()
        self._flusher = threading.Thread(
            target=self._flush_every, args=(interval,), name="tally-journal", daemon=True
        )
        self._flusher.start()

    def _pause_journal(self) -> None:
        """Before a fork: end the journal's thread, so the process forks with the threads
        the program made (Python warns of forking with threads running, 3.12+)."""
        flusher, self._flusher = self._flusher, None
        if flusher is not None:
            self._stop_flushing.set()
            flusher.join()
            _wait_for_os_thread_end(flusher.native_id)

    def _flush_every(self, interval: float) -> None:
        """The journal thread: append what is new, FIRST_FLUSH seconds after the start
        (a short process, killed within seconds, keeps its data too), then every
        `interval` seconds."""
        wait = min(FIRST_FLUSH, interval)
        while not self._stop_flushing.wait(wait):
            wait = interval
            journal = self.journal
            if journal is None:
                return
            try:
                journal.flush(self.cov.measurement(contexts=False, unexecuted=False))
            except Exception:  # a flush that fails loses nothing the next save won't have
                continue

    def _export_config(self) -> None:
        """Hand the settings to Python processes started from now on."""
        config = self.cov.config
        doc = {"config": config.to_dict(), "cwd": self.cov.cwd}
        os.environ[ENV_VAR] = json.dumps(doc)
        if not _hook_installed():
            self.warnings.append(
                Notice(
                    f"[run] patch = subprocess: tally's start-up hook {PTH_NAME} is not in "
                    "site-packages (tally isn't pip-installed here?), so subprocesses will "
                    "not be measured",
                    "no-subprocess-hook",
                )
            )

    def _saving_first(self, real: Callable[..., Any], cause: Cause) -> Any:
        """`real` (os._exit, an exec), saving the data before it ends the program."""

        def patched(*args: Any, **kwargs: Any) -> Any:
            self._save_abruptly(cause)
            return real(*args, **kwargs)

        return patched

    def _save_abruptly(self, cause: Cause) -> None:
        """Save before the process ends without running its end (a signal, os._exit,
        exec); in the owner's process, the owner's `finish` then runs."""
        saved = self.save(cause)
        if self._finish is not None and os.getpid() == self._pid:
            self._finish(saved)

    def _forked(self) -> None:
        """In a forked child: the parent's journal is the parent's. With the `fork` patch,
        the child has its own data from here on, its own data file and journal."""
        if self.journal is not None:
            self.journal.close(remove=False)
            self.journal = None
        if "fork" not in self.patches:
            return
        self._pid = os.getpid()
        self._write = self._finish = None
        self._saved = self._saved_in = None
        self.cov.forked()
        self._start_journal()
        atexit.register(self.save, Cause.FORK)

    # -- ending --------------------------------------------------------------------------

    def save(self, cause: Cause) -> Saved:
        """The one way a process's data is saved, whatever ended it (`cause`): stop,
        write (the owner's way in the owner's process, else the data file), and end the
        journal. Once per process: a later call returns the first one's outcome.

        A write that fails is rescued: the data goes beside the data file or to the
        temporary directory, the journal is kept when it could go nowhere, and the
        outcome's `failure` says so in one line (printed here unless the owner writes)."""
        if self._saved is not None and self._saved_in == os.getpid():
            return self._saved
        self._saved_in = os.getpid()
        owner = self._write is not None and os.getpid() == self._pid
        write = self._write if owner and self._write is not None else self.cov.save
        self.cov.stop()
        try:
            saved = Saved(cause, write())
        except TallyError as err:
            saved = self._rescue(cause, err)
            if not owner:
                print(saved.failure, file=sys.stderr)
        self._end_journal(kept=saved.path is None)
        self._saved = saved
        if cause is Cause.END and not owner and self.cov.last_saved is not None:
            for notice in self.cov.source_warnings(self.cov.last_saved):
                warn(notice)
        return saved

    def _rescue(self, cause: Cause, error: TallyError) -> Saved:
        """After writing failed with `error`: the data rescued (Coverage.rescue), and the
        one line that says what went wrong and where the data went."""
        rescued = self.cov.rescue()
        where = (
            f"this run's data was saved to {rescued} instead"
            if rescued
            else "this run's data could not be saved anywhere"
        )
        return Saved(cause, rescued, failure=f"tally: {error.message}; {where}", rescued=True)

    def _end_journal(self, *, kept: bool) -> None:
        """Stop the journal; delete it unless it is `kept` (the data went nowhere else)."""
        self._stop_flushing.set()
        journal, self.journal = self.journal, None
        if journal is not None:
            journal.close(remove=not kept)

    def save_when_done(self) -> None:
        """At the program's end: save now if it left no running threads; else at exit,
        after Python has waited for them (atexit runs after threading's shutdown join)."""
        others = [
            t
            for t in threading.enumerate()
            if t is not threading.main_thread()
            and not t.daemon
            and t.is_alive()
            and t is not self._flusher
        ]
        if others:
            atexit.register(self.save, Cause.END)
        else:
            self.save(Cause.END)

    def save_on_sigterm(self) -> None:
        """On SIGTERM: save (the owner's `finish` then runs) and die of the signal. Only
        in the main thread, and only where nobody else handles the signal."""
        if (
            not self.cov.config.flag("run:sigterm")
            or threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGTERM) not in (signal.SIG_DFL, None)
        ):
            return

        def on_sigterm(signum: int, frame: FrameType | None) -> None:
            self._save_abruptly(Cause.SIGNAL)
            die_of(signal.SIGTERM)

        signal.signal(signal.SIGTERM, on_sigterm)


def die_of(signum: int) -> None:
    """End the process by `signum` with its default action, as an unhandled signal would."""
    sys.stdout.flush()
    sys.stderr.flush()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _hook_installed() -> bool:
    """Is a1_tally.pth in a directory Python reads .pth files from?"""
    import site

    places = [*site.getsitepackages(), site.getusersitepackages()]
    return any(os.path.exists(os.path.join(p, PTH_NAME)) for p in places)


_started: MeasuredProcess | None = None


def startup() -> None:
    """Measure this Python process, started by a measured one (`[run] patch = subprocess`):
    called by a1_tally.pth when TALLY_PROCESS_CONFIG is set. Never raises: a problem is one
    line on stderr and the process runs unmeasured."""
    global _started
    text = os.environ.get(ENV_VAR)
    if not text or _started is not None:
        return
    try:
        _started = _start_child(json.loads(text))
    except Exception as err:  # the hook must never stop the program it starts
        message = err.message if isinstance(err, TallyError) else f"{type(err).__name__}: {err}"
        print(f"tally: this subprocess is not measured: {message}", file=sys.stderr)


def _start_child(doc: dict[str, Any]) -> MeasuredProcess:
    from tally.api import Coverage
    from tally.config.readers import Config

    # The parent's settings have `patch = subprocess`, so this process writes a parallel
    # data file of its own (Coverage implies `parallel`).
    config = Config.from_dict(doc["config"], "the measured parent process")
    main = os.path.abspath(sys.argv[0]) if sys.argv and os.path.isfile(sys.argv[0]) else None
    cov = Coverage(config=config, cwd=doc["cwd"], main_file=main)
    process = MeasuredProcess(cov)
    process.start()
    if main is not None:
        cov.trace_main(main)
    atexit.register(process.save, Cause.EXIT)
    return process


def _wait_for_os_thread_end(native_id: int | None, timeout: float = 1.0) -> None:
    """Wait (a moment, at most `timeout`) for a joined thread's OS thread to be gone.
    join() returns when the thread's Python state is released; the OS thread ends just
    after, and Python's fork warning counts OS threads (/proc/self/task on Linux): a
    fork in between would warn, on a busy machine now and then."""
    if native_id is None or not os.path.exists("/proc/self/task"):
        return
    task = f"/proc/self/task/{native_id}"
    import time

    deadline = time.monotonic() + timeout
    while os.path.exists(task) and time.monotonic() < deadline:
        time.sleep(0.0005)
