"""Processes: those a measured program starts are measured too (`[run] patch =
subprocess`), every process saves however it ends, and a killed one's journal keeps its
data up to its last flush."""

from __future__ import annotations

import os
import signal
import struct
import sys
from pathlib import Path

import pytest
from support import run_coverage, run_tally, tally_env, trace_counts, write

from tally.data.journal import Journal, read_journal
from tally.data.sqlite import CoverageData
from tally.env import HAS_MONITORING
from tally.exceptions import DataError
from tally.measurement import Measurement

WORK = """\
    def double(x):
        if x > 2:
            return 2 * x
        return x


    def loop(n):
        total = 0
        for i in range(n):
            total += double(i)
        return total
    """

# The same work done in one process: what the parts of a multi-process run add up to.
SINGLE = """\
    from pkg.work import double, loop
    {calls}
    """

ENGINE_FLAGS = [["--count"], ["--branch", "--count"]]
if HAS_MONITORING:
    ENGINE_FLAGS += [["--engine=monitor"], ["--engine=monitor", "--branch"]]


def project(root: Path, patch: str = "subprocess") -> Path:
    """A package to measure, and a config that patches `patch`."""
    (root / "pkg").mkdir(parents=True)
    write(root / "pkg" / "__init__.py", "")
    write(root / "pkg" / "work.py", WORK)
    write(root / ".coveragerc", f"[run]\npatch = {patch}\n")
    return root


def run_and_combine(root: Path, *args: str, env: dict[str, str] | None = None) -> CoverageData:
    """`tally run ARGS`, then `tally combine`: the data of the run's every process."""
    ran = run_tally("run", *args, cwd=root, env=env)
    assert ran.returncode == 0, ran.stderr
    combined = run_tally("combine", "-q", cwd=root)
    assert combined.returncode == 0, combined.stderr
    return CoverageData(str(root / ".coverage"))


def one_process(tmp: Path, calls: str, flags: list[str]) -> CoverageData:
    """The data of the same work done by one process, with no patches."""
    root = tmp / "single"
    (root / "pkg").mkdir(parents=True)
    write(root / "pkg" / "__init__.py", "")
    write(root / "pkg" / "work.py", WORK)
    write(root / "single.py", SINGLE.format(calls=calls))
    ran = run_tally("run", *flags, "single.py", cwd=root)
    assert ran.returncode == 0, ran.stderr
    return CoverageData(str(root / ".coverage"))


def work_data(data: CoverageData, root: Path) -> tuple[list[int] | None, dict[int, int]]:
    """pkg/work.py's executed lines and counts."""
    path = str(root / "pkg" / "work.py")
    return data.lines(path), data.counts(path)


# pkg/work.py's module-level lines (its two `def`s), run once by each process importing it,
# and the arcs between them.
MODULE_LINES = {1, 7}
MODULE_ARCS = {(-1, 1), (1, 7), (7, -1)}


def assert_same_work(
    data: CoverageData, root: Path, single: CoverageData, tmp: Path, imports: int | None = 1
) -> None:
    """pkg/work.py's data is the single process's, but for its module-level lines, which
    ran once in each of the `imports` processes that imported it (None: in as many as
    the data says, which depends on how a pool starts its workers)."""
    lines, counts = work_data(single, tmp / "single")
    if imports is None:
        imports = work_data(data, root)[1].get(1, 0)
        assert imports >= 1
    expected = {line: n * imports if line in MODULE_LINES else n for line, n in counts.items()}
    assert work_data(data, root) == (lines, expected)
    if single.has_arcs():
        theirs = single.arc_counts(str(tmp / "single" / "pkg" / "work.py"))
        expected_arcs = {arc: n * imports if arc in MODULE_ARCS else n for arc, n in theirs.items()}
        assert data.arc_counts(str(root / "pkg" / "work.py")) == expected_arcs


@pytest.mark.parametrize("flags", ENGINE_FLAGS, ids=" ".join)
def test_python_subprocesses_are_measured_and_add_up_to_the_work_done(
    tmp_path: Path, flags: list[str]
) -> None:
    root = project(tmp_path / "proj")
    child = write(
        root / "child.py",
        """\
        from pkg.work import loop

        def main(n):
            if n > 3:
                return loop(n)
            return -1

        main(5)
        """,
    )
    write(
        root / "parent.py",
        """\
        import os, subprocess, sys
        from pkg.work import loop
        loop(2)
        subprocess.run([sys.executable, "child.py"], check=True)
        subprocess.run([sys.executable, "-m", "pkg.work"], check=True)
        os.system(f"{sys.executable} child.py")
        """,
    )

    data = run_and_combine(root, *flags, "parent.py")

    # loop(2) here, loop(5) in each of the two children running child.py; the module
    # imported by all four processes (`-m pkg.work` only imports it).
    single = one_process(tmp_path, "loop(2); loop(5); loop(5)", flags)
    assert_same_work(data, root, single, tmp_path, imports=4)
    # The children's main script, which Python ran itself, is counted like any other file.
    oracle = trace_counts(child, tmp_path / "trace")
    assert data.lines(str(child)) == sorted(oracle)
    if data.has_counts():
        assert data.counts(str(child)) == {line: 2 * n for line, n in oracle.items()}


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX only")
@pytest.mark.parametrize("flags", ENGINE_FLAGS, ids=" ".join)
def test_forked_children_save_their_own_part_however_they_end(
    tmp_path: Path, flags: list[str]
) -> None:
    root = project(tmp_path / "proj", patch="fork")
    write(
        root / "forks.py",
        """\
        import os, sys
        from pkg.work import loop
        loop(3)
        for n, ending in [(4, "_exit"), (6, "exit")]:
            pid = os.fork()
            if pid == 0:
                loop(n)
                if ending == "_exit":
                    os._exit(0)
                sys.exit(0)
            os.waitpid(pid, 0)
        loop(1)
        """,
    )
    write(root / ".coveragerc", "[run]\npatch = fork\n        _exit\n")

    data = run_and_combine(root, *flags, "forks.py")

    # No part counted twice: the children forgot the parent's loop(3).
    single = one_process(tmp_path, "loop(3); loop(4); loop(6); loop(1)", flags)
    assert_same_work(data, root, single, tmp_path)


