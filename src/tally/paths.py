"""File paths: canonical forms, names relative to a directory, and glob patterns, for any OS."""

from __future__ import annotations

import ntpath
import os
import posixpath
import re
from collections.abc import Iterable
from types import ModuleType

from tally.exceptions import ConfigError

__all__ = [
    "TALLY_DIR",
    "GlobMatcher",
    "canonical",
    "flavor_of",
    "glob_to_regex",
    "is_under",
    "prep_patterns",
    "relative_name",
]


# tally's own package directory: never measured, and hidden from the program's tracebacks.
TALLY_DIR = os.path.dirname(os.path.realpath(__file__))


def flavor_of(path: str) -> ModuleType:
    """The path module that understands `path`: ntpath for `C:\\...` or `\\\\server`, else ours."""
    if re.match(r"^[A-Za-z]:[\\/]", path) or path.startswith("\\\\"):
        return ntpath
    return os.path


def canonical(path: str, cwd: str | None = None) -> str:
    """The absolute, symlink-free, normalised form of `path` (relative to `cwd` if given).

    Windows paths (`C:\\x\\..\\y.py`) are normalised with ntpath wherever we run, so data
    recorded on Windows can be read here; their case is kept, as Windows keeps it.
    """
    flavor = flavor_of(path)
    if flavor is ntpath:
        return ntpath.normpath(path)
    if not os.path.isabs(path):
        path = os.path.join(cwd or os.getcwd(), path)
    return os.path.normpath(os.path.realpath(path))


def is_under(path: str, directory: str) -> bool:
    """Is `path` inside `directory` (or the directory itself)? Both canonical."""
    flavor = ntpath if flavor_of(directory) is ntpath else os.path
    sep = "\\" if flavor is ntpath else os.sep
    if flavor is ntpath:
        path, directory = path.lower(), directory.lower()
    return path == directory or path.startswith(directory.rstrip(sep) + sep)


def relative_name(path: str, base: str) -> str:
    """`path` relative to `base` when it's inside it (as coverage.py shows names), else as is."""
    flavor = ntpath if flavor_of(path) is ntpath else os.path
    if is_under(path, base) and path != base:
        return path[len(base.rstrip("\\/")) + 1 :]
    return path if flavor is ntpath else posixpath.normpath(path)


def prep_patterns(patterns: Iterable[str], cwd: str | None = None) -> list[str]:
    """Patterns as coverage.py uses them: each as written, plus its absolute form when it
    doesn't start with a wildcard (so `src/*` means `<cwd>/src/*` too)."""
    prepped: list[str] = []
    for pattern in patterns:
        prepped.append(pattern)
        if not pattern.startswith(("*", "?")):
            prepped.append(os.path.join(cwd or os.getcwd(), pattern))
    return prepped


# Glob syntax, token by token, with coverage.py's meanings (coverage/files.py): `*` stays
# inside one directory, `**/` crosses any number, `/` matches either slash, a pattern with
# no slash matches a file name anywhere.
_TOKEN_SOURCES: list[tuple[str, str | None]] = [
    (rx, sub)
    for rx, sub in [
        (r"\*\*\*+", None),
        (r"[^/]+\*\*+", None),
        (r"\*\*+[^/]+", None),
        (r"\*\*/\*\*", None),
        (r"^\*+/", r"(.*[/\\\\])?"),
        (r"/\*+$", r"[/\\\\].*"),
        (r"\*\*/", r"(.*[/\\\\])?"),
        (r"/", r"[/\\\\]"),
        (r"\*", r"[^/\\\\]*"),
        (r"\?", r"[^/\\\\]"),
        (r"\[.*?\]", r"\g<0>"),
        (r"[a-zA-Z0-9_-]+", r"\g<0>"),
        (r"[\[\]]", None),
        (r"[\s\S]", r"\\\g<0>"),
    ]
]


_TOKENS: list[tuple[re.Pattern[str], str | None]] = []


def glob_to_regex(pattern: str) -> str:
    """The regex source for one file-path glob."""
    if not _TOKENS:  # compiled on first use: most runs never match a glob
        _TOKENS.extend((re.compile(rx), sub) for rx, sub in _TOKEN_SOURCES)
    pattern = pattern.replace("\\", "/")
    if "/" not in pattern:
        pattern = f"**/{pattern}"
    parts: list[str] = []
    pos = 0
    while pos < len(pattern):
        for rx, sub in _TOKENS:
            match = rx.match(pattern, pos=pos)
            if match:
                if sub is None:
                    raise ConfigError(f"file pattern {pattern!r} can't include {match[0]!r}")
                parts.append(match.expand(sub))
                pos = match.end()
                break
    return "".join(parts)


class GlobMatcher:
    """Matches file paths against any of a list of globs."""

    def __init__(self, patterns: Iterable[str], *, case_insensitive: bool | None = None) -> None:
        self.patterns = list(patterns)
        if case_insensitive is None:
            case_insensitive = os.name == "nt"
        flags = re.IGNORECASE if case_insensitive else 0
        source = "|".join(f"(?:{glob_to_regex(p)})" for p in self.patterns) or r"(?!)"
        self._regex = re.compile(rf"(?:{source})\Z", flags)

    def match(self, path: str) -> bool:
        """Does `path` match one of the globs?"""
        return bool(self.patterns) and self._regex.match(path) is not None

    def __repr__(self) -> str:
        return f"GlobMatcher({self.patterns!r})"
