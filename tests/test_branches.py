"""Branch coverage: possible arcs, arcs taken and missing branches, against coverage.py."""

from __future__ import annotations

import ast
import dis
import io
import subprocess
import sys
import sysconfig
import tokenize
from collections.abc import Sequence
from pathlib import Path

import pytest
from coverage.parser import PythonParser
from support import (
    BRANCH_ENGINES,
    CASES,
    CORPUS,
    coverage_json,
    run_coverage,
    run_tally,
    transitions,
    write,
)

from tally.analysis.analyzer import analyze_data
from tally.analysis.arcs import ArcFacts, find_arcs
from tally.analysis.results import format_lines
from tally.analysis.source import analyze_source, multiline_map, raw_statement_lines
from tally.config.options import DEFAULT_EXCLUDE, DEFAULT_PARTIAL, DEFAULT_PARTIAL_ALWAYS
from tally.data.sqlite import CoverageData

# Corpus programs in syntax this Python reads (types_312.py is PEP 695, 3.12+).
CORPUS_FILES = sorted(
    p for p in CORPUS.glob("*.py") if sys.version_info >= (3, 12) or not p.name.endswith("_312.py")
)
STDLIB = Path(sysconfig.get_paths()["stdlib"])
# A spread of standard-library modules: every statement kind, large and small.
STDLIB_FILES = [
    STDLIB / name
    for name in (
        "argparse.py",
        "ast.py",
        "configparser.py",
        "dataclasses.py",
        "difflib.py",
        "inspect.py",
        "pathlib/__init__.py" if sys.version_info >= (3, 13) else "pathlib.py",
        "shutil.py",
        "subprocess.py",
        "tarfile.py",
        "textwrap.py",
        "typing.py",
        "zipfile/__init__.py" if sys.version_info >= (3, 12) else "zipfile.py",
    )
]


def find_arcs_of(path: Path) -> ArcFacts:
    """tally's static arc analysis of the file at `path`."""
    text = path.read_text(encoding="utf-8")
    tree = ast.parse(text)
    code = compile(text, str(path), "exec", dont_inherit=True)
    facts = analyze_source(text, str(path), None, tree=tree, code=code)
    return find_arcs(tree, raw_statement_lines(code), facts.multiline)


def possible_arcs(path: Path) -> set[tuple[int, int]]:
    return find_arcs_of(path).arcs


@pytest.mark.parametrize("path", CORPUS_FILES + STDLIB_FILES, ids=lambda p: p.name)
def test_possible_arcs_are_coverage_pys(path: Path) -> None:
    """Every arc coverage.py's parser finds, tally finds, and no other."""
    text = path.read_text(encoding="utf-8")
    parser = PythonParser(text=text, filename=str(path))
    parser.parse_source()
    assert possible_arcs(path) == parser.arcs()


def tally_view(
    data_file: Path, cwd: Path, exclude: Sequence[str] = DEFAULT_EXCLUDE
) -> dict[str, dict[str, object]]:
    """tally's own analysis of its data file, in the shape of coverage_json."""
    results = analyze_data(
        CoverageData(str(data_file)),
        exclude=exclude,
        partial=DEFAULT_PARTIAL + DEFAULT_PARTIAL_ALWAYS,
        cwd=str(cwd),
    )
    view: dict[str, dict[str, object]] = {}
    for analysis in results.files:
        assert analysis.branches is not None
        view[analysis.name] = {
            "missing_branches": sorted(
                (line, end) for line, ends in analysis.branches.missing.items() for end in ends
            ),
            "missing_lines": sorted(analysis.missing),
            "num_branches": analysis.numbers.n_branches,
            "num_partial_branches": analysis.numbers.n_partial_branches,
        }
    return view


def measured_by_both(script: Path, work: Path, engine: str) -> subprocess.CompletedProcess[str]:
    """Copy `script` into `work` and run it under `coverage run --branch` (data in
    cov.data) and `tally run --branch --engine=ENGINE` (tally.data); tally's run."""
    program = work / script.name
    program.write_text(script.read_text(encoding="utf-8"), encoding="utf-8")
    run_coverage("run", "--branch", "--data-file=cov.data", program.name, cwd=work, check=False)
    return run_tally(
        "run", "--branch", f"--engine={engine}", "--data-file=tally.data", program.name, cwd=work
    )