@pytest.mark.parametrize(
    "method",
    [
        m
        for m in ("fork", "spawn", "forkserver")
        if m in __import__("multiprocessing").get_all_start_methods()
    ],
)
def test_multiprocessing_workers_are_measured_with_every_start_method(
    tmp_path: Path, method: str
) -> None:
    root = project(tmp_path / "proj")
    write(
        root / "pool.py",
        f"""\
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor
        from pkg.work import double

        if __name__ == "__main__":
            context = multiprocessing.get_context("{method}")
            pool = context.Pool(2)
            assert pool.map(double, range(10))[9] == 18
            pool.close()
            pool.join()
            with ProcessPoolExecutor(2, mp_context=context) as executor:
                assert list(executor.map(double, range(7)))[6] == 12
        """,
    )

    data = run_and_combine(root, "--count", "pool.py")

    calls = "[double(i) for i in range(10)]; [double(i) for i in range(7)]"
    single = one_process(tmp_path, calls, ["--count"])
    assert_same_work(data, root, single, tmp_path, imports=None)


def test_os_exit_saves_first_with_the_exit_patch(tmp_path: Path) -> None:
    root = project(tmp_path / "proj", patch="_exit")
    write(root / "quits.py", "import os\nfrom pkg.work import loop\nloop(4)\nos._exit(3)\n")

    ran = run_tally("run", "--count", "quits.py", cwd=root)

    assert ran.returncode == 3, ran.stderr
    data = CoverageData(str(root / ".coverage"))
    assert work_data(data, root) == work_data(
        one_process(tmp_path, "loop(4)", ["--count"]), tmp_path / "single"
    )


def test_an_unknown_patch_is_a_one_line_config_error(tmp_path: Path) -> None:
    root = project(tmp_path / "proj", patch="subprocesses")
    write(root / "prog.py", "print('hi')\n")

    ran = run_tally("run", "prog.py", cwd=root)

    assert ran.returncode == 1
    assert ran.stderr.strip().splitlines() == [
        "tally: [run] patch: unknown patch 'subprocesses'; the patches are _exit, execv, fork, "
        "subprocess"
    ]


@pytest.mark.parametrize("flags", ENGINE_FLAGS, ids=" ".join)
def test_a_killed_process_keeps_its_data_up_to_its_last_flush(
    tmp_path: Path, flags: list[str]
) -> None:
    root = project(tmp_path / "proj", patch="")
    write(
        root / "killed.py",
        """\
        import os, signal, time
        from pkg.work import loop
        loop(5)
        time.sleep(1.0)
        def later():
            loop(1)
        later()
        os.kill(os.getpid(), signal.SIGKILL)
        """,
    )
    env = tally_env(TALLY_FLUSH_INTERVAL="0.1")

    ran = run_tally("run", *flags, "killed.py", cwd=root, env=env)

    assert ran.returncode == -signal.SIGKILL
    assert not (root / ".coverage").exists()
    report = run_tally("report", cwd=root)
    assert report.returncode == 1
    assert "run `tally combine` to make the data file from them" in report.stderr
    # The journal is no data file of coverage.py's: its `combine` passes it by.
    (journal,) = root.glob(".coverage-tally.*.raw")
    theirs = run_coverage("combine", "--rcfile=", cwd=root, check=False)
    assert "Couldn't use data file" not in theirs.stdout + theirs.stderr
    assert journal.exists()
    combined = run_tally("combine", "-q", cwd=root)
    assert combined.returncode == 0, combined.stderr
    report = run_tally("report", "-m", cwd=root)
    assert "tally: warning: the run was incomplete: process" in report.stderr
    assert "ended without saving: its data is as of its last flush" in report.stderr
    # loop(5) ran long before the kill and was flushed; the data is what it did.
    lines, counts = work_data(CoverageData(str(root / ".coverage")), root)
    assert lines == [1, 2, 3, 4, 7, 8, 9, 10, 11]
    if counts:
        assert counts[10] >= 5


