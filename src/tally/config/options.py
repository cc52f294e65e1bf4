"""The option table: every setting declared once, with its section, type, default and help."""

from __future__ import annotations

from typing import Literal, NamedTuple

__all__ = ["ALIASES", "DEFAULT_EXCLUDE", "OPTIONS", "Option", "OptionType", "find_option"]

OptionType = Literal["bool", "int", "float", "str", "path", "choice", "globs", "regexes", "list"]

# coverage.py's default exclusions (coverage/config.py DEFAULT_EXCLUDE, 7.x): the pragma,
# bodies that are only `...` (protocol/overload stubs), and `if TYPE_CHECKING:` blocks.
DEFAULT_EXCLUDE = (
    r"#\s*(pragma|PRAGMA)[:\s]?\s*(no|NO)\s*(cover|COVER)",
    r"^\s*(((async )?def .*?)?[\])]+(\s*->.*?)?:\s*)?\.\.\.\s*(#|$)",
    r"^\s*if (typing\.)?TYPE_CHECKING:",
)
# Branch lines whose missing ways aren't reported (DEFAULT_PARTIAL), and lines that always
# go one way (DEFAULT_PARTIAL_ALWAYS), as coverage.py 7.x has them.
DEFAULT_PARTIAL = (r"#\s*(pragma|PRAGMA)[:\s]?\s*(no|NO)\s*(branch|BRANCH)",)
DEFAULT_PARTIAL_ALWAYS = (r"^\s*while (True|1|False|0):", r"^\s*if (True|1|False|0):")


class Option(NamedTuple):
    """One setting: where it lives in a config file, what it holds, and how to override it."""

    section: str
    name: str
    type: OptionType
    default: object
    help: str
    choices: tuple[str, ...] = ()
    cli: str | None = None  # the long flag on the commands that take it, if any
    coverage_py: bool = True  # also a coverage.py option (False: tally's own)
    # A coverage.py option tally accepts but doesn't act on: why, and what to use instead.
    # Set to anything but its default, it costs an `unsupported-option` warning.
    unsupported: str = ""

    @property
    def key(self) -> str:
        """`section:name`, the option's identity."""
        return f"{self.section}:{self.name}"

    @property
    def env_var(self) -> str:
        """The environment variable that overrides this option."""
        if self.section == "tally":
            return f"TALLY_{self.name.upper()}"
        return f"TALLY_{self.section.upper()}_{self.name.upper()}"


def _o(
    section: str, name: str, type_: OptionType, default: object, help_: str, **kw: object
) -> Option:
    return Option(section, name, type_, default, help_, **kw)  # type: ignore[arg-type]


