"""The report files (JSON, Cobertura XML, LCOV, badge) against what coverage.py writes from
the same data file, and read by the tools that consume them."""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from support import CORPUS, PY, clean_env, run_coverage, run_tally, write

from tally.data.sqlite import CoverageData

CORPUS_FILES = sorted(
    p for p in CORPUS.glob("*.py") if sys.version_info >= (3, 12) or not p.name.endswith("_312.py")
)
# The consumers of the formats (genhtml, diff-cover, pycobertura, Chromium) are installed by
# scripts/check.sh for the main suite; the suites on other Pythons run without them.
# TALLY_TEST_EXTERNAL_TOOLS: 1 all of them, 0 none, lcov genhtml alone (the 3.14 suite's
# root has Debian unstable's lcov 2.x, the main suite's Debian stable's 1.16).
EXTERNAL_TOOLS = os.environ.get("TALLY_TEST_EXTERNAL_TOOLS", "1")
needs_tools = pytest.mark.skipif(
    EXTERNAL_TOOLS != "1", reason="format consumers run in the main suite (scripts/check.sh)"
)
needs_genhtml = pytest.mark.skipif(
    EXTERNAL_TOOLS == "0", reason="genhtml runs in the main and 3.14 suites (scripts/check.sh)"
)


def measured(tmp_path: Path, program: Path, *flags: str) -> Path:
    """Run `program` (copied into `tmp_path` as prog.py) under tally with `flags`."""
    shutil.copy(program, tmp_path / "prog.py")
    result = run_tally("run", *flags, "prog.py", cwd=tmp_path)
    assert (tmp_path / ".coverage").exists(), result.stderr
    return tmp_path / "prog.py"