@pytest.mark.parametrize("engine", BRANCH_ENGINES)
@pytest.mark.parametrize("script", CORPUS_FILES, ids=lambda p: p.name)
def test_branches_taken_and_missed_are_coverage_pys(
    script: Path, engine: str, tmp_path: Path
) -> None:
    """Run a corpus program under coverage.py --branch and under tally --branch: coverage.py
    reading its own file, coverage.py reading tally's file, and tally reading tally's file
    agree on every missing branch, branch count and partial count."""
    work = tmp_path / "work"
    work.mkdir()
    result = measured_by_both(script, work, engine)
    assert "warning" not in result.stderr
    theirs = coverage_json(work / "cov.data", work)
    assert coverage_json(work / "tally.data", work) == theirs
    assert tally_view(work / "tally.data", work) == theirs


def branch_lines(possible: ArcFacts) -> set[int]:
    """The lines with more than one way on."""
    return {line for line, n in possible.exit_counts(()).items() if n > 1}


@pytest.mark.parametrize(
    "script",
    [p for p in CORPUS_FILES if branch_lines(find_arcs_of(p))],
    ids=lambda p: p.name,
)
def test_arm_counts_are_the_moves_settrace_sees(script: Path, tmp_path: Path) -> None:
    """With --count, each branch arc's count is how many times sys.settrace saw the program
    move along it (line events, mapped to statements as coverage.py maps its arcs)."""
    program = tmp_path / script.name
    program.write_text(script.read_text(encoding="utf-8"), encoding="utf-8")
    run_tally("run", "--branch", "--count", program.name, cwd=tmp_path)
    data = CoverageData(str(tmp_path / ".coverage"))
    mine = data.arc_counts(str(program))
    possible = find_arcs_of(program)
    theirs: dict[tuple[int, int], int] = {}
    for move, n in transitions(program, tmp_path).items():
        for arc in possible.translate([move]):
            theirs[arc] = theirs.get(arc, 0) + n
    exits = branch_lines(possible)
    branch_arcs = sorted(arc for arc in possible.arcs if arc[0] in exits)
    assert {a: mine.get(a, 0) for a in branch_arcs} == {a: theirs.get(a, 0) for a in branch_arcs}


def test_report_shows_branch_columns_and_missing_arcs_like_coverage(tmp_path: Path) -> None:
    write(
        tmp_path / "prog.py",
        "def size(n):\n"
        "    if n < 0:\n"
        "        n = -n\n"
        "    for _ in range(n):\n"
        "        if n > 100:\n"
        "            return 100\n"
        "    return n\n"
        "\n"
        "size(-3)\n",
    )
    run_tally("run", "--branch", "prog.py", cwd=tmp_path)
    mine = run_tally("report", "--show-missing", cwd=tmp_path).stdout
    theirs = run_coverage("report", "--show-missing", "--data-file=.coverage", cwd=tmp_path).stdout
    assert mine == theirs
    assert "Branch BrPart" in mine
    assert mine.splitlines()[2].split()[1:] == ["8", "1", "6", "2", "79%", "2->4,", "6"]


def test_branch_data_file_records_arcs_and_round_trips(tmp_path: Path) -> None:
    write(tmp_path / "p.py", "x = 0\nif x:\n    x = 1\nprint(x)\n")
    run_tally("run", "--branch", "p.py", cwd=tmp_path)
    data = CoverageData(str(tmp_path / ".coverage"))
    (path,) = data.measured_files()
    assert data.has_arcs() and data.meta()["tally_branches"] == "1"
    assert data.lines(path) == [1, 2, 4]
    assert data.arcs(path) == [(2, 4)]


