"""The HTML report: what its pages say, that it escapes everything, that a re-run rewrites
only what changed, and how it behaves in a real (headless Chromium) browser."""

from __future__ import annotations

import html
import json
import re
import sysconfig
from pathlib import Path

import pytest
from browser import Browser, artifacts_dir
from support import run_tally, write
from test_formats import needs_tools

from tally.data.sqlite import CoverageData
from tally.report.html import highlight, page_name

STDLIB = Path(sysconfig.get_paths()["stdlib"])
PROGRAM = """\
import helper

def grade(n):
    if n > 90:
        return "A"
    if n > 50:
        return "B"
    return "C"

for score in (95, 60, 70, 10):
    grade(score)
    if score > 100:
        helper.unused()
"""
HELPER = """\
def unused():
    return "never"

HOT = [i * i for i in range(1000)]
"""


def project(tmp_path: Path) -> Path:
    write(tmp_path / "prog.py", PROGRAM)
    write(tmp_path / "helper.py", HELPER)
    result = run_tally("run", "--count", "--branch", "prog.py", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    return tmp_path


def hot_count(tmp_path: Path) -> int:
    """The count of helper.py's hottest line (the comprehension's; it varies by Python)."""
    return CoverageData(str(tmp_path / ".coverage")).counts(str(tmp_path / "helper.py"))[4]


def html_report(tmp_path: Path, *flags: str) -> str:
    result = run_tally("html", *flags, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_file_pages_mark_each_line_and_show_its_count(tmp_path: Path) -> None:
    project(tmp_path)
    html_report(tmp_path)
    page = (tmp_path / "htmlcov" / page_name("prog.py")).read_text()
    classes = dict(re.findall(r'<p id="t(\d+)" class="(\w+)"', page))
    assert classes["4"] == "run"  # both ways taken
    assert classes["6"] == "run"
    assert classes["12"] == "par"  # never true
    assert classes["13"] == "mis"
    assert classes["2"] == "pln"
    counts = CoverageData(str(tmp_path / ".coverage")).counts(str(tmp_path / "prog.py"))
    shown = dict(re.findall(r'<p id="t(\d+)"[^>]*>.*?<span class="c"[^>]*>([\d,]*)</span>', page))
    assert {int(n): int(c.replace(",", "")) for n, c in shown.items() if c} == {
        n: c for n, c in counts.items() if c
    }
    assert "to line 5: once" in page and "to line 6: 3 times" in page  # arm counts
    index = (tmp_path / "htmlcov" / "index.html").read_text()
    hottest = hot_count(tmp_path)
    assert hottest > 1000  # the list comprehension's line: once per item, and more
    assert f'href="{page_name("helper.py")}"' in index and f">{hottest:,}</td>" in index


def test_source_and_file_names_are_escaped(tmp_path: Path) -> None:
    evil = "we<ird>&'\".py"
    write(tmp_path / evil, 'x = "</script><script>alert(1)</script>"  # <b>bold</b>\n')
    assert run_tally("run", evil, cwd=tmp_path).returncode == 0
    html_report(tmp_path)
    page = (tmp_path / "htmlcov" / page_name(evil)).read_text()
    assert "<script>alert(1)" not in page and "<b>" not in page
    assert "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert page.count("<script") == 1  # tally.js, nothing else
    index = (tmp_path / "htmlcov" / "index.html").read_text()
    assert html.escape(evil) in index and evil not in index


def test_highlighting_keeps_every_character_of_the_source() -> None:
    source = 'def f(x):  # c\n    s = """a\n<b>"""\n    return f"{x!r}" + 0x1F\n'
    lines = highlight(source)
    assert [html.unescape(re.sub(r"<[^>]+>", "", line)) for line in lines] == source.split("\n")[
        :-1
    ]
    assert '<span class="key">def</span>' in lines[0] and '<span class="com"># c</span>' in lines[0]
    assert lines[2].startswith('<span class="str">&lt;b&gt;')  # a string spanning lines
    assert highlight("x = (\n") == ["x = ("]  # what won't tokenize is still shown


@pytest.mark.parametrize("name", ["tokenize.py", "argparse.py", "typing.py", "re/_parser.py"])
def test_highlighting_shows_every_line_of_real_source_exactly(name: str) -> None:
    text = (STDLIB / name).read_text(encoding="utf-8")
    lines = highlight(text)
    assert [html.unescape(re.sub(r"<[^>]+>", "", line)) for line in lines] == text.splitlines()
    assert all("<" not in re.sub(r"</?span[^>]*>", "", line) for line in lines)


def test_a_rerun_rewrites_only_the_pages_that_changed(tmp_path: Path) -> None:
    project(tmp_path)
    assert "2 file pages written, 0 unchanged" in html_report(tmp_path)
    pages = {
        p: p.stat().st_mtime_ns
        for p in (tmp_path / "htmlcov").glob("*_*.html")
        if not p.name.endswith("_index.html")  # the indexes are written every time
    }
    assert "0 file pages written, 2 unchanged" in html_report(tmp_path)
    assert {p: p.stat().st_mtime_ns for p in pages} == pages
    write(tmp_path / "helper.py", HELPER + "EXTRA = 1\n")
    assert run_tally("run", "--count", "--branch", "prog.py", cwd=tmp_path).returncode == 0
    assert "1 file pages written, 1 unchanged" in html_report(tmp_path)
    assert "EXTRA" in (tmp_path / "htmlcov" / page_name("helper.py")).read_text()
    # Other settings change every page.
    assert "2 file pages written" in html_report(tmp_path, "--title=Other")


def test_skip_covered_leaves_fully_covered_files_out(tmp_path: Path) -> None:
    write(tmp_path / "prog.py", "import done\nif len(__name__) > 100:\n    print()\n")
    write(tmp_path / "done.py", "x = 1\n")
    assert run_tally("run", "prog.py", cwd=tmp_path).returncode == 0
    html_report(tmp_path, "--skip-covered")
    index = (tmp_path / "htmlcov" / "index.html").read_text()
    assert page_name("prog.py") in index and page_name("done.py") not in index


def test_an_unwritable_directory_is_a_clear_error(tmp_path: Path) -> None:
    project(tmp_path)
    (tmp_path / "taken").write_text("a file")
    result = run_tally("html", "-d", "taken", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("tally: can't write the HTML report to taken")
    assert "Traceback" not in result.stderr


@needs_tools
def test_the_report_in_a_real_browser(tmp_path: Path) -> None:
    project(tmp_path)
    html_report(tmp_path)
    browser = Browser()
    try:
        browser.open(tmp_path / "htmlcov" / "index.html")
        names = "return [...document.querySelectorAll('tbody tr')].map(r => r.cells[0].textContent)"
        assert browser.js(names) == ["helper.py", "prog.py"]
        # Sort by coverage, lowest first: helper.py misses a line, prog.py only a branch.
        header = "thead th:nth-child(7)"  # File, Stmts, Miss, Excl, Branch, Partial, Coverage
        assert (
            browser.js("return document.querySelector(arguments[0]).textContent", header)
            == "Coverage"
        )
        browser.click(header)
        assert browser.js(names) == ["helper.py", "prog.py"]
        browser.click(header)
        assert browser.js(names) == ["prog.py", "helper.py"]
        assert (
            browser.js(
                "return document.querySelector(arguments[0]).getAttribute('aria-sort')", header
            )
            == "descending"
        )
        browser.type("#filter", "help")
        visible = "return [...document.querySelectorAll('tbody tr')].filter(r => !r.hidden).length"
        assert browser.js(visible) == 1
        browser.screenshot(artifacts_dir() / "html-index.png")

        browser.click(f'a[href="{page_name("helper.py")}"]')
        assert browser.js("return location.pathname").endswith(page_name("helper.py"))
        line = "return document.getElementById(arguments[0]).className"
        assert browser.js(line, "t2") == "mis"
        assert browser.js(line, "t4") == "run"
        count = "return document.querySelector('#t4 .c').textContent"
        assert browser.js(count) == f"{hot_count(tmp_path):,}"
        heat = "return getComputedStyle(document.querySelector('#t4 .c')).backgroundColor"
        assert browser.js(heat) not in ("", "rgba(0, 0, 0, 0)")  # shaded: the hottest line
        browser.type("body", "j")  # the next missed line
        assert browser.js("return document.querySelector('p.current').id") == "t2"
        browser.screenshot(artifacts_dir() / "html-file.png")
        assert browser.js("return document.scripts.length") == 1
        # The dark scheme: a dark page with light text.
        background = "return getComputedStyle(document.body).backgroundColor"
        assert browser.js(background) == "rgb(255, 255, 255)"
        browser.prefer_dark()
        assert browser.js(background) == "rgb(27, 28, 30)"
        browser.screenshot(artifacts_dir() / "html-file-dark.png")
    finally:
        browser.close()


def test_title_and_extra_css_come_from_the_config_file(tmp_path: Path) -> None:
    project(tmp_path)
    write(tmp_path / "mine.css", "body { font-size: 20px; }\n")
    write(tmp_path / ".coveragerc", "[html]\ntitle = Inventory <ci>\nextra_css = mine.css\n")
    html_report(tmp_path)
    index = (tmp_path / "htmlcov" / "index.html").read_text()
    assert "<title>Inventory &lt;ci&gt;</title>" in index
    assert '<link rel="stylesheet" href="extra.css">' in index
    assert (tmp_path / "htmlcov" / "extra.css").read_text() == "body { font-size: 20px; }\n"
    write(tmp_path / ".coveragerc", "[html]\nextra_css = missing.css\n")
    result = run_tally("html", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("tally: can't read extra_css missing.css")


def contexts_project(tmp_path: Path) -> Path:
    """A pytest project measured with per-test contexts, one test's id carrying markup."""
    from test_contexts import make_project, run_pytest

    root = make_project(tmp_path / "proj", "count")
    write(
        root / "tests" / "test_odd.py",
        """\
        import pytest

        from pkg.shapes import area


        @pytest.mark.parametrize("kind", ["</script><b>x"])
        def test_odd(kind):
            with pytest.raises(ValueError):
                area(kind, 1)
        """,
    )
    run_pytest(root, "--tally-context=test")
    return root


def test_contexts_are_shown_only_when_asked_for(tmp_path: Path) -> None:
    root = contexts_project(tmp_path)
    html_report(root)
    page = (root / "htmlcov" / page_name("pkg/shapes.py")).read_text()
    assert 'class="x"' not in page
    assert 'id="contexts"' not in page
    html_report(root, "--show-contexts")
    page = (root / "htmlcov" / page_name("pkg/shapes.py")).read_text()
    listed = re.search(r'<ol id="contexts" hidden>(.*?)</ol>', page)
    assert listed is not None
    names = [html.unescape(n) for n in re.findall(r"<li>(.*?)</li>", listed.group(1))]
    expected = CoverageData(str(root / ".coverage")).contexts_by_line(
        str(root / "pkg" / "shapes.py")
    )
    assert names == sorted({n or "(empty)" for found in expected.values() for n in found})
    assert "<b>x" not in page  # the markup in a test's id is text
    for line, found in expected.items():
        button = re.search(rf'<p id="t{line}" .*?data-ctx="([\d ]*)"[^>]*>(\d+ contexts?)<', page)
        assert button is not None, line
        assert [names[int(i)] for i in button.group(1).split()] == [n or "(empty)" for n in found]
        assert button.group(2) == f"{len(found)} context{'s' if len(found) > 1 else ''}"


@needs_tools
def test_contexts_in_a_real_browser(tmp_path: Path) -> None:
    root = contexts_project(tmp_path)
    html_report(root, "--show-contexts")
    expected = CoverageData(str(root / ".coverage")).contexts_by_line(
        str(root / "pkg" / "shapes.py")
    )
    browser = Browser()
    try:
        browser.open(root / "htmlcov" / page_name("pkg/shapes.py"))
        shown = "return [...document.querySelectorAll('#t6 .xl span')].map(s => s.textContent)"
        assert browser.js(shown) == []
        browser.click("#t6 button.x")
        assert browser.js(shown) == expected[6]
        assert any("</script><b>x" in name for name in expected[6])
        visible = "return document.querySelector('#t6 .xl').checkVisibility()"
        assert browser.js(visible) is True
        browser.screenshot(artifacts_dir() / "html-contexts.png")
        browser.click("#t6 button.x")
        assert browser.js(visible) is False
        assert browser.js("return document.querySelector('#t6 button.x').ariaExpanded") == "false"
    finally:
        browser.close()


def test_function_and_class_indexes_list_each_region_as_the_json_report_does(
    tmp_path: Path,
) -> None:
    """function_index.html and class_index.html, as coverage.py writes them beside
    index.html: a row per function (class) of each file and one for the rest, with the
    numbers of the JSON report's functions and classes (held to coverage.py's in
    test_formats.py)."""
    project(tmp_path)
    html_report(tmp_path)
    assert run_tally("json", "-o", "cov.json", cwd=tmp_path).returncode == 0
    files = json.loads((tmp_path / "cov.json").read_text())["files"]
    for kind, section in (("function", "functions"), ("class", "classes")):
        page = (tmp_path / "htmlcov" / f"{kind}_index.html").read_text()
        rows = re.findall(
            r"<tr><td>([^<]+)</td><td><a [^>]+>([^<]+)</a></td><td>(\d+)</td><td>(\d+)</td>",
            page,
        )
        expected = [
            (
                name,
                region or f"(no {kind})",
                str(e["summary"]["num_statements"]),
                str(e["summary"]["missing_lines"]),
            )
            for name, entry in sorted(files.items())
            for region, e in entry[section].items()
        ]
        assert sorted(rows) == sorted(expected), kind
    index = (tmp_path / "htmlcov" / "index.html").read_text()
    assert '<a href="function_index.html">Functions</a>' in index
