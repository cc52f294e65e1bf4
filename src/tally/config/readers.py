"""Read configuration the way coverage.py does, plus tally's section, env overrides and CLI."""

from __future__ import annotations

import configparser
import os
import re
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

from tally.config.options import OPTIONS, Option, find_option
from tally.exceptions import ConfigError
from tally.warnings import Notice

__all__ = ["Config", "ConfigFile", "load_config", "parse_value"]

# Sections coverage.py reads; [paths] holds free-form remapping lists.
_SECTIONS = ("run", "report", "html", "xml", "json", "lcov", "paths")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}

# A `#` after white space ends a glob or path in a list: people write
#     */tests/*          # Test files
# and mean the pattern alone. (coverage.py keeps the comment as part of the pattern.)
_TRAILING_COMMENT = re.compile(r"\s+#.*$")

# The patterns that choose which files are measured and reported: a comment after one is a
# comment to tally but part of the pattern to coverage.py (_comments_in_patterns).
_FILE_PATTERNS = ("run:include", "run:omit", "report:include", "report:omit")

# coverage.py's variable substitution in config values: $VAR, ${VAR}, ${VAR-default}, $$.
_VARIABLE = re.compile(r"\$\$|\$\{(?P<name1>\w+)(?:-(?P<default>[^}]*))?\}|\$(?P<name2>\w+)")


class ConfigFile(NamedTuple):
    """A configuration file tally read, and how its sections are named."""

    path: str
    kind: str  # "ini" (our own file), "cfg" (setup.cfg/tox.ini: coverage: prefix), "toml"


class Config:
    """The effective settings: a value and where it came from for every option."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.origins: dict[str, str] = {}
        self.paths: dict[str, list[str]] = {}
        self.files: list[str] = []
        self.warnings: list[Notice] = []
        for option in OPTIONS:
            if option.key not in self.values:
                default = option.default
                self.values[option.key] = list(default) if isinstance(default, list) else default
                self.origins[option.key] = "default"

    def get(self, key: str) -> Any:
        """The value of `section:name`."""
        return self.values[key]

    def set(self, key: str, value: Any, origin: str) -> None:
        """Set `section:name` to an already-parsed value, remembering where it came from."""
        self.values[key] = value
        self.origins[key] = origin

    def flag(self, key: str) -> bool:
        """A boolean option."""
        return bool(self.values[key])

    def text(self, key: str) -> str:
        """A string option."""
        return str(self.values[key])

    def items(self, key: str) -> list[str]:
        """A list option."""
        return list(self.values[key])

    def number(self, key: str) -> float:
        """A numeric option."""
        return float(self.values[key])

    def exclude_regexes(self) -> list[str]:
        """The regexes that exclude lines: exclude_lines plus exclude_also."""
        return self.items("report:exclude_lines") + self.items("report:exclude_also")

    def partial_regexes(self) -> list[str]:
        """The regexes of branch lines not to report as partial (coverage.py's
        partial_branches, partial_also and partial_branches_always)."""
        return (
            self.items("report:partial_branches")
            + self.items("report:partial_also")
            + self.items("report:partial_branches_always")
        )

    def to_dict(self) -> dict[str, Any]:
        """The settings as plain data (JSON), for a measured subprocess to take up."""
        return {"values": self.values, "paths": self.paths, "files": self.files}

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any], origin: str) -> Config:
        """The settings to_dict() gave, each remembered as coming from `origin`."""
        config = cls()
        for key, value in doc["values"].items():
            if key in config.values:
                config.set(key, value, origin)
        config.paths = {name: list(entries) for name, entries in doc["paths"].items()}
        config.files = list(doc["files"])
        return config

    def describe(self) -> Iterator[tuple[str, Any, str]]:
        """(key, value, origin) for every option, in table order: `tally debug config`."""
        for option in OPTIONS:
            yield option.key, self.values[option.key], self.origins[option.key]


def parse_value(option: Option, raw: object, where: str) -> Any:
    """Turn a raw value from a file, env var or CLI into the option's type, or raise ConfigError."""

    def bad(expected: str) -> ConfigError:
        return ConfigError(f"{where}: invalid value {raw!r} for {option.name}: expected {expected}")

    kind = option.type
    if kind == "bool":
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise bad("a boolean (true/false, yes/no, on/off, 1/0)")
    if kind in ("int", "float"):
        if isinstance(raw, bool):
            raise bad("a number")
        try:
            number = float(str(raw).strip()) if kind == "float" else int(str(raw).strip())
        except ValueError:
            raise bad("an integer" if kind == "int" else "a number") from None
        if option.name in ("fail_under",) and not 0 <= number <= 100:
            raise bad("a number from 0 to 100")
        if kind == "int" and number < 0:
            raise bad("a non-negative integer")
        return number
    if kind == "choice":
        text = str(raw).strip().lower()
        if text not in option.choices:
            raise bad("one of " + ", ".join(option.choices))
        return text
    if kind in ("globs", "list", "regexes"):
        return _parse_list(kind, raw, bad)
    return str(raw).strip()