def test_missing_arcs_are_formatted_after_lines_as_coverage_does() -> None:
    statements = [1, 2, 3, 5, 6, 8]
    assert format_lines(statements, [3], {2: [5, -1], 6: [3]}) == "2->5, 2->exit, 3"
    assert format_lines(statements, [5, 6], {2: [5]}) == "5-6"


@pytest.mark.parametrize("path", STDLIB_FILES, ids=lambda p: p.name)
def test_multiline_map_agrees_with_a_walk_of_the_tokenize_modules_tokens(path: Path) -> None:
    """The multi-line statement map (read from the C tokenizer's raw tuples on 3.12+) is
    what the `tokenize` module's tokens give."""
    text = path.read_text(encoding="utf-8")
    expected: dict[int, int] = {}
    first = 0
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type == tokenize.NEWLINE:
            if first != tok.end[0]:
                expected.update(dict.fromkeys(range(first, tok.end[0] + 1), first))
            first = 0
        elif not first and tok.type != tokenize.COMMENT and tok.string.strip():
            first = tok.start[0]
    assert multiline_map(text) == expected
    assert expected  # every one of these files has a multi-line statement


@pytest.mark.parametrize("path", STDLIB_FILES, ids=lambda p: p.name)
def test_analysis_walks_the_tokens_the_tokenize_module_makes(path: Path) -> None:
    """The tokens excluded suites are found from (the C tokenizer's raw tuples on 3.12+)
    are the `tokenize` module's, comments, NL, INDENT and DEDENT included."""
    from tally.analysis.source import _tokens

    text = path.read_text(encoding="utf-8")
    expected = [tuple(tok) for tok in tokenize.generate_tokens(io.StringIO(text).readline)]
    assert [tuple(tok) for tok in _tokens(text)] == expected


@pytest.mark.skipif(sys.version_info < (3, 12), reason="the monitor engine needs 3.12+")
@pytest.mark.parametrize("path", STDLIB_FILES, ids=lambda p: p.name)
def test_branch_resolution_decodes_bytecode_as_dis_does(path: Path) -> None:
    """The instruction table read from `co_code` for resolving branch events has dis's
    offsets, opcodes, lines and unconditional jump targets, for every code object."""
    from tally.analysis.source import code_objects
    from tally.collect.jumps import Instructions

    module = compile(path.read_text(encoding="utf-8"), str(path), "exec", dont_inherit=True)
    for code in code_objects(module):
        table = Instructions(code)
        real = [i for i in dis.get_instructions(code) if i.opname != "EXTENDED_ARG"]
        offsets = [0]
        while (after := table.next(offsets[-1])) < len(code.co_code):
            offsets.append(after)
        assert [table.unprefixed(o) for o in offsets] == [i.offset for i in real]
        for instruction in real:
            at = instruction.offset
            assert table.opcode(at) == instruction.opcode
            assert table.line(at) == (instruction.positions and instruction.positions.lineno)
            if instruction.opname in (
                "JUMP_FORWARD",
                "JUMP_BACKWARD",
                "JUMP_BACKWARD_NO_INTERRUPT",
            ):
                assert table.target(at) == instruction.argval
            else:
                assert table.target(at) is None


@pytest.mark.parametrize("engine", BRANCH_ENGINES)
def test_one_line_bodies_with_exclusions_that_replace_the_defaults(
    engine: str, tmp_path: Path
) -> None:
    """A `.coveragerc` whose exclude_lines replaces coverage.py's defaults keeps `...`
    stubs as code: a stub never called has its exit missing, one called has it taken,
    and the definition moving on is taken on every engine (typing.overload stubs, whose
    signature spans lines and whose body sits on the closing line)."""
    write(tmp_path / ".coveragerc", "[report]\nexclude_lines =\n    pragma: no cover\n")
    result = measured_by_both(CORPUS / "one_line_bodies.py", tmp_path, engine)
    assert result.returncode == 0, result.stderr
    theirs = coverage_json(tmp_path / "cov.data", tmp_path)
    assert theirs["one_line_bodies.py"]["missing_branches"] != []  # the stubs never ran
    assert coverage_json(tmp_path / "tally.data", tmp_path) == theirs
    assert tally_view(tmp_path / "tally.data", tmp_path, ["pragma: no cover"]) == theirs