def consumer(name: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the external program `name` that reads a report (a clear failure when it isn't
    installed), with no coverage.py or tally settings from outside."""
    found = shutil.which(name) or shutil.which(name, path=os.path.dirname(PY))
    assert found, f"{name} is not installed: scripts/check.sh installs it (Debian/pip)"
    return subprocess.run(
        [found, *args], cwd=cwd, capture_output=True, text=True, check=False, env=clean_env()
    )


@pytest.mark.parametrize(
    "flags", [("--count",), ("--count", "--branch")], ids=["lines", "branches"]
)
@pytest.mark.parametrize("program", CORPUS_FILES, ids=lambda p: p.stem)
def test_json_is_what_coverage_py_writes_plus_counts(
    tmp_path: Path, program: Path, flags: tuple[str, ...]
) -> None:
    measured(tmp_path, program, *flags)
    run_coverage("json", "-o", "theirs.json", cwd=tmp_path)
    result = run_tally("json", "-o", "ours.json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    theirs = json.loads((tmp_path / "theirs.json").read_text())
    ours = json.loads((tmp_path / "ours.json").read_text())
    assert ours["meta"]["format"] == theirs["meta"]["format"] == 3
    assert ours["meta"]["branch_coverage"] == theirs["meta"]["branch_coverage"]
    data = CoverageData(str(tmp_path / ".coverage"))
    (path,) = data.measured_files()
    counts = data.counts(path)
    entry = ours["files"]["prog.py"]
    # The counts are the data file's, one per statement (0 for those that never ran).
    statements = entry["executed_lines"] + entry["missing_lines"]
    assert entry.pop("counts") == {str(n): counts.get(n, 0) for n in sorted(statements)}
    arc_counts = entry.pop("arc_counts", [])
    if "--branch" in flags:
        # Every arm taken has a count, and only those taken do.
        taken = {(a, b) for a, b in entry["executed_branches"]}
        assert {(a, b) for a, b, n in arc_counts if n} >= taken
    for report in (ours, theirs):
        del report["meta"]
    assert ours == theirs


def test_json_pretty_print_and_stdout(tmp_path: Path) -> None:
    measured(tmp_path, CORPUS / "basics.py")
    compact = run_tally("json", "-o", "-", cwd=tmp_path)
    assert compact.returncode == 0 and compact.stdout.count("\n") <= 1
    pretty = run_tally("json", "-o", "-", "--pretty-print", cwd=tmp_path)
    assert json.loads(pretty.stdout) == json.loads(compact.stdout) | {
        "meta": json.loads(pretty.stdout)["meta"]
    }
    assert pretty.stdout.count("\n") > 20


def _lines_of(root: ET.Element) -> dict[int, dict[str, str]]:
    return {int(line.get("number", "0")): dict(line.attrib) for line in root.iter("line")}


@pytest.mark.parametrize("program", CORPUS_FILES, ids=lambda p: p.stem)
def test_xml_is_what_coverage_py_writes_with_hits_as_counts(tmp_path: Path, program: Path) -> None:
    measured(tmp_path, program, "--count", "--branch")
    run_coverage("xml", "-o", "theirs.xml", cwd=tmp_path)
    assert run_tally("xml", "-o", "ours.xml", cwd=tmp_path).returncode == 0
    theirs = ET.parse(tmp_path / "theirs.xml").getroot()
    ours = ET.parse(tmp_path / "ours.xml").getroot()
    for attr in ("lines-valid", "lines-covered", "line-rate", "branches-valid", "branch-rate"):
        assert ours.get(attr) == theirs.get(attr), attr
    assert [s.text for s in ours.iter("source")] == [s.text for s in theirs.iter("source")]
    assert [(p.get("name"), p.get("line-rate")) for p in ours.iter("package")] == [
        (p.get("name"), p.get("line-rate")) for p in theirs.iter("package")
    ]
    data = CoverageData(str(tmp_path / ".coverage"))
    counts = data.counts(data.measured_files()[0])
    our_lines, their_lines = _lines_of(ours), _lines_of(theirs)
    assert our_lines.keys() == their_lines.keys()
    for number, attrs in our_lines.items():
        hits = int(attrs.pop("hits"))
        assert (hits > 0) == (their_lines[number].pop("hits") == "1")
        if hits:
            assert hits == max(counts.get(number, 0), 1)
        assert attrs == their_lines[number], number


@pytest.mark.parametrize("program", CORPUS_FILES, ids=lambda p: p.stem)
def test_lcov_is_what_coverage_py_writes_with_real_counts(tmp_path: Path, program: Path) -> None:
    measured(tmp_path, program, "--count", "--branch")
    run_coverage("lcov", "-o", "theirs.lcov", cwd=tmp_path)
    assert run_tally("lcov", "-o", "ours.lcov", cwd=tmp_path).returncode == 0
    ours = (tmp_path / "ours.lcov").read_text().splitlines()
    theirs = (tmp_path / "theirs.lcov").read_text().splitlines()
    assert len(ours) == len(theirs)
    data = CoverageData(str(tmp_path / ".coverage"))
    counts = data.counts(data.measured_files()[0])
    for mine, other in zip(ours, theirs, strict=True):
        if mine.startswith("FNDA:"):  # FNDA:hits,name
            hits, _, name = mine[5:].partition(",")
            other_hits, _, other_name = other[5:].partition(",")
            assert name == other_name
            assert (hits != "0") == (other_hits != "0"), mine
        elif mine.startswith(("DA:", "BRDA:")):  # ...,hits
            head, _, hits = mine.rpartition(",")
            other_head, _, other_hits = other.rpartition(",")
            assert head == other_head
            assert (hits not in ("0", "-")) == (other_hits not in ("0", "-")), mine
            if mine.startswith("DA:") and hits != "0":
                line = int(head[3:].split(",")[0])
                assert int(hits) == max(counts.get(line, 0), 1)
        else:
            assert mine == other


@pytest.mark.parametrize("program", CORPUS_FILES, ids=lambda p: p.stem)
def test_annotate_writes_what_coverage_py_writes(tmp_path: Path, program: Path) -> None:
    """The ,cover files of tally annotate are coverage.py annotate's, byte for byte, from
    the same data."""
    measured(tmp_path, program, "--branch")
    run_coverage("annotate", "-d", "theirs", cwd=tmp_path)
    assert run_tally("annotate", "-d", "ours", cwd=tmp_path).returncode == 0
    assert (tmp_path / "ours" / "prog.py,cover").read_text() == (
        tmp_path / "theirs" / "prog.py,cover"
    ).read_text()


def test_annotate_shows_each_statements_count_when_counts_were_asked_for(tmp_path: Path) -> None:
    """With counts asked for, each statement's count follows its mark; the rest of each
    line is coverage.py's."""
    measured(tmp_path, CORPUS / "loops.py", "--count")
    run_coverage("annotate", "-d", "theirs", cwd=tmp_path)
    assert run_tally("annotate", cwd=tmp_path).returncode == 0  # beside the source
    counted = (tmp_path / "prog.py,cover").read_text().splitlines(keepends=True)
    theirs = (tmp_path / "theirs" / "prog.py,cover").read_text().splitlines(keepends=True)
    assert [line[:2] + line[10:] for line in counted] == theirs
    counts = CoverageData(str(tmp_path / ".coverage")).counts(str(tmp_path / "prog.py"))
    shown = {n: int(line[2:9]) for n, line in enumerate(counted, 1) if line[2:9].strip()}
    assert shown and all(shown[n] == counts.get(n, 0) for n in shown)
    assert max(shown.values()) > 1
    # [report] show_counts (--no-show-counts) leaves them out: coverage.py's file again.
    assert run_tally("annotate", "--no-show-counts", cwd=tmp_path).returncode == 0
    assert (tmp_path / "prog.py,cover").read_text().splitlines(keepends=True) == theirs


def _genhtml_errors(tmp_path: Path, report: str) -> tuple[int, list[str]]:
    """genhtml's exit status on `report`, and the kinds of error it names."""
    result = consumer("genhtml", "--branch-coverage", "-o", report + ".html", report, cwd=tmp_path)
    return result.returncode, sorted(set(re.findall(r"ERROR: \((\w+)\)", result.stderr)))


@needs_genhtml
@pytest.mark.parametrize("program", CORPUS_FILES, ids=lambda p: p.stem)
def test_genhtml_reads_our_lcov_as_it_reads_coverage_pys(tmp_path: Path, program: Path) -> None:
    """Whatever the installed genhtml's version (1.16 in the main suite, 2.x in the 3.14
    one), it accepts or rejects tally's LCOV file as it does coverage.py's of the same
    data: lcov 2.4+ rejects coverage.py 7.18's own files for a line that ran while its
    branches never did (it raised), and for a function starting on a docstring
    (docs/reports.md)."""
    measured(tmp_path, program, "--count", "--branch")
    assert run_tally("lcov", "-o", "ours.lcov", cwd=tmp_path).returncode == 0
    run_coverage("lcov", "-o", "theirs.lcov", cwd=tmp_path)
    assert _genhtml_errors(tmp_path, "ours.lcov") == _genhtml_errors(tmp_path, "theirs.lcov")


@needs_genhtml
def test_genhtml_renders_the_lcov_report(tmp_path: Path) -> None:
    measured(tmp_path, CORPUS / "loops.py", "--count", "--branch")
    assert run_tally("lcov", cwd=tmp_path).returncode == 0
    result = consumer(
        "genhtml", "--branch-coverage", "-o", "genhtml", "coverage.lcov", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert "Overall coverage rate" in result.stdout
    assert (tmp_path / "genhtml" / "index.html").exists()


@needs_tools
def test_pycobertura_and_diff_cover_read_the_xml_report(tmp_path: Path) -> None:
    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    write(tmp_path / "prog.py", "def f(x):\n    return x\n")
    git("init", "-q", "-b", "main")
    git("-c", "user.name=t", "-c", "user.email=t@t", "add", "prog.py")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one")
    write(
        tmp_path / "prog.py",
        "def f(x):\n    if x:\n        return x\n    return -x\n\nprint(f(1))\n",
    )
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "two")
    assert run_tally("run", "--count", "prog.py", cwd=tmp_path).returncode == 0
    assert run_tally("xml", cwd=tmp_path).returncode == 0
    shown = consumer("pycobertura", "show", "coverage.xml", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "prog.py" in shown.stdout and "80.00%" in shown.stdout  # 4 of 5 statements
    diff = consumer("diff-cover", "coverage.xml", "--compare-branch=HEAD~1", cwd=tmp_path)
    assert diff.returncode == 0, diff.stderr
    # Changed: lines 2, 3, 4 and 6, of which 4 never ran.
    assert "prog.py (75.0%): Missing lines 4" in diff.stdout


def test_a_badge_shows_the_total_in_its_colour(tmp_path: Path) -> None:
    write(tmp_path / "prog.py", "def f(x):\n    if x:\n        return x\n    return -x\n\nf(1)\n")
    assert run_tally("run", "prog.py", cwd=tmp_path).returncode == 0
    result = run_tally("badge", "-o", "out/badge.svg", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    svg = ET.parse(tmp_path / "out" / "badge.svg").getroot()
    texts = [t.text for t in svg.iter("{http://www.w3.org/2000/svg}text")]
    assert "80%" in texts and "coverage" in texts
    fills = {r.get("fill") for r in svg.iter("{http://www.w3.org/2000/svg}rect")}
    assert "#97ca00" in fills  # 80-90: green


def test_report_files_go_to_new_directories_whole_or_not_at_all(tmp_path: Path) -> None:
    measured(tmp_path, CORPUS / "basics.py")
    assert run_tally("xml", "-o", "deep/er/cov.xml", cwd=tmp_path).returncode == 0
    ET.parse(tmp_path / "deep" / "er" / "cov.xml")
    (tmp_path / "blocked").write_text("a file, not a directory")
    result = run_tally("lcov", "-o", "blocked/cov.lcov", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("tally: can't write the LCOV report to blocked/cov.lcov")
    assert "Traceback" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir() if "tmp" in p.name) == []


def test_report_commands_fail_under_with_status_2_after_writing(tmp_path: Path) -> None:
    write(tmp_path / "prog.py", "def f(x):\n    if x:\n        return x\n    return -x\n\nf(1)\n")
    assert run_tally("run", "prog.py", cwd=tmp_path).returncode == 0
    for command, out in (
        ("json", "coverage.json"),
        ("xml", "coverage.xml"),
        ("lcov", "coverage.lcov"),
    ):
        result = run_tally(command, "--fail-under=90", cwd=tmp_path)
        assert result.returncode == 2, (command, result.stderr)
        assert "total of 80 is less than fail-under=90" in result.stderr
        assert (tmp_path / out).exists()
    assert run_tally("json", "--fail-under=80", cwd=tmp_path).returncode == 0


def test_report_commands_take_include_and_omit(tmp_path: Path) -> None:
    write(tmp_path / "a.py", "import b\nx = 1\n")
    write(tmp_path / "b.py", "y = 2\n")
    assert run_tally("run", "a.py", cwd=tmp_path).returncode == 0
    result = run_tally("json", "-o", "-", "--omit=b.py", cwd=tmp_path)
    assert list(json.loads(result.stdout)["files"]) == ["a.py"]
    result = run_tally("json", "-o", "-", "--include=b.py", cwd=tmp_path)
    assert list(json.loads(result.stdout)["files"]) == ["b.py"]


def test_xml_sources_are_the_ones_coverage_py_lists(tmp_path: Path) -> None:
    """<sources> holds the configured sources that exist and the roots of files outside
    them: not a source directory that isn't there, nor a package name."""
    write(tmp_path / "lib" / "mod.py", "def f():\n    return 1\n")
    write(tmp_path / "main.py", "import sys\nsys.path.insert(0, 'lib')\nimport mod\nmod.f()\n")
    write(tmp_path / ".coveragerc", "[run]\nsource =\n    lib\n    not_there\n    mod\n")
    assert run_tally("run", "main.py", cwd=tmp_path).returncode == 0
    run_coverage("xml", "-o", "theirs.xml", cwd=tmp_path)
    assert run_tally("xml", "-o", "ours.xml", cwd=tmp_path).returncode == 0
    theirs = [s.text for s in ET.parse(tmp_path / "theirs.xml").getroot().iter("source")]
    ours = [s.text for s in ET.parse(tmp_path / "ours.xml").getroot().iter("source")]
    assert ours == theirs == [str((tmp_path / "lib").resolve())]


def test_every_registered_format_is_a_command_and_a_pytest_report(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The formats are listed once (report/registry.py): each is a `tally` command, in
    `tally --help`, and (but the badge) a `--tally-report` type."""
    from tally.cli.main import main
    from tally.pytest_plugin import _report_spec
    from tally.report.registry import FORMATS

    with pytest.raises(SystemExit):
        main(["--help"])
    listed = capsys.readouterr().out
    for name, form in FORMATS.items():
        assert re.search(rf"^    {name} +{re.escape(form.summary)}$", listed, re.MULTILINE)
        with pytest.raises(SystemExit) as done:
            main([name, "--help"])
        assert done.value.code == 0
    with pytest.raises(argparse.ArgumentTypeError) as unknown:
        _report_spec("nonsense")
    offered = str(unknown.value).split("choose from ")[1].rstrip(")").split(", ")
    assert offered == [
        "term",
        "term-missing",
        "markdown",
        "markdown-append",
        "html",
        "xml",
        "json",
        "lcov",
        "annotate",
    ]


def test_annotate_and_markdown_append_that_cant_write_say_so_in_one_line(tmp_path: Path) -> None:
    measured(tmp_path, CORPUS / "basics.py")
    write(tmp_path / "taken", "a file, not a directory\n")
    ran = run_tally("annotate", "-d", "taken/out", cwd=tmp_path)
    assert ran.returncode == 1
    assert ran.stderr.startswith("tally: can't write the annotated source to taken/out/")
    assert ran.stderr.endswith("; choose another path with -d\n")
    assert len(ran.stderr.splitlines()) == 1
    (tmp_path / "notes.md").mkdir()
    from tally.api import Coverage
    from tally.exceptions import OutputError

    cov = Coverage(config_file=False, data_file=str(tmp_path / ".coverage"))
    with pytest.raises(OutputError, match=r"can't append the Markdown report to .*notes\.md"):
        cov.report("markdown-append", str(tmp_path / "notes.md"))
