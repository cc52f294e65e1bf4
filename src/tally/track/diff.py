"""Diff coverage: the statements added or changed since a git ref, and which of them ran.

What diff-cover does, without its XML round trip: `git diff` from the merge base of the
ref and HEAD to the working tree (so committed, staged and unstaged changes all count),
renames followed, and only the changed lines that are statements of measured files.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass

from tally.analysis.results import FileAnalysis, percent
from tally.exceptions import GitError
from tally.types import LineNo

__all__ = ["DiffCoverage", "DiffFile", "changed_lines", "diff_coverage"]

_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@")


def _git(cwd: str, *args: str) -> str:
    try:
        done = subprocess.run(
            ["git", "-c", "core.quotepath=off", *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="surrogateescape",
            timeout=120,
            check=False,
        )
    except OSError as err:
        raise GitError(f"can't run git: {err.strerror}; install git to use `tally diff`") from None
    if done.returncode != 0:
        first = (done.stderr.strip().splitlines() or ["(no message)"])[0]
        raise GitError(f"git {args[0]} failed: {first}")
    return done.stdout


def changed_lines(base: str, cwd: str) -> dict[str, set[LineNo]]:
    """{absolute path: lines added or changed} since the merge base of `base` and HEAD."""
    try:
        root = _git(cwd, "rev-parse", "--show-toplevel").strip()
    except GitError:
        raise GitError(f"{cwd} is not in a git repository: `tally diff` needs one") from None
    try:
        merge_base = _git(cwd, "merge-base", base, "HEAD").strip()
    except GitError:
        raise GitError(
            f"git can't find {base!r} (or what it shares with HEAD): fetch it "
            "(`git fetch origin main`) or name another ref with --base"
        ) from None
    out = _git(
        cwd,
        "diff",
        "--no-color",
        "--no-ext-diff",
        "--unified=0",
        "--find-renames",
        "--diff-filter=AMR",
        "--src-prefix=a/",
        "--dst-prefix=b/",
        merge_base,
        "--",
    )
    return _parse(out.splitlines(), root)


def _parse(lines: Iterable[str], root: str) -> dict[str, set[LineNo]]:
    """The added lines of each file in a --unified=0 diff."""
    changed: dict[str, set[LineNo]] = {}
    current: set[LineNo] | None = None
    for line in lines:
        if line.startswith("+++ "):
            name = line[4:]
            if name.startswith('"') and name.endswith('"'):  # quoted: control characters
                name = name[1:-1].encode("latin-1", "backslashreplace").decode("unicode_escape")
            current = None
            if name.startswith("b/"):
                path = os.path.normpath(os.path.join(root, name[2:]))
                current = changed.setdefault(path, set())
            continue
        match = _HUNK.match(line)
        if match and current is not None:
            start = int(match.group(1))
            count = 1 if match.group(2) is None else int(match.group(2))
            current.update(range(start, start + count))
    return changed


@dataclass(frozen=True)
class DiffFile:
    """One measured file's changed statements, and those that never ran."""

    name: str
    statements: tuple[LineNo, ...]
    missing: tuple[LineNo, ...]


@dataclass(frozen=True)
class DiffCoverage:
    """The changed statements of the measured files, and how many of them ran."""

    base: str
    files: tuple[DiffFile, ...]

    @property
    def n_statements(self) -> int:
        return sum(len(f.statements) for f in self.files)

    @property
    def n_missing(self) -> int:
        return sum(len(f.missing) for f in self.files)

    @property
    def pc_covered(self) -> float:
        return percent(self.n_statements - self.n_missing, self.n_statements)


def diff_coverage(
    base: str, analyses: Iterable[FileAnalysis], changed: dict[str, set[LineNo]]
) -> DiffCoverage:
    """The diff coverage of the measured files in `analyses` given their `changed` lines."""
    files = []
    for analysis in analyses:
        lines = changed.get(os.path.normpath(os.path.realpath(analysis.path)))
        if lines is None:
            lines = changed.get(os.path.normpath(analysis.path))
        if not lines:
            continue
        statements = tuple(sorted(lines & analysis.statements))
        if statements:
            missing = tuple(n for n in statements if n in analysis.missing)
            files.append(DiffFile(analysis.name, statements, missing))
    return DiffCoverage(base, tuple(sorted(files, key=lambda f: f.name)))
