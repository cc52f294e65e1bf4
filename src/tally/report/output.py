"""Writing a report: to stdout for `-`, else whole or not at all, parent directories made."""

from __future__ import annotations

import contextlib
import os
import sys

from tally.exceptions import OutputError

__all__ = ["write_output"]


def write_output(
    dest: str, content: str | bytes, *, what: str = "report", elsewhere: str = "-o"
) -> None:
    """Write `content` to the file `dest` (stdout for "-").

    The file appears whole or not at all: it is written beside its final name and renamed
    over it, so a reader (or a crash) never sees half a report. Raises OutputError, naming
    the path and the option (`elsewhere`) that sends it elsewhere, when it can't be
    written.
    """
    if dest == "-":
        if isinstance(content, bytes):
            sys.stdout.flush()
            sys.stdout.buffer.write(content)
            sys.stdout.buffer.flush()
        else:
            sys.stdout.write(content)
        return
    data = content.encode("utf-8") if isinstance(content, str) else content
    temp = f"{dest}.{os.getpid()}.tmp"
    try:
        parent = os.path.dirname(dest)
        if parent:
            os.makedirs(parent, exist_ok=True)
        with open(temp, "wb") as handle:
            handle.write(data)
        os.replace(temp, dest)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        reason = exc.strerror or type(exc).__name__
        raise OutputError(
            f"can't write the {what} to {dest}: {reason}; choose another path with {elsewhere}"
        ) from None