def test_a_process_killed_within_seconds_keeps_what_it_measured_by_then(tmp_path: Path) -> None:
    """The journal's first flush comes a second after the start, not at the interval (10
    s by default): a short process killed outright keeps its data."""
    root = project(tmp_path / "proj", patch="")
    write(
        root / "killed.py",
        """\
        import os, signal, time
        from pkg.work import loop
        loop(3)
        time.sleep(2.0)
        os.kill(os.getpid(), signal.SIGKILL)
        """,
    )
    ran = run_tally("run", "killed.py", cwd=root)
    assert ran.returncode == -signal.SIGKILL
    assert run_tally("combine", "-q", cwd=root).returncode == 0
    lines, _ = work_data(CoverageData(str(root / ".coverage")), root)
    assert {2, 4, 8, 9, 10, 11} <= set(lines or ())  # loop(3) ran before the first flush


def journal_bytes(tmp_path: Path) -> tuple[Path, bytes]:
    """A journal of two flushes: lines 1-2 counted once, then line 2 twice more and 3."""
    path = tmp_path / "j.raw"
    journal = Journal(str(path), {"pid": 1, "host": "h", "counts": True, "branch": False})
    journal.flush(Measurement({"a.py": {1, 2}}, {"a.py": {1: 1, 2: 1}}))
    journal.flush(Measurement({"a.py": {1, 2}}, {"a.py": {1: 1, 2: 1}}))  # nothing new
    journal.flush(Measurement({"a.py": {1, 2, 3}}, {"a.py": {1: 1, 2: 3, 3: 1}}))
    journal.close(remove=False)
    return path, path.read_bytes()


def record_starts(journal: bytes) -> list[int]:
    """Where each record of a journal starts: after the magic line, then record after
    record, each its length (4 bytes), its CRC (4 bytes) and its payload."""
    starts = []
    at = journal.index(b"\n") + 1
    while at < len(journal):
        starts.append(at)
        at += 8 + struct.unpack_from("<I", journal, at)[0]
    return starts


def test_journal_records_add_up_and_a_cut_off_record_costs_only_itself(tmp_path: Path) -> None:
    path, whole = journal_bytes(tmp_path)
    assert len(record_starts(whole)) == 3  # the process, two flushes with something new
    stored = read_journal(str(path))
    assert stored.has_counts() and not stored.has_arcs()
    from tally.data.numbits import numbits_to_nums, unpack_counts

    assert numbits_to_nums(stored.line_blobs["a.py"][0]) == [1, 2, 3]
    assert unpack_counts(stored.count_blobs["a.py"][0]) == {1: 1, 2: 3, 3: 1}

    # Cut anywhere inside the last record (8 bytes of length and checksum, then the
    # payload): the first flush is still all there.
    for end in range(record_starts(whole)[-1], len(whole)):
        path.write_bytes(whole[:end])
        cut = read_journal(str(path))
        assert unpack_counts(cut.count_blobs["a.py"][0]) == {1: 1, 2: 1}
    # A damaged record ends the reading there.
    damaged = bytearray(whole)
    damaged[-3] ^= 0xFF
    path.write_bytes(bytes(damaged))
    assert unpack_counts(read_journal(str(path)).count_blobs["a.py"][0]) == {1: 1, 2: 1}


def test_something_else_is_not_read_as_a_journal(tmp_path: Path) -> None:
    path = tmp_path / "x.raw"
    path.write_bytes(b"SQLite format 3\x00")
    with pytest.raises(DataError, match=r"is not a tally raw data journal"):
        read_journal(str(path))


@pytest.mark.skipif(
    not (hasattr(os, "fork") and sys.version_info >= (3, 12)),
    reason="Python warns of forking with threads from 3.12",
)
def test_the_journal_thread_never_makes_a_fork_warn(tmp_path: Path) -> None:
    root = project(tmp_path / "proj", patch="fork")
    write(
        root / "forks.py",
        """\
        import os, time, warnings
        warnings.simplefilter("error")
        time.sleep(0.3)
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
        """,
    )
    ran = run_tally("run", "forks.py", cwd=root, env=tally_env(TALLY_FLUSH_INTERVAL="0.1"))
    assert ran.returncode == 0, ran.stderr
    assert "DeprecationWarning" not in ran.stderr


@pytest.mark.skipif(os.name == "nt", reason="[run] patch = execv is POSIX only")
def test_exec_saves_the_data_before_the_program_is_replaced(tmp_path: Path) -> None:
    root = project(tmp_path / "proj", patch="execv")
    write(
        root / "execs.py",
        """\
        import os, sys
        from pkg.work import loop
        loop(4)
        os.execv(sys.executable, [sys.executable, "-c", "print('replaced')"])
        """,
    )

    ran = run_tally("run", "--count", "execs.py", cwd=root)

    assert ran.returncode == 0, ran.stderr
    assert "replaced" in ran.stdout
    data = CoverageData(str(root / ".coverage"))
    single = one_process(tmp_path, "loop(4)", ["--count"])
    assert work_data(data, root) == work_data(single, tmp_path / "single")
