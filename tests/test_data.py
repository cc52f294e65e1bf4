"""Data files: coverage.py reads ours, writes are atomic, bad files give clear errors."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import coverage
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tally.data.numbits import numbits_to_nums, nums_to_numbits, pack_counts, unpack_counts
from tally.data.sqlite import CoverageData, write_data
from tally.exceptions import DataError, NoDataError
from tally.measurement import Measurement


@given(st.sets(st.integers(min_value=0, max_value=5000)))
def test_numbits_round_trip_and_match_coverage_py(nums: set[int]) -> None:
    from coverage.numbits import nums_to_numbits as theirs

    blob = nums_to_numbits(nums)
    assert numbits_to_nums(blob) == sorted(nums)
    assert blob == theirs(nums)


@given(st.dictionaries(st.integers(1, 2**31), st.integers(0, 2**63)))
def test_counts_round_trip(counts: dict[int, int]) -> None:
    assert unpack_counts(pack_counts(counts)) == counts


@pytest.mark.parametrize("blob", [b"", b"\x02abcd", b"\x01\x05\x00\x00\x00"])
def test_malformed_counts_blob_is_rejected(blob: bytes) -> None:
    with pytest.raises(ValueError, match="counts blob"):
        unpack_counts(blob)


def _measurement() -> Measurement:
    return Measurement(
        lines={"/p/a.py": {1, 2, 5}, "/p/b.py": {3}},
        counts={"/p/a.py": {1: 1, 2: 10, 5: 3}, "/p/b.py": {3: 7}},
    )


def test_round_trip_and_meta(tmp_path: Path) -> None:
    path = tmp_path / ".coverage"
    write_data(str(path), _measurement())
    data = CoverageData(path)
    assert data.measured_files() == ["/p/a.py", "/p/b.py"]
    assert data.lines("/p/a.py") == [1, 2, 5]
    assert data.counts("/p/a.py") == {1: 1, 2: 10, 5: 3}
    assert data.lines("/p/none.py") is None
    meta = data.meta()
    assert meta["has_arcs"] == "0" and meta["tally_counts"] == "1"
    assert {"tally_version", "python_version", "when"} <= set(meta)


def test_coverage_py_reads_the_lines(tmp_path: Path) -> None:
    path = tmp_path / ".coverage"
    write_data(str(path), _measurement())
    theirs = coverage.CoverageData(str(path))
    theirs.read()
    assert sorted(theirs.measured_files()) == ["/p/a.py", "/p/b.py"]
    assert sorted(theirs.lines("/p/a.py") or []) == [1, 2, 5]
    assert theirs.has_arcs() is False


def test_append_adds_counts_and_unites_lines(tmp_path: Path) -> None:
    path = str(tmp_path / ".coverage")
    write_data(path, _measurement())
    write_data(path, Measurement({"/p/a.py": {7}}, {"/p/a.py": {2: 5, 7: 1}}), append=True)
    data = CoverageData(path)
    assert data.lines("/p/a.py") == [1, 2, 5, 7]
    assert data.counts("/p/a.py") == {1: 1, 2: 15, 5: 3, 7: 1}


def test_a_failed_write_leaves_the_old_file_intact(tmp_path: Path) -> None:
    path = tmp_path / ".coverage"
    write_data(str(path), _measurement())
    before = path.read_bytes()
    bad = Measurement({"/p/a.py": {1}}, {"/p/a.py": {1: -1}})  # can't pack a negative count
    with pytest.raises(OverflowError):
        write_data(str(path), bad)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [".coverage"]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(NoDataError, match=r"no data file .*: run `tally run` first"):
        CoverageData(tmp_path / ".coverage")


def test_not_sqlite(tmp_path: Path) -> None:
    path = tmp_path / ".coverage"
    path.write_text("!coverage.py: This is a private format, don't read it directly!")
    with pytest.raises(DataError, match=r"couldn't read data file .*\.coverage: file is not a"):
        CoverageData(path)


def test_truncated(tmp_path: Path) -> None:
    path = tmp_path / ".coverage"
    write_data(str(path), _measurement())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(DataError, match="couldn't read data file"):
        CoverageData(path)


def test_other_sqlite_database(tmp_path: Path) -> None:
    path = tmp_path / ".coverage"
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("create table t (x)")
    with pytest.raises(DataError, match="SQLite database but not coverage data"):
        CoverageData(path)


def test_wrong_schema_version(tmp_path: Path) -> None:
    path = tmp_path / ".coverage"
    write_data(str(path), _measurement())
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("update coverage_schema set version = 6")
    with pytest.raises(DataError, match="schema version 6; tally reads version 7"):
        CoverageData(path)


def test_reads_coverage_py_data_with_arcs(tmp_path: Path) -> None:
    path = tmp_path / ".coverage"
    theirs = coverage.CoverageData(str(path))
    theirs.add_arcs({"/p/a.py": {(-1, 1), (1, 2), (2, -1)}})
    theirs.write()
    assert CoverageData(path).lines("/p/a.py") == [1, 2]


def test_branch_data_is_coverage_pys_arc_table_with_counts_of_our_own(tmp_path: Path) -> None:
    """Executed lines go in as (n, n) arcs, branch arcs as themselves; coverage.py reads
    the same executed lines and the branch arcs, and tally reads arcs and their counts."""
    path = str(tmp_path / ".coverage")
    arcs = {"/p/a.py": {(2, 3): 4, (5, -1): 1}}
    write_data(path, Measurement({"/p/a.py": {1, 2, 3, 5}}, {"/p/a.py": {1: 1}}, None, arcs))
    data = CoverageData(path)
    assert data.has_arcs() and data.meta()["has_arcs"] == "1"
    assert data.lines("/p/a.py") == [1, 2, 3, 5]
    assert data.arcs("/p/a.py") == [(2, 3), (5, -1)]
    assert data.arc_counts("/p/a.py") == {(2, 3): 4, (5, -1): 1}
    theirs = coverage.CoverageData(path)
    theirs.read()
    assert theirs.has_arcs()
    assert sorted(theirs.lines("/p/a.py") or []) == [1, 2, 3, 5]
    assert {(2, 3), (5, -1)} <= set(theirs.arcs("/p/a.py") or [])


def test_appending_line_data_to_branch_data_is_refused_clearly(tmp_path: Path) -> None:
    path = str(tmp_path / ".coverage")
    write_data(path, Measurement({"/p/a.py": {1}}, None, None, {"/p/a.py": {}}))
    with pytest.raises(DataError, match="can't combine branch coverage data with line"):
        write_data(path, Measurement({"/p/a.py": {2}}), append=True)
    assert CoverageData(path).lines("/p/a.py") == [1]  # the file is as it was
