"""A content-addressed cache of what tally derives from source files, for trees where
`__pycache__` can't serve: a fresh clone in CI, a read-only tree, or wherever
`PYTHONDONTWRITEBYTECODE` is set.

An entry's key is a SHA-256 of everything the entry depends on: the source's bytes, its
path (instrumented code names its file, and its counters are named after the path), what
the entry holds (instrumented code of one flavour, or a marker table, named with tally's
version and instrumentation format), and Python's bytecode magic number. So an entry is
never stale: a changed file, tally or Python looks for another key. Entries live under
`<directory>/<first two hex digits>/<key>`; each starts with a header and the SHA-256 of its
body, and one whose body doesn't match (truncated, corrupt, or another format) is ignored
and removed. Writers write a file of their own and rename it into place, so processes
writing at once (xdist workers, subprocesses) never see half an entry. When the entries
pass the size limit, the oldest (by when they were last used) are removed until they are
under four fifths of it. docs/ci.md shows how to keep the directory between CI runs.
"""

from __future__ import annotations

import contextlib
import importlib.util
import marshal
import os
import random
import sys
from collections.abc import Iterator
from typing import Any

__all__ = ["DEFAULT_LIMIT", "CodeCache", "code_cache", "default_directory"]

DEFAULT_LIMIT = 512 * 2**20  # bytes of entries before the oldest are removed
_HEADER = b"TLYC1"
_DIGEST = 32  # bytes of SHA-256
_PRUNE_EVERY = 64  # stores between size checks, on average


def default_directory() -> str:
    """The user's cache directory for tally, as each platform places such caches."""
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or os.path.join(
            os.path.expanduser("~"), "AppData", "Local"
        )
        return os.path.join(base, "tally", "Cache")
    if sys.platform == "darwin":
        return os.path.join(os.path.expanduser("~"), "Library", "Caches", "tally")
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "tally")


def code_cache(setting: str | None) -> CodeCache | None:
    """The cache `[tally] cache_dir` asks for: None (unset) for the user's cache directory,
    "" for none, else the directory named (`~` expanded)."""
    if setting is None:
        return CodeCache(default_directory())
    if not setting:
        return None
    return CodeCache(os.path.expanduser(setting))


class CodeCache:
    """Entries keyed by content under `directory`, at most about `limit` bytes of them."""

    def __init__(self, directory: str, limit: int = DEFAULT_LIMIT) -> None:
        self.directory = directory
        self.limit = limit

    @staticmethod
    def key(path: str, source: bytes, kind: str) -> str:
        """The key of what is derived as `kind` from `source`, the bytes of the file at
        `path`. `kind` names tally's version and format too (pycache.cache_suffix)."""
        import hashlib  # here, not at import: it loads OpenSSL, and start-up time counts

        digest = hashlib.sha256()
        for part in (
            _HEADER,
            importlib.util.MAGIC_NUMBER,
            kind.encode(),
            path.encode("utf-8", "surrogatepass"),
            source,
        ):
            # Each part with its length first, so no two lists of parts read the same.
            digest.update(len(part).to_bytes(8, "little"))
            digest.update(part)
        return digest.hexdigest()

    def _file(self, key: str) -> str:
        return os.path.join(self.directory, key[:2], key)

    def load(self, key: str) -> object | None:
        """The entry stored under `key`; None when there is none or it is damaged."""
        import hashlib

        entry = self._file(key)
        try:
            with open(entry, "rb") as handle:
                data = handle.read()
        except OSError:
            return None
        body = data[len(_HEADER) + _DIGEST :]
        if (
            not data.startswith(_HEADER)
            or data[len(_HEADER) : len(_HEADER) + _DIGEST] != hashlib.sha256(body).digest()
        ):
            self._remove(entry)
            return None
        try:
            payload: object = marshal.loads(body)
        except (ValueError, EOFError, TypeError):
            self._remove(entry)
            return None
        with contextlib.suppress(OSError):  # a read-only cache still serves
            os.utime(entry)  # used now: the oldest entries are those unused longest
        return payload

    def store(self, key: str, payload: Any) -> None:
        """Store `payload` (anything marshal writes) under `key`, whole or not at all."""
        import hashlib

        try:
            body = marshal.dumps(payload)
        except ValueError:
            return
        entry = self._file(key)
        temp = f"{entry}.{os.getpid()}.{random.getrandbits(32):08x}.tmp"
        try:
            os.makedirs(os.path.dirname(entry), exist_ok=True)
            with open(temp, "wb") as handle:
                handle.write(_HEADER + hashlib.sha256(body).digest() + body)
            os.replace(temp, entry)
        except OSError:
            self._remove(temp)
            return  # a cache that can't be written is no cache: the run goes on
        if random.randrange(_PRUNE_EVERY) == 0:
            self.prune()

    def prune(self) -> None:
        """Remove the entries unused longest while they hold more than the limit, down to
        four fifths of it."""
        entries = sorted(self._entries())
        total = sum(size for _, size, _ in entries)
        if total <= self.limit:
            return
        for _, size, path in entries:
            if total <= self.limit * 4 // 5:
                break
            self._remove(path)
            total -= size

    def _entries(self) -> Iterator[tuple[float, int, str]]:
        """(last used, size, path) of each entry."""
        try:
            shards = list(os.scandir(self.directory))
        except OSError:
            return
        for shard in shards:
            if not shard.is_dir(follow_symlinks=False):
                continue
            try:
                files = list(os.scandir(shard.path))
            except OSError:
                continue
            for item in files:
                try:
                    st = item.stat(follow_symlinks=False)
                except OSError:
                    continue
                yield st.st_mtime, st.st_size, item.path

    @staticmethod
    def _remove(path: str) -> None:
        with contextlib.suppress(OSError):  # gone already, or not ours to remove
            os.remove(path)
