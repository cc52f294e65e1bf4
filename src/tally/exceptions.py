"""The one exception hierarchy: every error a user can see, with its slug and exit status."""

from __future__ import annotations

__all__ = [
    "EXIT_ERROR",
    "EXIT_FAIL_UNDER",
    "EXIT_OK",
    "ConfigError",
    "DataError",
    "GitError",
    "NoDataError",
    "NoSourceError",
    "OutputError",
    "ProgramError",
    "TallyError",
    "UsageError",
]

# The documented exit statuses of tally's own commands (docs/errors.md). `tally run` itself
# exits with the measured program's status; these apply when tally, not the program, fails.
EXIT_OK = 0
EXIT_ERROR = 1  # bad input: config, data file, missing program, usage
EXIT_FAIL_UNDER = 2  # coverage below fail_under, as coverage.py does


class TallyError(Exception):
    """An error tally reports as one line: `tally: <message>`, then exits `exit_code`."""

    slug = "error"
    exit_code = EXIT_ERROR

    def __init__(self, message: str, *, slug: str | None = None) -> None:
        super().__init__(message)
        if slug is not None:
            self.slug = slug

    @property
    def message(self) -> str:
        """The text shown to the user."""
        return str(self.args[0])


class UsageError(TallyError):
    """The command line is wrong: unknown option, missing argument."""

    slug = "usage"


class ConfigError(TallyError):
    """A configuration file or environment variable holds something tally can't use."""

    slug = "config"


class DataError(TallyError):
    """A data file is missing, corrupt, truncated, not SQLite, or of another schema."""

    slug = "data"


class GitError(TallyError):
    """git can't say what changed: not a repository, an unknown ref, no git."""

    slug = "git"


class NoDataError(TallyError):
    """There is nothing to report: no data file, or no measured files in it."""

    slug = "no-data"


class NoSourceError(TallyError):
    """A measured source file can't be read any more."""

    slug = "no-source"


class ProgramError(TallyError):
    """The program to run can't be found or started (not an error *inside* the program)."""

    slug = "no-program"


class OutputError(TallyError):
    """A report can't be written where it was asked to go."""

    slug = "output"