OPTIONS: tuple[Option, ...] = (
    # [run] ---------------------------------------------------------------------------
    _o("run", "branch", "bool", False, "Measure branch coverage (arcs).", cli="--branch"),
    _o("run", "command_line", "str", "", "The command `tally run` runs when given none."),
    _o(
        "run",
        "concurrency",
        "list",
        [],
        "Concurrency in use: `thread` (always measured), `multiprocessing` (implies "
        "`patch = subprocess`); `greenlet`, `eventlet` and `gevent` aren't supported.",
    ),
    _o(
        "run",
        "context",
        "str",
        "",
        "A static context label recorded with the data.",
        cli="--context",
    ),
    _o("run", "cover_pylib", "bool", False, "Measure the standard library too."),
    _o(
        "run",
        "data_file",
        "path",
        ".coverage",
        "Where the data file is written.",
        cli="--data-file",
    ),
    _o(
        "run",
        "debug",
        "list",
        [],
        "coverage.py's debug output.",
        unsupported="tally's own is `--debug` on the command line",
    ),
    _o("run", "disable_warnings", "list", [], "Warning slugs to silence."),
    _o(
        "run",
        "dynamic_context",
        "str",
        "",
        "`test_function`: record what each test function runs in a context named as "
        "coverage.py names it (`module.function`, `module.Class.method`); any engine, "
        "under `tally run -m pytest` or the plugin.",
    ),
    _o("run", "include", "globs", [], "Only measure files matching these globs.", cli="--include"),
    _o("run", "omit", "globs", [], "Never measure files matching these globs.", cli="--omit"),
    _o(
        "run",
        "parallel",
        "bool",
        False,
        "Suffix the data file name with machine/pid/random.",
        cli="--parallel-mode",
    ),
    _o(
        "run",
        "patch",
        "list",
        [],
        "Behaviours to patch: subprocess, fork, _exit, execv (docs/parallel.md).",
    ),
    _o(
        "run",
        "plugins",
        "list",
        [],
        "coverage.py plugins.",
        unsupported="tally runs no coverage.py plugins",
    ),
    _o(
        "run",
        "relative_files",
        "bool",
        False,
        "Store file paths relative to the current directory.",
    ),
    _o("run", "sigterm", "bool", True, "Save data when the program gets SIGTERM."),
    _o("run", "source", "list", [], "Directories or packages to measure.", cli="--source"),
    _o("run", "source_pkgs", "list", [], "Packages to measure, always as importable names."),
    _o("run", "source_dirs", "list", [], "Directories to measure, always as directories."),
    _o(
        "run",
        "timid",
        "bool",
        False,
        "coverage.py's switch to its slower Python tracer.",
        unsupported="tally has no tracer to switch; its engines need no timid mode",
    ),
    _o(
        "run",
        "core",
        "str",
        "",
        "coverage.py's tracer core.",
        unsupported="tally's engines are chosen with `[tally] engine`",
    ),
    # [report] ------------------------------------------------------------------------
    _o(
        "report",
        "exclude_lines",
        "regexes",
        list(DEFAULT_EXCLUDE),
        "Regexes for lines to exclude; replaces the defaults.",
    ),
    _o("report", "exclude_also", "regexes", [], "Regexes to exclude in addition to the defaults."),
    _o(
        "report",
        "fail_under",
        "float",
        0.0,
        "Exit with status 2 when total coverage is below this.",
        cli="--fail-under",
    ),
    _o(
        "report",
        "format",
        "choice",
        "text",
        "Terminal report format.",
        choices=("text", "markdown", "total"),
        cli="--format",
    ),
    _o(
        "report",
        "ignore_errors",
        "bool",
        False,
        "Skip source files that can't be read or parsed.",
        cli="--ignore-errors",
    ),
    _o(
        "report", "include", "globs", [], "Only report files matching these globs.", cli="--include"
    ),
    _o(
        "report",
        "include_namespace_packages",
        "bool",
        False,
        "Report unexecuted files in directories without __init__.py.",
    ),
    _o(
        "report",
        "omit",
        "globs",
        [],
        "Leave files matching these globs out of reports.",
        cli="--omit",
    ),
    _o(
        "report",
        "partial_branches",
        "regexes",
        list(DEFAULT_PARTIAL),
        "Regexes for branch lines whose missing ways aren't reported; replaces the default.",
    ),
    _o("report", "partial_also", "regexes", [], "More regexes for partial_branches."),
    _o(
        "report",
        "partial_branches_always",
        "regexes",
        list(DEFAULT_PARTIAL_ALWAYS),
        "Regexes for branch lines that always go one way (`while True:`).",
    ),
    _o("report", "precision", "int", 0, "Decimal places in percentages.", cli="--precision"),
    _o("report", "show_missing", "bool", False, "Show missing line numbers.", cli="--show-missing"),
    _o(
        "report",
        "skip_covered",
        "bool",
        False,
        "Leave fully covered files out of the table.",
        cli="--skip-covered",
    ),
    _o(
        "report",
        "skip_empty",
        "bool",
        False,
        "Leave files with no statements out of the table.",
        cli="--skip-empty",
    ),
    _o(
        "report",
        "show_counts",
        "bool",
        True,
        "The table's Hits column (the lines each file executed, with their counts), shown "
        "when the run was asked for counts; --no-show-counts leaves it out.",
        cli="--no-show-counts",
    ),
    _o(
        "report",
        "sort",
        "str",
        "name",
        "Column to sort by: name, stmts, miss, cover (- reverses).",
        cli="--sort",
    ),
    # [html] [xml] [json] [lcov]: the report formats read these ------------------------------
    _o(
        "html",
        "directory",
        "path",
        "htmlcov",
        "Where the HTML report is written.",
        cli="--directory",
    ),
    _o("html", "extra_css", "path", "", "A CSS file added to the HTML report."),
    _o(
        "html",
        "show_contexts",
        "bool",
        False,
        "Show which contexts (tests) ran each line.",
        cli="--show-contexts",
    ),
    _o("html", "skip_covered", "bool", False, "Leave fully covered files out of the HTML report."),
    _o("html", "skip_empty", "bool", False, "Leave empty files out of the HTML report."),
    _o("html", "title", "str", "Coverage report", "The HTML report's title.", cli="--title"),
    _o(
        "xml",
        "output",
        "path",
        "coverage.xml",
        "Where the Cobertura XML report goes (- for stdout).",
        cli="-o",
    ),
    _o("xml", "package_depth", "int", 99, "Directory depth that makes an XML package."),
    _o(
        "json",
        "output",
        "path",
        "coverage.json",
        "Where the JSON report goes (- for stdout).",
        cli="-o",
    ),
    _o("json", "pretty_print", "bool", False, "Indent the JSON report.", cli="--pretty-print"),
    _o(
        "json",
        "show_contexts",
        "bool",
        False,
        "Include each line's contexts in the JSON report.",
        cli="--show-contexts",
    ),
    _o(
        "lcov",
        "output",
        "path",
        "coverage.lcov",
        "Where the LCOV report goes (- for stdout).",
        cli="-o",
    ),
    _o(
        "tally",
        "annotate_directory",
        "path",
        "",
        "Where `tally annotate` writes its `,cover` files (default: beside each source).",
        cli="--directory",
        coverage_py=False,
    ),
    _o(
        "tally",
        "badge_output",
        "path",
        "coverage.svg",
        "Where `tally badge` writes its SVG badge (- for stdout).",
        cli="-o",
        coverage_py=False,
    ),
    _o("lcov", "line_checksums", "bool", False, "Write line checksums in the LCOV report."),
    # [tally]: tally's own options ----------------------------------------------------------
    _o(
        "tally",
        "counts",
        "bool",
        False,
        "Measure exact per-line execution counts.",
        cli="--count",
        coverage_py=False,
    ),
    _o(
        "tally",
        "engine",
        "choice",
        "auto",
        "Collection engine (auto picks; see docs/engines.md).",
        choices=("auto", "monitor", "count"),
        cli="--engine",
        coverage_py=False,
    ),
    _o(
        "tally",
        "enabled",
        "bool",
        True,
        "Measure at all; false runs the program plainly.",
        coverage_py=False,
    ),
    _o(
        "tally",
        "output_format",
        "choice",
        "sqlite",
        "Data written by `tally run`: sqlite (.coverage) or json (also <data_file>.json).",
        choices=("sqlite", "json"),
        coverage_py=False,
    ),
    _o(
        "tally",
        "cache_dir",
        "str",
        None,
        "Where instrumented code is cached when __pycache__ can't be used "
        "(PYTHONDONTWRITEBYTECODE, a read-only tree, a fresh clone): unset, the user's cache "
        "directory; empty, no such cache (docs/ci.md).",
        coverage_py=False,
    ),
    _o(
        "tally",
        "flush_interval",
        "float",
        10.0,
        "Seconds between appends to the raw data journal, which keeps a killed process's "
        "data up to its last flush (0: no journal).",
        coverage_py=False,
    ),
    _o(
        "tally",
        "line_threshold",
        "int",
        0,
        "Leave files with fewer statements than this out of reports.",
        coverage_py=False,
    ),
    # [tally]: keeping score (docs/ci.md) ---------------------------------------------------
    _o(
        "tally",
        "history_file",
        "path",
        ".tally/history.sqlite",
        "The history store: one row per recorded run, the baseline, milestones.",
        coverage_py=False,
    ),
    _o(
        "tally",
        "record_history",
        "bool",
        False,
        "Record each `tally run` and pytest --tally run in the history store.",
        coverage_py=False,
    ),
    _o(
        "tally",
        "goal",
        "float",
        0.0,
        "The line coverage goal, in percent (0: none).",
        cli="--goal",
        coverage_py=False,
    ),
    _o(
        "tally",
        "goal_date",
        "str",
        "",
        "The date to reach the line coverage goal by (YYYY-MM-DD).",
        coverage_py=False,
    ),
    _o(
        "tally",
        "goal_branch",
        "float",
        0.0,
        "The branch coverage goal, in percent (0: none).",
        coverage_py=False,
    ),
    _o(
        "tally",
        "milestones",
        "list",
        ["40", "60", "80"],
        "Total percentages whose first reaching is dated in the history store.",
        coverage_py=False,
    ),
    _o(
        "tally",
        "tolerance",
        "float",
        0.0,
        "Points coverage may fall before a comparison calls it a regression.",
        cli="--tolerance",
        coverage_py=False,
    ),
    _o(
        "tally",
        "fail_under_branch",
        "float",
        0.0,
        "`tally check`: fail when branch coverage is under this.",
        cli="--fail-under-branch",
        coverage_py=False,
    ),
    _o(
        "tally",
        "fail_under_file",
        "float",
        0.0,
        "`tally check`: fail when any one file's coverage is under this.",
        cli="--fail-under-file",
        coverage_py=False,
    ),
    _o(
        "tally",
        "diff_base",
        "str",
        "origin/main",
        "`tally diff`: the git ref whose changes since are measured.",
        cli="--base",
        coverage_py=False,
    ),
    _o(
        "tally",
        "diff_fail_under",
        "float",
        0.0,
        "`tally diff`: fail when diff coverage is under this.",
        cli="--fail-under",
        coverage_py=False,
    ),
    _o(
        "tally",
        "progress_format",
        "choice",
        "text",
        "How baseline, compare, check, diff and history write: text, markdown or json.",
        choices=("text", "markdown", "json"),
        cli="--format",
        coverage_py=False,
    ),
)

# The coverage.ini names users already have (docs/configuration.md, "The user's
# coverage.ini names"), accepted in [tally] with these meanings.
# `preserve_data` keeps the previous data and adds the new run to it (coverage.py's --append).
ALIASES: dict[str, tuple[str, str]] = {
    "tally:include_patterns": ("run", "include"),
    "tally:exclude_patterns": ("run", "omit"),
    "tally:preserve_data": ("run", "append"),
}

# `append` is a command-line switch in coverage.py; tally also lets a file set it.
OPTIONS = (
    *OPTIONS,
    _o(
        "run",
        "append",
        "bool",
        False,
        "Add this run's data to the existing data file.",
        cli="--append",
        coverage_py=False,
    ),
)

_BY_KEY = {o.key: o for o in OPTIONS}


def find_option(section: str, name: str) -> Option | None:
    """The option `section:name`, following the coverage.ini aliases, or None if unknown."""
    target = ALIASES.get(f"{section}:{name}")
    if target is not None:
        section, name = target
    return _BY_KEY.get(f"{section}:{name}")
