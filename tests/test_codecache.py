"""The content-addressed cache of instrumented code (collect/codecache.py): what it keys
on, that it never hands back a damaged entry, that processes writing at once leave whole
entries, that it stays under its limit, and that a fresh clone of a project reuses what an
earlier clone of it instrumented."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support import run_tally, tally_env, write

from tally.collect.codecache import CodeCache, code_cache, default_directory


def stored(cache: CodeCache) -> list[Path]:
    return sorted(p for p in Path(cache.directory).rglob("*") if p.is_file())


def test_an_entry_comes_back_as_stored_under_a_key_of_everything_it_depends_on(
    tmp_path: Path,
) -> None:
    cache = CodeCache(str(tmp_path))
    key = cache.key("/p/m.py", b"x = 1\n", "tally-1-16.pyc")
    code = compile("x = 1\n", "/p/m.py", "exec")
    cache.store(key, code)
    assert cache.load(key) == code
    others = {
        cache.key("/p/n.py", b"x = 1\n", "tally-1-16.pyc"),  # another file
        cache.key("/p/m.py", b"x = 2\n", "tally-1-16.pyc"),  # changed source
        cache.key("/p/m.py", b"x = 1\n", "tally-1-16b.pyc"),  # another flavour
        cache.key("/p/m.py", b"x = 1\n", "tally-1-17.pyc"),  # another format
    }
    assert len(others) == 4 and key not in others
    assert all(cache.load(other) is None for other in others)


@pytest.mark.parametrize("damage", ["truncated", "flipped", "foreign"])
def test_a_damaged_entry_is_never_trusted_and_is_removed(tmp_path: Path, damage: str) -> None:
    cache = CodeCache(str(tmp_path))
    key = cache.key("/p/m.py", b"x = 1\n", "k")
    cache.store(key, compile("x = 1\n", "/p/m.py", "exec"))
    (entry,) = stored(cache)
    data = entry.read_bytes()
    if damage == "truncated":
        entry.write_bytes(data[: len(data) // 2])
    elif damage == "flipped":
        entry.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    else:
        entry.write_bytes(b"PK\x03\x04" + data[4:])
    assert cache.load(key) is None
    assert not entry.exists()


def test_processes_storing_at_once_leave_whole_entries(tmp_path: Path) -> None:
    script = write(
        tmp_path / "store.py",
        """
        import sys
        from tally.collect.codecache import CodeCache

        cache = CodeCache(sys.argv[1])
        for n in range(200):
            source = f"x = {n % 20}\\n" * 200
            cache.store(cache.key("/p/m.py", source.encode(), "k"), source)
        """,
    )
    directory = tmp_path / "cache"
    writers = [
        subprocess.Popen([sys.executable, str(script), str(directory)], env=tally_env())
        for _ in range(4)
    ]
    assert [w.wait(timeout=120) for w in writers] == [0, 0, 0, 0]
    cache = CodeCache(str(directory))
    for n in range(20):
        source = f"x = {n}\n" * 200
        assert cache.load(cache.key("/p/m.py", source.encode(), "k")) == source
    assert len(stored(cache)) == 20  # no temporary files left behind


def test_past_its_limit_the_entries_unused_longest_are_removed(tmp_path: Path) -> None:
    # Filled under a limit it can't reach: a store prunes now and then, by chance.
    cache = CodeCache(str(tmp_path), limit=10**9)
    keys = [cache.key("/p/m.py", str(n).encode(), "k") for n in range(10)]
    for age, key in enumerate(keys):
        cache.store(key, "x" * 1_000)
        entry = Path(cache._file(key))
        os.utime(entry, (time.time() - 1_000 + age, time.time() - 1_000 + age))
    assert cache.load(keys[0]) is not None  # used now: no longer the oldest
    cache.limit = 10_000
    cache.store(cache.key("/p/m.py", b"new", "k"), "x" * 3_000)
    cache.prune()
    assert sum(p.stat().st_size for p in stored(cache)) <= 8_000
    assert cache.load(keys[0]) is not None
    assert cache.load(keys[1]) is None and cache.load(keys[2]) is None


def test_the_setting_moves_the_cache_or_turns_it_off() -> None:
    default = code_cache(None)
    assert default is not None and default.directory == default_directory()
    assert code_cache("") is None
    moved = code_cache("~/elsewhere")
    assert moved is not None and moved.directory == os.path.expanduser("~/elsewhere")


def _clone(origin: Path, into: Path) -> None:
    subprocess.run(["git", "clone", "-q", str(origin), str(into)], check=True)


def test_a_second_fresh_clone_reuses_what_the_first_instrumented(tmp_path: Path) -> None:
    origin = tmp_path / "origin"
    write(origin / "pkg" / "__init__.py", "")
    write(
        origin / "pkg" / "shapes.py",
        """
        def area(w, h):
            if w < 0 or h < 0:
                raise ValueError("negative")
            return w * h
        """,
    )
    write(origin / "main.py", "from pkg.shapes import area\nfor n in range(3):\n    area(n, 2)\n")
    env = dict(os.environ)
    for command in (["init", "-q"], ["add", "."], ["commit", "-qm", "project"]):
        subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@t", *command],
            cwd=origin,
            check=True,
            env=env,
        )
    cache_dir = tmp_path / "ci-cache"
    checkout = tmp_path / "checkout"  # CI checks out to the same path on every run
    run_env = tally_env(PYTHONDONTWRITEBYTECODE="1", TALLY_CACHE_DIR=str(cache_dir))
    results = []
    for run in range(2):
        if checkout.exists():
            subprocess.run(["rm", "-rf", str(checkout)], check=True)
        _clone(origin, checkout)
        started = time.time()
        result = run_tally("run", "--count", "--source=pkg", "main.py", cwd=checkout, env=run_env)
        assert result.returncode == 0, result.stderr
        assert not list(checkout.rglob("__pycache__"))  # nothing beside the sources
        entries = stored(CodeCache(str(cache_dir)))
        report = run_tally("report", "--show-missing", cwd=checkout, env=run_env)
        results.append((report.stdout, {e.name: e.stat().st_ino for e in entries}))
        if run == 0:
            for entry in entries:  # made long ago, so that a use shows
                os.utime(entry, (started - 1_000, started - 1_000))
        else:
            # The second clone read each entry, which marks it used, and wrote none: a
            # rewritten entry would be a new file (written aside, then renamed).
            assert all(e.stat().st_mtime >= started - 1 for e in entries)
    (first_report, first_entries), (second_report, second_entries) = results
    assert len(first_entries) == 2  # pkg/__init__.py and pkg/shapes.py
    assert second_entries == first_entries
    assert second_report == first_report