@pytest.mark.parametrize("engine", BRANCH_ENGINES)
def test_a_one_line_definition_in_an_if_moves_on(engine: str, tmp_path: Path) -> None:
    """The reported example: both one-line `post`s run, so every arc of lines 5 and 7 is
    taken. coverage.py agrees through its C tracer (3.11-3.13); its sysmon core (3.14+)
    reports 7->8, the second definition moving on, as missing though line 8 ran after it
    (docs/branches.md): there tally keeps the arc, and the rest is equal."""
    program = CASES / "one_line_in_an_if.py"
    result = measured_by_both(program, tmp_path, engine)
    assert result.returncode == 0, result.stderr
    theirs = coverage_json(tmp_path / "cov.data", tmp_path)[program.name]
    ours = tally_view(tmp_path / "tally.data", tmp_path)[program.name]
    assert ours["missing_branches"] == []
    if sys.version_info >= (3, 14):
        assert theirs["missing_branches"] == [(7, 8)]
        theirs = {**theirs, "missing_branches": [], "num_partial_branches": 0}
    assert ours == theirs


@pytest.mark.parametrize("engine", BRANCH_ENGINES)
def test_a_class_with_annotations_ends_after_its_last_one_line_definition(
    engine: str, tmp_path: Path
) -> None:
    """Both classes run to their end, so the arc out of each class from its last
    definition is taken (coverage.py on 3.11-3.13 agrees). On 3.14 a class with
    annotations sets up its `__annotate__` on the class line after its last statement
    (PEP 649), and coverage.py (both cores) reports that exit as missing when the last
    statement is a one-line definition; the monitor engine, which reads the same events,
    reports what coverage.py does, and the count engine keeps the arc (docs/branches.md)."""
    write(tmp_path / ".coveragerc", "[report]\nexclude_lines =\n    pragma: no cover\n")
    program = CASES / "annotated_class_stub.py"
    result = measured_by_both(program, tmp_path, engine)
    assert result.returncode == 0, result.stderr
    theirs = coverage_json(tmp_path / "cov.data", tmp_path)[program.name]
    ours = tally_view(tmp_path / "tally.data", tmp_path, ["pragma: no cover"])[program.name]
    never_called = [(8, -7), (12, -11), (20, -20)]  # the stubs' own exits
    class_exits = [(12, -4), (20, -17)]
    if sys.version_info >= (3, 14):
        assert theirs["missing_branches"] == sorted(never_called + class_exits)
        if engine == "count":
            assert ours["missing_branches"] == never_called
            ours = {**ours, "missing_branches": theirs["missing_branches"]}
            ours = {**ours, **{k: theirs[k] for k in ("num_partial_branches",)}}
    else:
        assert theirs["missing_branches"] == never_called
    assert ours == theirs


@pytest.mark.parametrize("engine", BRANCH_ENGINES)
def test_a_jump_whose_straight_run_raises_lands_nowhere(engine: str, tmp_path: Path) -> None:
    """`one() or ()` jumps past `()` and then `iter(1)` raises, still on line 8: line 11
    never runs (trace and coverage.py's C tracer agree). coverage.py 3.14's sysmon core
    credits the jump with the statement its straight run would reach, and so reports line
    11 as run; tally takes an arc's end only where a line event reached it
    (docs/branches.md). Found by tests/test_generated.py."""
    program = CASES / "raising_after_a_jump.py"
    result = measured_by_both(program, tmp_path, engine)
    assert result.returncode == 0, result.stderr
    theirs = coverage_json(tmp_path / "cov.data", tmp_path)[program.name]
    ours = tally_view(tmp_path / "tally.data", tmp_path)[program.name]
    assert 11 in ours["missing_lines"]  # type: ignore[operator]
    if sys.version_info >= (3, 14):
        assert 11 not in theirs["missing_lines"]  # type: ignore[operator]
        theirs = {**theirs, "missing_lines": ours["missing_lines"]}
    assert ours == theirs
