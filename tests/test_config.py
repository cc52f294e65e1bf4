"""Configuration: coverage.py's files and precedence, tally's section, env and CLI overrides."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import write

from tally.config.options import DEFAULT_EXCLUDE, OPTIONS
from tally.config.readers import load_config
from tally.exceptions import ConfigError

REAL_WORLD_RC = """\
[run]
source = src
branch = True
include =
    src/*
    src/**/*.py
omit =
    */tests/*          # Test files
    */__init__.py       # Import-only files
    setup.py            # Setup scripts
[report]
exclude_lines =
    pragma: no cover
    def __repr__
    raise NotImplementedError
    if TYPE_CHECKING:
    if __name__ == .__main__.:
    logger\\.(debug|info|warning|error|critical)
    @property
show_missing = True
skip_empty = True
sort = Miss
precision = 2
[html]
directory = htmlcov
show_contexts = True
extra_context = 2
[json]
output = coverage.json
pretty_print = True
"""


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def test_real_world_coveragerc_loads_with_comments_stripped_and_unknowns_warned() -> None:
    Path(".coveragerc").write_text(REAL_WORLD_RC)
    config = load_config(environ={})
    assert config.items("run:source") == ["src"]
    assert config.flag("run:branch") is True
    assert config.items("run:include") == ["src/*", "src/**/*.py"]
    assert config.items("run:omit") == ["*/tests/*", "*/__init__.py", "setup.py"]
    assert config.items("report:exclude_lines") == [
        "pragma: no cover",
        "def __repr__",
        "raise NotImplementedError",
        "if TYPE_CHECKING:",
        "if __name__ == .__main__.:",
        r"logger\.(debug|info|warning|error|critical)",
        "@property",
    ]
    assert config.flag("report:show_missing") and config.flag("report:skip_empty")
    assert config.text("report:sort") == "Miss"
    assert config.get("report:precision") == 2
    assert config.text("html:directory") == "htmlcov"
    assert config.flag("html:show_contexts")
    assert config.text("json:output") == "coverage.json"
    assert config.flag("json:pretty_print")
    unknown = [str(w) for w in config.warnings if w.slug == "unknown-option"]
    assert unknown == [
        ".coveragerc [html]: unknown option 'extra_context', ignored (unknown-option)"
    ]
    # Each commented pattern is named: coverage.py reads these three patterns otherwise.
    commented = [
        w.message.split(" is followed")[0]
        for w in config.warnings
        if w.slug == "comment-in-pattern"
    ]
    assert commented == [
        ".coveragerc [run] omit: '*/tests/*'",
        ".coveragerc [run] omit: '*/__init__.py'",
        ".coveragerc [run] omit: 'setup.py'",
    ]
    assert config.origins["run:omit"] == ".coveragerc [run] omit"


def test_defaults_without_any_file() -> None:
    config = load_config(environ={})
    assert config.text("run:data_file") == ".coverage"
    assert config.items("report:exclude_lines") == list(DEFAULT_EXCLUDE)
    assert config.files == []
    assert all(config.origins[o.key] == "default" for o in OPTIONS)


def test_precedence_is_cli_over_env_over_file_over_default() -> None:
    Path(".coveragerc").write_text("[report]\nfail_under = 50\nprecision = 1\n")
    env = {"TALLY_REPORT_FAIL_UNDER": "90", "TALLY_RUN_BRANCH": "1"}
    config = load_config(environ=env, overrides={"report:fail_under": "95"})
    assert config.number("report:fail_under") == 95
    assert config.origins["report:fail_under"] == "command line --fail-under"
    assert config.flag("run:branch") and config.origins["run:branch"] == "env TALLY_RUN_BRANCH"
    assert config.get("report:precision") == 1
    assert config.number("report:precision") == 1


def test_tally_section_env_names_have_no_section_prefix() -> None:
    config = load_config(environ={"TALLY_ENABLED": "0", "TALLY_COUNTS": "yes"})
    assert config.flag("tally:enabled") is False
    assert config.flag("tally:counts") is True


def test_coverage_file_env_chooses_the_data_file() -> None:
    assert load_config(environ={"COVERAGE_FILE": "x.db"}).text("run:data_file") == "x.db"


def test_setup_cfg_reads_prefixed_sections_only() -> None:
    Path("setup.cfg").write_text("[metadata]\nname = x\n[coverage:run]\nbranch = on\n")
    config = load_config(environ={})
    assert config.flag("run:branch") and config.files == ["setup.cfg"]
    assert config.warnings == []


def test_coveragerc_wins_over_setup_cfg_and_pyproject() -> None:
    Path(".coveragerc").write_text("[run]\nbranch = false\n")
    Path("setup.cfg").write_text("[coverage:run]\nbranch = true\n")
    Path("pyproject.toml").write_text("[tool.coverage.run]\nbranch = true\n")
    assert load_config(environ={}).flag("run:branch") is False


def test_pyproject_coverage_and_tally_tables() -> None:
    Path("pyproject.toml").write_text(
        '[tool.coverage.run]\nsource = ["pkg"]\n[tool.coverage.report]\nfail_under = 80\n'
        '[tool.tally]\ncounts = true\nengine = "count"\n'
    )
    config = load_config(environ={})
    assert config.items("run:source") == ["pkg"]
    assert config.number("report:fail_under") == 80
    assert config.flag("tally:counts") and config.text("tally:engine") == "count"


def test_tally_section_found_in_another_file_than_coverage_settings() -> None:
    Path(".coveragerc").write_text("[run]\nbranch = true\n")
    Path("pyproject.toml").write_text("[tool.tally]\ncounts = true\n")
    config = load_config(environ={})
    assert config.flag("run:branch") and config.flag("tally:counts")


def test_seed_coverage_ini_names_mean_coverage_options() -> None:
    Path("coverage.ini").write_text(
        "[tally]\nenabled = true\noutput_format = json\ninclude_patterns = src/*\n"
        "exclude_patterns =\n    */tests/*   # tests\nline_threshold = 5\npreserve_data = yes\n"
    )
    config = load_config(environ={})
    assert config.items("run:include") == ["src/*"]
    assert config.items("run:omit") == ["*/tests/*"]
    assert config.get("tally:line_threshold") == 5
    assert config.flag("run:append") is True
    assert config.text("tally:output_format") == "json"


def test_explicit_rcfile_and_coverage_rcfile_env() -> None:
    Path("custom.ini").write_text("[run]\nbranch = 1\n")
    assert load_config("custom.ini", environ={}).flag("run:branch")
    assert load_config(environ={"COVERAGE_RCFILE": "custom.ini"}).flag("run:branch")


def test_missing_explicit_rcfile_is_an_error() -> None:
    with pytest.raises(ConfigError, match=r"couldn't read config file nope\.ini: no such file"):
        load_config("nope.ini", environ={})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "[run]\nbranch = maybe\n",
            r"\.coveragerc \[run\]: invalid value 'maybe' for branch: expected a boolean",
        ),
        (
            "[report]\nprecision = two\n",
            r"\.coveragerc \[report\]: invalid value 'two' for precision: expected an integer",
        ),
        ("[report]\nfail_under = 120\n", r"fail_under: expected a number from 0 to 100"),
        (
            "[tally]\nengine = turbo\n",
            r"\[tally\]: invalid value 'turbo' for engine: expected one of auto, monitor, count",
        ),
        ("[report]\nexclude_lines =\n    (unclosed\n", r"expected valid regular expressions"),
    ],
)
def test_bad_values_name_file_section_option_and_accepted_values(text: str, message: str) -> None:
    Path(".coveragerc").write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(environ={})


def test_bad_env_value_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="environment variable TALLY_RUN_BRANCH"):
        load_config(environ={"TALLY_RUN_BRANCH": "sometimes"})


def test_unknown_section_warns_once() -> None:
    Path(".coveragerc").write_text("[run]\n[colors]\nred = 1\n")
    assert [str(w) for w in load_config(environ={}).warnings] == [
        ".coveragerc: unknown section [colors], ignored (unknown-option)"
    ]


def test_broken_ini_is_a_one_line_error() -> None:
    Path(".coveragerc").write_text("[run\nbranch = 1\n")
    with pytest.raises(ConfigError, match=r"couldn't read config file \.coveragerc"):
        load_config(environ={})


def test_broken_toml_is_a_one_line_error() -> None:
    Path("pyproject.toml").write_text("[tool.coverage.run\n")
    with pytest.raises(ConfigError, match=r"couldn't read config file pyproject\.toml"):
        load_config(environ={})


def test_paths_section_and_variable_substitution() -> None:
    Path(".coveragerc").write_text(
        "[run]\ndata_file = ${OUT-fallback}/data\n[paths]\nsource =\n    src/\n"
        "    C:\\\\ci\\\\proj\\\\src\n"
    )
    config = load_config(environ={})
    assert config.paths == {"source": ["src/", "C:\\\\ci\\\\proj\\\\src"]}
    assert config.text("run:data_file") == "fallback/data"


@pytest.mark.parametrize(
    ("setting", "named"),
    [
        ("plugins = some.plugin", "[run] plugins is not supported: tally runs no coverage.py"),
        ("debug = trace, config", "[run] debug is not supported: tally's own is `--debug`"),
        ("timid = true", "[run] timid is not supported"),
        ("core = pytrace", "[run] core is not supported: tally's engines are chosen with"),
        ("concurrency = thread, gevent", "[run] concurrency = gevent is not supported"),
    ],
)
def test_coverage_py_options_tally_does_not_act_on_are_refused_by_name(
    setting: str, named: str
) -> None:
    Path(".coveragerc").write_text(f"[run]\n{setting}\n")
    (warning,) = load_config(environ={}).warnings
    assert warning.slug == "unsupported-option"
    assert warning.message.startswith(named)


def test_options_at_their_defaults_and_supported_concurrency_are_not_warned_about() -> None:
    Path(".coveragerc").write_text("[run]\ntimid = false\nconcurrency = thread,multiprocessing\n")
    assert load_config(environ={}).warnings == []


def test_concurrency_multiprocessing_measures_child_processes() -> None:
    from tally.config.rules import requested_patches

    Path(".coveragerc").write_text("[run]\nconcurrency = multiprocessing\n")
    assert requested_patches(load_config(environ={})) == {"subprocess", "fork", "_exit"}
    Path(".coveragerc").write_text("[run]\nconcurrency = thread\n")
    assert requested_patches(load_config(environ={})) == set()


def test_every_option_is_read_by_some_code_or_refused() -> None:
    # An option in the table that no code reads would be accepted and silently ignored:
    # each must be read by its key somewhere in tally, or carry the reason it is refused.
    src = Path(__file__).parent.parent / "src" / "tally"
    code = "".join(
        path.read_text()
        for path in src.rglob("*.py")
        if path.relative_to(src).as_posix() not in ("config/options.py", "config/docs.py")
    )
    unread = [o.key for o in OPTIONS if not o.unsupported and f'"{o.key}"' not in code]
    assert unread == []
    refused_but_read = [o.key for o in OPTIONS if o.unsupported and f'"{o.key}"' in code]
    assert refused_but_read == []


def test_every_warning_goes_through_the_warnings_module() -> None:
    # A hand-written `tally: warning:` line would have no slug, and no way to be silenced.
    src = Path(__file__).parent.parent / "src" / "tally"
    writers = [
        path.relative_to(src).as_posix()
        for path in src.rglob("*.py")
        if "tally: warning:" in path.read_text() and path.name not in ("warnings.py", "docs.py")
    ]
    assert writers == []


def test_every_option_has_help_and_a_unique_env_var() -> None:
    env_vars = [o.env_var for o in OPTIONS]
    assert len(env_vars) == len(set(env_vars))
    assert all(o.help.endswith(".") for o in OPTIONS)


def test_configuration_reference_matches_the_option_table() -> None:
    """docs/configuration.md is generated from the table: regenerate it when this fails."""
    from tally.config.docs import render_reference

    doc = Path(__file__).parent.parent / "docs" / "configuration.md"
    assert doc.read_text() == render_reference()


def test_a_comment_after_an_omit_pattern_is_warned_of_naming_the_file(tmp_path: Path) -> None:
    """tally reads `*/tests/*   # test files` as the pattern alone; coverage.py keeps the
    comment in the pattern (checked with coverage.py itself), which then matches nothing:
    tally says so, naming the file, so the user sees why the two tools differ."""
    import coverage

    rc = write(
        tmp_path / ".coveragerc", "[run]\nomit =\n    */tests/*    # test files\n    setup.py\n"
    )
    config = load_config(str(rc))
    assert config.items("run:omit") == ["*/tests/*", "setup.py"]
    theirs = coverage.Coverage(config_file=str(rc)).config.run_omit
    assert theirs == ["*/tests/*    # test files", "setup.py"]
    (notice,) = [w for w in config.warnings if w.slug == "comment-in-pattern"]
    assert notice.message.startswith(f"{rc} [run] omit: '*/tests/*' is followed by a comment")
    quiet = write(tmp_path / "quiet.cfg", "[run]\nomit =\n    # test files\n    */tests/*\n")
    assert not [w for w in load_config(str(quiet)).warnings if w.slug == "comment-in-pattern"]
