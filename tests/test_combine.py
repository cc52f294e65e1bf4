"""`tally combine`: parallel data files added into one, paths remapped, nothing lost."""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest
from support import PY, run_coverage, run_tally, tally_env, write

from tally.data.combine import PathAliases
from tally.data.sqlite import CoverageData, write_data
from tally.measurement import Measurement

PROGRAM = """\
    import sys

    def fizz(n):
        out = []
        for i in range(n):
            if i % 3 == 0:
                out.append("fizz")
            else:
                out.append(i)
        return out

    if sys.argv[1] == "a":
        fizz(5)
    else:
        fizz(int(sys.argv[1]))
    """


def parallel_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.glob(".coverage.*") if not p.name.endswith(".json"))


def test_parallel_runs_combine_to_coverage_pys_lines_and_summed_counts(tmp_path: Path) -> None:
    program = write(tmp_path / "prog.py", PROGRAM)
    for arg in ("a", "7"):
        assert (
            run_tally("run", "--count", "--parallel-mode", "prog.py", arg, cwd=tmp_path).returncode
            == 0
        )
        run_coverage("run", "--parallel-mode", "prog.py", arg, cwd=tmp_path)
    parts = [CoverageData(str(p)) for p in parallel_files(tmp_path) if p.name.count(".") > 2]
    tally_parts = [d for d in parts if d.meta().get("tally_version")]
    assert len(tally_parts) == 2
    expected: dict[int, int] = {}
    for part in tally_parts:
        for line, n in part.counts(str(program)).items():
            expected[line] = expected.get(line, 0) + n
    # coverage.py's own parallel files go aside, for its combine to read.
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    for p in parallel_files(tmp_path):
        if not CoverageData(str(p)).meta().get("tally_version"):
            shutil.move(p, theirs / p.name)

    result = run_tally("combine", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stdout.count("Combined data file") == 2
    assert parallel_files(tmp_path) == []  # inputs deleted
    mine = CoverageData(str(tmp_path / ".coverage"))
    assert mine.counts(str(program)) == expected
    their_files = [str(p) for p in sorted(theirs.iterdir())]
    assert len(their_files) == 2
    run_coverage("combine", "--data-file=" + str(tmp_path / "cov"), *their_files, cwd=tmp_path)
    coverage_lines = CoverageData(str(tmp_path / "cov")).lines(str(program))
    assert mine.lines(str(program)) == coverage_lines


def test_keep_leaves_the_inputs_and_append_adds_to_the_data_file(tmp_path: Path) -> None:
    write(tmp_path / "prog.py", PROGRAM)
    run_tally("run", "--count", "prog.py", "a", cwd=tmp_path)
    run_tally("run", "--count", "--parallel-mode", "prog.py", "a", cwd=tmp_path)
    before = CoverageData(str(tmp_path / ".coverage")).counts(str(tmp_path / "prog.py"))

    result = run_tally("combine", "--keep", "--append", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert len(parallel_files(tmp_path)) == 1
    after = CoverageData(str(tmp_path / ".coverage")).counts(str(tmp_path / "prog.py"))
    assert after == {line: 2 * n for line, n in before.items()}


def measurement(path: str, counts: dict[int, int]) -> Measurement:
    return Measurement({path: set(counts)}, {path: counts}, {"tally_version": "test"})


def test_paths_remaps_windows_and_linux_roots_onto_the_local_tree(tmp_path: Path) -> None:
    (tmp_path / "src" / "pkg").mkdir(parents=True)
    local = write(tmp_path / "src" / "pkg" / "mod.py", "x = 1\n")
    write_data(
        str(tmp_path / ".coverage.win"), measurement(r"C:\build\proj\src\pkg\mod.py", {1: 2})
    )
    write_data(
        str(tmp_path / ".coverage.linux"), measurement("/home/ci/proj/src/pkg/mod.py", {1: 3})
    )
    write(
        tmp_path / ".coveragerc",
        """\
        [paths]
        source =
            src/
            C:\\build\\*\\src
            /home/ci/proj/src
        """,
    )

    result = run_tally("combine", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    data = CoverageData(str(tmp_path / ".coverage"))
    assert data.measured_files() == [str(local.resolve())]
    assert data.counts(str(local.resolve())) == {1: 5}


def test_a_path_matching_no_alias_is_found_by_its_trailing_components(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    local = write(tmp_path / "pkg" / "mod.py", "x = 1\n")
    aliases = PathAliases({}, str(tmp_path))
    assert aliases.map("/somewhere/else/proj/pkg/mod.py") == str(local)
    assert aliases.map(r"D:\a\proj\pkg\mod.py") == str(local)
    # A bare file name is not enough to move a file, nor a tail that names nothing here.
    assert aliases.map("/elsewhere/mod.py") == "/elsewhere/mod.py"
    assert aliases.map("/elsewhere/other/thing.py") == "/elsewhere/other/thing.py"


def test_alias_results_that_exist_here_are_preferred() -> None:
    aliases = PathAliases(
        {"a": ["/here/one/", "/ci/src"], "b": ["/here/two/", "/ci/src"]},
        "/here",
        exists=lambda p: p.startswith("/here/two/"),
    )
    assert aliases.map("/ci/src/m.py") == "/here/two/m.py"
    assert PathAliases({"a": ["/here/one/", "/ci/*/src"]}, "/").map("/CI/x/SRC/m.py") == (
        "/here/one/m.py"
    )


def test_a_paths_entry_without_alternatives_is_a_config_error(tmp_path: Path) -> None:
    write(tmp_path / ".coveragerc", "[paths]\nsource = src/\n")
    write_data(str(tmp_path / ".coverage.x"), measurement("/a/b.py", {1: 1}))
    result = run_tally("combine", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("tally: [paths] source needs the local directory first")


def test_duplicates_and_unreadable_files_are_skipped_and_named(tmp_path: Path) -> None:
    write_data(str(tmp_path / ".coverage.one"), measurement(str(tmp_path / "m.py"), {1: 4}))
    shutil.copy(tmp_path / ".coverage.one", tmp_path / ".coverage.copy")
    (tmp_path / ".coverage.broken").write_bytes(b"SQLite format 3\x00 truncated")

    result = run_tally("combine", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    warnings = result.stderr.splitlines()
    assert any("skipped" in w and ".coverage.broken" in w for w in warnings)
    assert any(".coverage.one" in w and "duplicate" in w for w in warnings) or any(
        ".coverage.copy" in w and "duplicate" in w for w in warnings
    )
    assert CoverageData(str(tmp_path / ".coverage")).counts(str(tmp_path / "m.py")) == {1: 4}
    # The unreadable file is kept for a person to look at.
    assert (tmp_path / ".coverage.broken").exists()


def test_nothing_to_combine_is_a_one_line_error(tmp_path: Path) -> None:
    result = run_tally("combine", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("tally: no data to combine")
    assert len(result.stderr.splitlines()) == 1
    missing = run_tally("combine", "nowhere", cwd=tmp_path)
    assert missing.returncode == 1
    assert "can't combine nowhere: no such file or directory" in missing.stderr


def test_branch_and_line_data_refuse_to_mix_and_nothing_is_deleted(tmp_path: Path) -> None:
    path = str(tmp_path / "m.py")
    write_data(str(tmp_path / ".coverage.lines"), measurement(path, {1: 1}))
    branchy = Measurement({path: {1}}, None, {}, {path: {(1, 2): 0}})
    write_data(str(tmp_path / ".coverage.arcs"), branchy)
    result = run_tally("combine", cwd=tmp_path)
    assert result.returncode == 1
    assert "can't combine branch coverage data with line coverage data" in result.stderr
    assert len(parallel_files(tmp_path)) == 2


def test_counts_are_dropped_with_a_warning_when_some_inputs_have_none(tmp_path: Path) -> None:
    path = str(tmp_path / "m.py")
    write_data(str(tmp_path / ".coverage.counted"), measurement(path, {1: 3}))
    write_data(str(tmp_path / ".coverage.plain"), Measurement({path: {1, 2}}, None, {}))
    result = run_tally("combine", cwd=tmp_path)
    assert result.returncode == 0
    assert "have no execution counts" in result.stderr
    data = CoverageData(str(tmp_path / ".coverage"))
    assert not data.has_counts()
    assert data.lines(path) == [1, 2]


def test_eight_processes_writing_at_once_combine_to_the_sum_of_the_parts(tmp_path: Path) -> None:
    program = write(tmp_path / "prog.py", PROGRAM)
    command = [PY, "-m", "tally", "run", "--count", "--parallel-mode", "prog.py"]
    procs = [subprocess.Popen([*command, str(n)], cwd=tmp_path, env=tally_env()) for n in range(8)]
    assert [p.wait(timeout=120) for p in procs] == [0] * 8
    parts = parallel_files(tmp_path)
    assert len(parts) == 8
    expected: dict[int, int] = {}
    for part in parts:
        for line, n in CoverageData(str(part)).counts(str(program)).items():
            expected[line] = expected.get(line, 0) + n

    assert run_tally("combine", "-q", cwd=tmp_path).returncode == 0

    assert CoverageData(str(tmp_path / ".coverage")).counts(str(program)) == expected
    # The loop body ran 0 + 1 + ... + 7 times in all.
    assert expected[6] == sum(range(8))


@pytest.mark.parametrize("keep", [True, False])
def test_directories_stand_for_their_parallel_files(tmp_path: Path, keep: bool) -> None:
    shard = tmp_path / "shard1"
    shard.mkdir()
    write_data(str(shard / ".coverage.x"), measurement(str(tmp_path / "m.py"), {2: 1}))
    args = ["combine", *(["--keep"] if keep else []), str(shard)]
    assert run_tally(*args, cwd=tmp_path).returncode == 0
    assert (shard / ".coverage.x").exists() == keep
    assert CoverageData(str(tmp_path / ".coverage")).lines(str(tmp_path / "m.py")) == [2]


def test_a_file_with_broken_counts_is_skipped_whole(tmp_path: Path) -> None:
    path = str(tmp_path / "m.py")
    write_data(str(tmp_path / ".coverage.good"), measurement(path, {1: 2}))
    write_data(str(tmp_path / ".coverage.bad"), measurement(path, {1: 5, 7: 5}))
    with contextlib.closing(sqlite3.connect(tmp_path / ".coverage.bad")) as conn, conn:
        conn.execute("update tally_counts set counts = x'01ff'")

    result = run_tally("combine", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert "skipped" in result.stderr and ".coverage.bad" in result.stderr
    data = CoverageData(str(tmp_path / ".coverage"))
    # Nothing of the bad file came in: not its lines, not its counts.
    assert data.lines(path) == [1]
    assert data.counts(path) == {1: 2}


def test_append_to_an_unreadable_data_file_stops_and_keeps_everything(tmp_path: Path) -> None:
    (tmp_path / ".coverage").write_bytes(b"not a data file")
    write_data(str(tmp_path / ".coverage.one"), measurement(str(tmp_path / "m.py"), {1: 1}))
    result = run_tally("combine", "--append", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("tally: can't --append to ")
    assert len(result.stderr.splitlines()) == 1
    assert (tmp_path / ".coverage").read_bytes() == b"not a data file"
    assert (tmp_path / ".coverage.one").exists()


MEASURED = {
    "lines": Measurement({"/p/a.py": {1, 2, 5}, "/p/b.py": set()}),
    "counts": Measurement({"/p/a.py": {1, 2}}, {"/p/a.py": {1: 3, 2: 7}}),
    "branches": Measurement(
        {"/p/a.py": {1, 2, 4}}, {"/p/a.py": {1: 1, 2: 2, 4: 1}}, None, {"/p/a.py": {(2, 4): 1}}
    ),
    "contexts": Measurement(
        {"/p/a.py": {1, 2, 3}},
        None,
        None,
        None,
        {"": Measurement({"/p/a.py": {1}}), "t|call": Measurement({"/p/a.py": {2, 3}})},
    ),
    "branch contexts": Measurement(
        {"/p/a.py": {1, 2, 4}},
        None,
        None,
        {"/p/a.py": {(2, 4): 0}},
        {
            "": Measurement({"/p/a.py": {1}}, None, None, {"/p/a.py": {}}),
            "t|call": Measurement({"/p/a.py": {2, 4}}, None, None, {"/p/a.py": {(2, 4): 0}}),
        },
    ),
}


@pytest.mark.parametrize("kind", list(MEASURED))
def test_data_combined_from_memory_is_what_combining_its_file_gives(
    tmp_path: Path, kind: str
) -> None:
    """The pytest plugin adds its own data to the combined file without saving it first:
    the result is the same as saving it and combining the file."""
    from tally.data.combine import combine
    from tally.data.sqlite import stored_of

    measured = MEASURED[kind]
    aliases = PathAliases({}, str(tmp_path))
    write_data(str(tmp_path / ".coverage.one"), measured)
    combine(str(tmp_path / "via-file"), [str(tmp_path / ".coverage.one")], aliases)
    combine(str(tmp_path / "via-memory"), [], aliases, measured={"own": stored_of(measured)})
    via_file, via_memory = (CoverageData(tmp_path / n) for n in ("via-file", "via-memory"))
    assert via_memory.measured_files() == via_file.measured_files()
    for path in via_file.measured_files():
        assert via_memory.lines(path) == via_file.lines(path)
        assert via_memory.counts(path) == via_file.counts(path)
        assert via_memory.arcs(path) == via_file.arcs(path)
        assert via_memory.arc_counts(path) == via_file.arc_counts(path)
        assert via_memory.contexts_by_line(path) == via_file.contexts_by_line(path)
    assert via_memory.measured_contexts() == via_file.measured_contexts()
