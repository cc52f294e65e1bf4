"""Turn a data file into per-file results: read each source, apply exclusions and filters."""

from __future__ import annotations

import ast
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tally.analysis.arcs import find_arcs
from tally.analysis.regions import code_regions
from tally.analysis.results import Branches, FileAnalysis, Numbers
from tally.analysis.source import SourceFacts, analyze_source, join_regex, read_source
from tally.data.schema import COUNTS_ASKED
from tally.data.sqlite import CoverageData
from tally.exceptions import NoDataError, TallyError
from tally.paths import GlobMatcher, prep_patterns, relative_name
from tally.types import Arc, Count, LineNo

if TYPE_CHECKING:
    from tally.config.readers import Config

__all__ = ["Analyses", "analyze_data"]


@dataclass
class Analyses:
    """Results for the files a report covers, and what was left out and why."""

    files: list[FileAnalysis] = field(default_factory=list)
    has_counts: bool = False
    has_arcs: bool = False
    counts_asked: bool = False  # the run was asked for counts (the table's Hits column)
    skipped_errors: list[str] = field(default_factory=list)
    below_threshold: int = 0

    @property
    def total(self) -> Numbers:
        """The sum over all files."""
        total = Numbers()
        for analysis in self.files:
            total += analysis.numbers
        return total


def analyze_config(config: Config, *, contexts: bool = False) -> Analyses:
    """The data file `config` names, analysed by its report settings, as every report
    starts (the CLI's, the pytest plugin's, the façade's). Warns on stderr of a run that
    was incomplete (journals of processes that never saved) and of files skipped."""
    from tally.data.journal import incomplete_run, journals_beside
    from tally.warnings import Notice, warn

    data_file = config.text("run:data_file")
    journals = journals_beside(data_file)
    if not os.path.exists(data_file) and journals:
        raise NoDataError(
            f"no data file {data_file}, but journals of processes that ended without saving "
            f"are beside it ({os.path.basename(journals[0])}...): run "
            "`tally combine` to make the data file from them"
        )
    data = CoverageData(data_file)
    for notice in incomplete_run(data.meta(), journals):
        warn(notice)
    results = analyze_data(
        data,
        exclude=config.exclude_regexes(),
        partial=config.partial_regexes(),
        include=config.items("report:include"),
        omit=config.items("report:omit"),
        ignore_errors=config.flag("report:ignore_errors"),
        line_threshold=int(config.get("tally:line_threshold")),
        contexts=contexts,
    )
    for message in results.skipped_errors:
        warn(Notice(f"skipped: {message}", "skipped-file"))
    return results


def analyze_data(
    data: CoverageData,
    *,
    exclude: Iterable[str],
    partial: Iterable[str] = (),
    include: Iterable[str] = (),
    omit: Iterable[str] = (),
    ignore_errors: bool = False,
    line_threshold: int = 0,
    cwd: str | None = None,
    contexts: bool = False,
) -> Analyses:
    """Analyse every measured file in `data` that passes `include`/`omit`; with
    `contexts`, note which contexts ran each line (when the data has them).

    Raises NoDataError when nothing is left to report, NoSourceError or TallyError when a
    source file can't be read or parsed (unless `ignore_errors`).
    """
    cwd = cwd or os.getcwd()
    include_m = GlobMatcher(prep_patterns(include, cwd)) if include else None
    omit_m = GlobMatcher(prep_patterns(omit, cwd)) if omit else None
    regex = join_regex(exclude)
    partial_regex = join_regex(partial)
    asked = data.meta().get(COUNTS_ASKED) == "1"
    result = Analyses(has_counts=data.has_counts(), has_arcs=data.has_arcs(), counts_asked=asked)
    chosen: list[tuple[str, str]] = []
    for stored in data.measured_files():
        path = stored if os.path.isabs(stored) else os.path.join(cwd, stored)
        if include_m and not include_m.match(path):
            continue
        if omit_m and omit_m.match(path):
            continue
        chosen.append((stored, path))
    task = _Task(data.path, (regex, partial_regex), cwd, ignore_errors, contexts)
    for analysis in _analyze_all(task, data, chosen, result.skipped_errors):
        if analysis.numbers.n_statements < line_threshold:
            result.below_threshold += 1
            continue
        result.files.append(analysis)
    if not result.files and not result.below_threshold:
        raise NoDataError(f"no data to report from {data.path}: no measured files match")
    return result


# Analysing is a parse, a tokenize and an arc walk per file, independent of the others: a
# report of many files spreads them over the cores (a 5,000-file HTML report took twice as
# long on one core of two). A few files aren't worth starting processes for.
_PARALLEL_FROM = 200


