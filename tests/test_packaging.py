"""The distribution: its name on the package index (`tally` there is an unrelated
project's), what it installs, and the install lines the docs give."""

from __future__ import annotations

import importlib.metadata
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NAME = "tally-coverage"  # free on pypi.org when chosen (its JSON API said 404; tally: 200)


def test_the_distribution_is_tally_coverage_and_installs_tally() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["name"] == NAME
    installed = importlib.metadata.distribution(NAME)
    points = {(p.group, p.name): p.value for p in installed.entry_points}
    assert points[("console_scripts", "tally")] == "tally.cli.main:main"
    assert points[("pytest11", "tally")] == "tally.pytest_plugin"


def test_every_install_line_in_the_docs_names_the_distribution() -> None:
    wrong = []
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for number, line in enumerate(doc.read_text().splitlines(), 1):
            for args in re.findall(r"pip install((?:\s+[^\s&;|`]+)+)", line):
                if any(re.fullmatch(r"tally([\[=<>~].*)?", arg) for arg in args.split()):
                    wrong.append(f"{doc.name}:{number}: {line.strip()}")
    assert wrong == []
