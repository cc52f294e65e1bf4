"""The configuration reference (docs/configuration.md), generated from the option table.

Regenerate with `python -m tally.config.docs > docs/configuration.md`; a test fails when the
file and the table drift apart.
"""

from __future__ import annotations

from tally.config.options import ALIASES, OPTIONS
from tally.warnings import SLUGS

__all__ = ["render_reference"]

_INTRO = """\
# Configuration reference

tally reads coverage.py's configuration files with coverage.py's precedence: `--rcfile` (or
`COVERAGE_RCFILE`), else the first of `.coveragerc`, `coverage.ini`, `setup.cfg`
(`[coverage:run]` ...), `tox.ini` (`[coverage:run]` ...), `pyproject.toml`
(`[tool.coverage.run]` ...) that holds coverage settings. tally's own options live in a
`[tally]` section (`[tool.tally]` in pyproject.toml), looked for in the same files.

Every option can be overridden by an environment variable, and many by a command-line flag:
**command line > environment > file > default**. `COVERAGE_FILE` sets `[run] data_file` as
in coverage.py. `tally debug config` prints every effective value and where it came from.

Values: booleans take true/false, yes/no, on/off, 1/0. Lists take one item per line or
comma-separated; in glob and path lists a `#` after white space starts a comment
(`*/tests/*   # Test files` is the pattern `*/tests/*`). Regex lists take one regex per line
and no comments (a regex may contain `#`). `$VAR`, `${VAR}` and `${VAR-default}` are
replaced from the environment. An unknown option or section is a warning naming the file,
section and option; a bad value is an error naming them and the accepted values (exit 1).
"""

_TYPES = {
    "bool": "boolean",
    "int": "integer",
    "float": "number",
    "str": "string",
    "path": "path",
    "choice": "one of",
    "globs": "glob list",
    "regexes": "regex list",
    "list": "list",
}


def _default(value: object) -> str:
    if isinstance(value, list):
        return "(" + str(len(value)) + " built-in)" if value else "empty"
    if value == "":
        return "empty"
    if value is None:
        return "unset"
    return f"`{value}`"


def render_reference() -> str:
    """The Markdown reference for every option."""
    out = [_INTRO]
    section = None
    for option in OPTIONS:
        if option.section != section:
            section = option.section
            out.append(f"\n## [{section}]\n")
            out.append("| option | type | default | env | flag | meaning |")
            out.append("|---|---|---|---|---|---|")
        kind = _TYPES[option.type]
        if option.choices:
            kind += " " + ", ".join(f"`{c}`" for c in option.choices)
        flag = f"`{option.cli}`" if option.cli else ""
        own = "" if option.coverage_py else " (tally only)"
        if option.unsupported:
            own += f" Not supported, warned about when set: {option.unsupported}."
        out.append(
            f"| `{option.name}` | {kind} | {_default(option.default)} | "
            f"`{option.env_var}` | {flag} | {option.help}{own} |"
        )
    out.append("\n## The user's coverage.ini names\n")
    out.append("These names are accepted in `[tally]` and mean the option shown:\n")
    for alias, (section, name) in ALIASES.items():
        out.append(f"- `{alias.split(':')[1]}` = `[{section}] {name}`")
    out.append(
        "- `enabled`, `output_format` and `line_threshold` are `[tally]` options above: "
        "`line_threshold` leaves files with fewer statements out of reports."
    )
    out.append("\n## Warnings\n")
    out.append(
        "Each warning ends with its slug, `tally: warning: <message> (<slug>)`; "
        "`[run] disable_warnings` lists the slugs to silence.\n"
    )
    out.append("| slug | warns that |")
    out.append("|---|---|")
    out.extend(f"| `{slug}` | {meaning} |" for slug, meaning in SLUGS.items())
    out.append("\n## [paths]\n")
    out.append(
        "Each option names a list of equivalent source roots, the first being the local "
        "one, as in coverage.py: `tally combine` and the pytest plugin's xdist workers "
        "remap the paths of data measured elsewhere with them (docs/parallel.md)."
    )
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    print(render_reference(), end="")