def _written_items(kind: str, raw: object) -> list[str] | None:
    """The items of a list option as written, comments and spaces still on them; None
    when `raw` is no list."""
    if isinstance(raw, list | tuple):
        return [str(item) for item in raw]
    if isinstance(raw, str):
        # Regexes go one per line (a regex may contain a comma); other lists also split on commas.
        lines = raw.splitlines()
        return lines if kind == "regexes" else [p for line in lines for p in line.split(",")]
    return None


def _parse_list(kind: str, raw: object, bad: Any) -> list[str]:
    items = _written_items(kind, raw)
    if items is None:
        raise bad("a list")
    if kind != "regexes":
        items = [_TRAILING_COMMENT.sub("", item) for item in items]
    items = [item.strip() for item in items]
    items = [item for item in items if item]
    if kind == "regexes":
        for item in items:
            try:
                re.compile(item)
            except re.error as err:
                raise bad(f"valid regular expressions ({item!r}: {err})") from None
    return items


def _comments_in_patterns(raw: object, where: str) -> list[Notice]:
    """A warning for each pattern of an include/omit list in a config file that a `#`
    comment follows: tally reads the pattern alone, coverage.py the pattern with the
    comment, which matches no file, so the two tools choose different files."""
    found = []
    for item in _written_items("globs", raw) or ():
        comment = _TRAILING_COMMENT.search(item)
        pattern = item[: comment.start()].strip() if comment else ""
        if comment and pattern:
            found.append(
                Notice(
                    f"{where}: {pattern!r} is followed by a comment "
                    f"({comment.group().strip()!r}): tally reads the pattern alone, but "
                    "coverage.py takes the comment as part of it, so coverage.py's "
                    "pattern matches no file; put the comment on a line of its own",
                    "comment-in-pattern",
                )
            )
    return found


def _list_error(where: str) -> Any:
    def make(expected: str) -> ConfigError:
        return ConfigError(f"{where}: expected {expected}")

    return make


def _substitute(text: str) -> str:
    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group("name1") or match.group("name2")
        default = match.group("default")
        return os.environ.get(name, default if default is not None else "")

    return _VARIABLE.sub(one, text)


# ------------------------------------------------------------------------------ files


def _candidates(rcfile: str | None) -> list[ConfigFile]:
    """Files to try, in coverage.py's order (with coverage.ini beside .coveragerc)."""
    if rcfile:
        name = os.path.basename(rcfile)
        kind = (
            "toml"
            if rcfile.endswith(".toml")
            else ("cfg" if name in ("setup.cfg", "tox.ini") else "ini")
        )
        return [ConfigFile(rcfile, kind)]
    return [
        ConfigFile(".coveragerc", "ini"),
        ConfigFile("coverage.ini", "ini"),
        ConfigFile("setup.cfg", "cfg"),
        ConfigFile("tox.ini", "cfg"),
        ConfigFile("pyproject.toml", "toml"),
    ]


def _read_sections(cf: ConfigFile) -> dict[str, dict[str, object]] | None:
    """Read a file into {section: {option: raw value}}, sections named without prefixes.

    Returns None when the file doesn't exist. Tally's section comes back as "tally".
    """
    if not os.path.isfile(cf.path):
        return None
    if cf.kind == "toml":
        return _read_toml(cf.path)
    parser = configparser.RawConfigParser(interpolation=None)
    try:
        with open(cf.path, encoding="utf-8") as handle:
            parser.read_file(handle)
    except (configparser.Error, UnicodeDecodeError) as err:
        first = str(err).splitlines()[0]
        raise ConfigError(f"couldn't read config file {cf.path}: {first}") from None
    sections: dict[str, dict[str, object]] = {}
    for section in parser.sections():
        name = section
        if section.startswith("coverage:"):
            name = section[len("coverage:") :]
        elif cf.kind == "cfg" and section != "tally":
            continue  # setup.cfg and tox.ini hold other tools' sections too
        sections[name] = {k: _substitute(v) for k, v in parser.items(section)}
    return sections


def _read_toml(path: str) -> dict[str, dict[str, object]]:
    import tomllib

    try:
        with open(path, "rb") as handle:
            doc = tomllib.load(handle)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"couldn't read config file {path}: {err}") from None
    tool = doc.get("tool", {})
    sections: dict[str, dict[str, object]] = {}
    coverage = tool.get("coverage", {})
    if isinstance(coverage, Mapping):
        for name, table in coverage.items():
            if isinstance(table, Mapping):
                sections[name] = dict(table)
    tally = tool.get("tally")
    if isinstance(tally, Mapping):
        sections["tally"] = dict(tally)
    return sections


