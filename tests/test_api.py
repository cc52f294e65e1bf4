"""The Python API: `tally.Coverage` measures in-process; `tally.CoverageData` reads."""

from __future__ import annotations

import importlib
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

import tally


@pytest.fixture
def module_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "apimod.py").write_text(
        textwrap.dedent("""\
        def tri(n):
            total = 0
            for i in range(n):
                total += i
            return total
        """)
    )
    yield tmp_path
    sys.modules.pop("apimod", None)


def test_count_engine_in_process_as_context_manager(module_dir: Path) -> None:
    with tally.Coverage(
        count=True, engine="count", config_file=False, source=[str(module_dir)]
    ) as cov:
        module = importlib.import_module("apimod")
        module.tri(5)
    data = tally.CoverageData(cov.data_file)
    path = str((module_dir / "apimod.py").resolve())
    assert data.measured_files() == [path]
    assert data.counts(path) == {1: 1, 2: 1, 3: 6, 4: 5, 5: 1}
    assert data.lines(path) == [1, 2, 3, 4, 5]


def test_stop_then_start_accumulates_only_measured_time(module_dir: Path) -> None:
    cov = tally.Coverage(engine="count", count=True, config_file=False, source=[str(module_dir)])
    cov.start()
    module = importlib.import_module("apimod")
    module.tri(2)
    cov.stop()
    module.tri(100)  # not measured
    cov.start()
    module.tri(1)
    cov.stop()
    counts = cov.measurement().counts or {}
    path = str((module_dir / "apimod.py").resolve())
    assert counts[path][3] == 3 + 2  # range(2): 3 tests; range(1): 2 tests


def test_erase_and_missing_data(module_dir: Path) -> None:
    cov = tally.Coverage(config_file=False)
    cov.save()
    assert Path(".coverage").exists()
    cov.erase()
    assert not Path(".coverage").exists()
    with pytest.raises(tally.TallyError):
        cov.get_data()


def test_parallel_data_file_name_is_chosen_once(module_dir: Path) -> None:
    cov = tally.Coverage(config_file=False)
    cov.config.set("run:parallel", True, "test")
    assert cov.data_file == cov.data_file
    assert cov.save() == cov.data_file
    assert Path(cov.data_file).name.startswith(".coverage.")


def test_reports_come_from_the_facade(module_dir: Path) -> None:
    """A library user gets every report from Coverage: the table as text, a file where
    asked, from one analysis when given it."""
    with tally.Coverage(
        engine="count", config_file=False, source=[str(module_dir)], data_file="api.data"
    ) as cov:
        importlib.import_module("apimod").tri(3)
    table = cov.report()
    assert table.splitlines()[-1].split()[:4] == ["TOTAL", "5", "0", "100%"]
    results = cov.analyze()
    said = cov.report("xml", str(module_dir / "out" / "cov.xml"), results=results)
    assert said == f"Wrote XML report to {module_dir / 'out' / 'cov.xml'}"
    assert (module_dir / "out" / "cov.xml").read_text().startswith("<?xml")
    assert cov.report("json", results=results) == "Wrote JSON report to coverage.json"
    assert (module_dir / "coverage.json").exists()
    with pytest.raises(tally.TallyError, match="no report format 'pdf'"):
        cov.report("pdf")


def test_a_report_takes_its_settings_by_name_for_itself_alone(module_dir: Path) -> None:
    """Coverage.report(format, **settings), as coverage.py's report(show_missing=...,
    precision=...): the setting is parsed as a config file's would be and holds for that
    report only."""
    (module_dir / "apimod.py").write_text(
        "def f(x):\n    if x:\n        return 1\n    return 2\nf(1)\n"
    )
    with tally.Coverage(
        engine="count", config_file=False, source=[str(module_dir)], data_file="api.data"
    ) as cov:
        importlib.import_module("apimod")
    total = cov.report().splitlines()[-1]
    assert total.split()[:4] == ["TOTAL", "5", "1", "80%"]
    assert cov.report(precision="2", show_missing=True).splitlines()[-1].split()[3] == "80.00%"
    assert cov.report().splitlines()[-1] == total  # the config is as it was
    said = cov.report("html", title="Spec", directory=str(module_dir / "h"))
    assert said.startswith(f"Wrote HTML report to {module_dir / 'h' / 'index.html'}")
    assert "<title>Spec</title>" in (module_dir / "h" / "index.html").read_text()
    with pytest.raises(tally.TallyError, match="the term report has no setting 'titel'"):
        cov.report(titel="x")
    with pytest.raises(tally.TallyError, match="invalid value 'many' for precision"):
        cov.report(precision="many")
