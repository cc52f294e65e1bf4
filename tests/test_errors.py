"""Errors as the user meets them: one line, a documented slug and exit status, and with
--debug the slug shown."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tally import exceptions
from tally.cli.main import main

ROOT = Path(__file__).resolve().parent.parent


def _documented() -> dict[str, int]:
    """The slugs docs/errors.md lists, with their exit statuses."""
    text = (ROOT / "docs" / "errors.md").read_text()
    return {
        slug: int(status) for slug, status in re.findall(r"^\| `([a-z-]+)` \| (\d+) \|", text, re.M)
    }


def _raised_in_code() -> dict[str, int]:
    """Every error slug tally's code can raise: each error class's own, and each `slug=`
    given where an error is raised, with the exit status of its class."""
    classes = {
        name: cls
        for name, cls in vars(exceptions).items()
        if isinstance(cls, type) and issubclass(cls, exceptions.TallyError)
    }
    found = {cls.slug: cls.exit_code for cls in classes.values()}
    for path in (ROOT / "src" / "tally").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
                continue
            cls = classes.get(node.func.id)
            for keyword in node.keywords if cls is not None else ():
                value = keyword.value
                if keyword.arg == "slug" and isinstance(value, ast.Constant):
                    assert cls is not None and isinstance(value.value, str)
                    found[value.value] = cls.exit_code
    return found


def test_every_error_slug_is_documented_with_its_exit_status() -> None:
    raised = _raised_in_code()
    assert {"baseline-exists", "not-python", "no-data"} <= set(raised)
    assert _documented() == raised


def test_an_error_is_one_line_and_debug_adds_its_slug(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    missing = str(tmp_path / "nothing.coverage")
    assert main(["report", "--data-file", missing]) == 1
    plain = capsys.readouterr().err
    assert main(["report", "--data-file", missing, "--debug"]) == 1
    debug = capsys.readouterr().err.splitlines()
    assert len(plain.splitlines()) == 1 and plain.startswith("tally: ")
    assert debug[-1] == plain.rstrip("\n") + " (no-data, exit 1)"