def _has_settings(cf: ConfigFile, sections: dict[str, dict[str, object]]) -> bool:
    # Our own files count once they exist; shared files only when they hold our sections.
    return cf.kind == "ini" or any(name != "tally" for name in sections)


def _apply_file(
    config: Config,
    cf: ConfigFile,
    sections: dict[str, dict[str, object]],
    *,
    coverage_sections: bool,
    tally_section: bool,
) -> None:
    for section, values in sections.items():
        is_tally = section == "tally"
        if (is_tally and not tally_section) or (not is_tally and not coverage_sections):
            continue
        shown = (
            f"[tool.{'tally' if is_tally else 'coverage.' + section}]"
            if cf.kind == "toml"
            else f"[{section}]"
        )
        if section == "paths":
            for name, raw in values.items():
                where = f"{cf.path} {shown} {name}"
                config.paths[name] = _parse_list("globs", raw, _list_error(where))
            continue
        if not is_tally and section not in _SECTIONS:
            config.warnings.append(
                Notice(f"{cf.path}: unknown section {shown}, ignored", "unknown-option")
            )
            continue
        for name, raw in values.items():
            option = find_option(section, name)
            if option is None:
                config.warnings.append(
                    Notice(f"{cf.path} {shown}: unknown option '{name}', ignored", "unknown-option")
                )
                continue
            where = f"{cf.path} {shown}"
            config.set(option.key, parse_value(option, raw, where), f"{cf.path} {shown} {name}")
            if option.key in _FILE_PATTERNS:
                config.warnings += _comments_in_patterns(raw, f"{cf.path} {shown} {name}")


def load_config(
    rcfile: str | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, object] | None = None,
) -> Config:
    """Build the effective Config: defaults < file < TALLY_* environment < `overrides` (CLI).

    `rcfile` is `--rcfile`; without it COVERAGE_RCFILE, then the usual files are tried.
    `overrides` maps `section:name` to raw values from the command line.
    """
    env = os.environ if environ is None else environ
    config = Config()
    explicit = rcfile or env.get("COVERAGE_RCFILE") or None
    if explicit and not os.path.isfile(explicit):
        raise ConfigError(f"couldn't read config file {explicit}: no such file")

    chosen: ConfigFile | None = None
    tally_done = False
    for cf in _candidates(explicit):
        sections = _read_sections(cf)
        if sections is None:
            continue
        take_coverage = chosen is None and _has_settings(cf, sections)
        take_tally = not tally_done and "tally" in sections
        if take_coverage or take_tally:
            _apply_file(
                config, cf, sections, coverage_sections=take_coverage, tally_section=take_tally
            )
            config.files.append(cf.path)
        if take_coverage:
            chosen = cf
        tally_done = tally_done or take_tally

    _apply_environment(config, env)
    for key, raw in (overrides or {}).items():
        if raw is None:
            continue
        section, name = key.split(":")
        option = find_option(section, name)
        assert option is not None, f"CLI override for an undeclared option {key}"
        flag = option.cli or f"--{name.replace('_', '-')}"
        config.set(
            option.key, parse_value(option, raw, f"command line {flag}"), f"command line {flag}"
        )
    config.warnings += _refusals(config)
    return config


# The concurrency names coverage.py knows that tally measures without being told.
_CONCURRENCY = ("thread", "multiprocessing")


def _refusals(config: Config) -> list[Notice]:
    """A warning for each coverage.py option set that tally accepts but doesn't act on."""
    found = [
        Notice(
            f"[{option.section}] {option.name} is not supported: {option.unsupported}; "
            f"ignored ({config.origins[option.key]})",
            "unsupported-option",
        )
        for option in OPTIONS
        if option.unsupported and config.get(option.key) != option.default
    ]
    found += [
        Notice(
            f"[run] concurrency = {name} is not supported (tally measures "
            f"{' and '.join(_CONCURRENCY)}); ignored",
            "unsupported-option",
        )
        for name in config.items("run:concurrency")
        if name not in _CONCURRENCY
    ]
    return found


def _apply_environment(config: Config, env: Mapping[str, str]) -> None:
    if "COVERAGE_FILE" in env:  # coverage.py's own variable, honoured as coverage.py does
        config.set("run:data_file", env["COVERAGE_FILE"], "env COVERAGE_FILE")
    for option in OPTIONS:
        raw = env.get(option.env_var)
        if raw is not None:
            where = f"environment variable {option.env_var}"
            config.set(option.key, parse_value(option, raw, where), f"env {option.env_var}")