@dataclass(frozen=True)
class _Task:
    """What analysing any one file needs (picklable, for worker processes)."""

    data_path: str
    regexes: tuple[str | None, str | None]
    cwd: str
    ignore_errors: bool
    contexts: bool


def _analyze_all(
    task: _Task, data: CoverageData, chosen: list[tuple[str, str]], errors: list[str]
) -> list[FileAnalysis]:
    """The analyses of the `chosen` (stored name, path) files, in order; the messages of
    files skipped for errors go to `errors`."""
    workers = min(os.cpu_count() or 1, 8)
    if len(chosen) < _PARALLEL_FROM or workers < 2:
        analyses, skipped = _analyze_some(task, chosen, data)
        errors.extend(skipped)
        return analyses
    from concurrent.futures import ProcessPoolExecutor

    size = -(-len(chosen) // (workers * 4))
    chunks = [chosen[i : i + size] for i in range(0, len(chosen), size)]
    results: list[FileAnalysis] = []
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for analyses, skipped in pool.map(_analyze_some, [task] * len(chunks), chunks):
            results.extend(analyses)
            errors.extend(skipped)
    return results


def _analyze_some(
    task: _Task, chosen: list[tuple[str, str]], data: CoverageData | None = None
) -> tuple[list[FileAnalysis], list[str]]:
    """Analyse some files (in a worker process, reading the data file itself)."""
    if data is None:
        data = CoverageData(task.data_path)
    analyses: list[FileAnalysis] = []
    skipped: list[str] = []
    for stored, path in chosen:
        try:
            analyses.append(_analyze_file(data, stored, path, task))
        except TallyError as err:
            if not task.ignore_errors:
                raise
            skipped.append(err.message)
    return analyses, skipped


def _analyze_file(
    data: CoverageData,
    stored: str,
    path: str,
    task: _Task,
) -> FileAnalysis:
    text = read_source(path)
    exclude, partial = task.regexes
    try:
        tree = ast.parse(text, path)
        facts = analyze_source(text, path, exclude, tree=tree)
    except (SyntaxError, ValueError) as err:
        where = getattr(err, "lineno", None)
        raise TallyError(
            f"couldn't parse {path} as Python: {err.args[0] if err.args else err}"
            + (f" at line {where}" if where else "")
            + " (use --ignore-errors to skip it)",
            slug="not-python",
        ) from None
    executed = facts.first_lines(data.lines(stored) or ()) & facts.statements
    counts = data.counts(stored) if data.has_counts() else None
    branches = None
    if data.has_arcs():
        branches = _branches(data, stored, tree, facts, facts.lines_matching(partial))
    return FileAnalysis(
        path=path,
        name=relative_name(path, task.cwd),
        statements=frozenset(facts.statements),
        excluded=frozenset(facts.excluded),
        executed=frozenset(executed),
        counts=counts,
        branches=branches,
        regions=tuple(code_regions(tree)),
        contexts=(data.contexts_by_line(stored) if task.contexts and data.has_contexts() else None),
    )


def _branches(
    data: CoverageData, stored: str, tree: ast.Module, facts: SourceFacts, no_branch: set[LineNo]
) -> Branches:
    """Branch lines and the ways not taken, by coverage.py 7.x's rules: a line with more
    than one possible way on is a branch; a way is missing unless an arc taken reaches it,
    and not reported from `no_branch` lines or into excluded ones."""
    possible = find_arcs(tree, facts.raw_statements, facts.multiline)
    taken_counts = data.arc_counts(stored)
    measured = data.arcs(stored) or []
    taken = possible.translate(measured)
    exits = {line: n for line, n in possible.exit_counts(facts.excluded).items() if n > 1}
    missing: dict[LineNo, list[LineNo]] = {}
    reached: dict[LineNo, list[LineNo]] = {}
    for start, end in sorted(taken & possible.arcs):
        if start in exits and start != end:
            reached.setdefault(start, []).append(end)
    descriptions: dict[Arc, str] = {}
    for start, end in sorted(possible.arcs - taken):
        if start in exits and start not in no_branch and end not in facts.excluded:
            missing.setdefault(start, []).append(end)
            descriptions[(start, end)] = possible.describe_missing(start, end)
    counts: dict[Arc, Count] = {}
    for arc, n in taken_counts.items():
        for start, end in possible.translate([arc]):
            counts[(start, end)] = counts.get((start, end), 0) + n
    actions = {
        (start, end): possible.describe(start, end)
        for ways in (missing, reached)
        for start, ends in ways.items()
        for end in ends
    }
    return Branches(exits, missing, reached, counts, descriptions, actions)
