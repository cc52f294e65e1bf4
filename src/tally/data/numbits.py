"""Packed encodings stored in blobs: coverage.py's numbits (line sets) and tally's counts."""

from __future__ import annotations

import sys
from array import array
from collections.abc import Iterable, Mapping

__all__ = [
    "counts_parts",
    "line_numbers",
    "numbits_to_nums",
    "nums_to_numbits",
    "pack_counts",
    "unpack_counts",
]


def nums_to_numbits(nums: Iterable[int]) -> bytes:
    """A set of non-negative ints as coverage.py's numbits: bit n of the blob set for n."""
    value = 0
    for num in nums:
        value |= 1 << num
    if not value:
        return b""
    return value.to_bytes((value.bit_length() + 7) // 8, "little")


# The bits set in each byte value: decoding a line set looks each byte up once.
_BITS = [tuple(bit for bit in range(8) if value >> bit & 1) for value in range(256)]


def numbits_to_nums(numbits: bytes) -> list[int]:
    """The sorted ints in a numbits blob."""
    bits = _BITS
    return [index * 8 + bit for index, byte in enumerate(numbits) if byte for bit in bits[byte]]


# Counts blob, version 1: b"\x01", then n as uint32, n line numbers as uint32, then n counts
# as uint64, all little-endian. Fixed-width arrays (not varints) because packing 10,000 files
# must take well under a second (tests/perf_save.py); 12 bytes a line is small beside the
# source.
_COUNTS_V1 = 1
_BIG = sys.byteorder == "big"


def _le(values: array[int]) -> bytes:
    if _BIG:
        values.byteswap()
    return values.tobytes()


def pack_counts(counts: Mapping[int, int]) -> bytes:
    """Pack {line: count} into a blob."""
    lines = sorted(counts)
    header = array("I", [len(lines)])
    return (
        bytes([_COUNTS_V1])
        + _le(header)
        + _le(array("I", lines))
        + _le(array("Q", [counts[line] for line in lines]))
    )


def unpack_counts(blob: bytes) -> dict[int, int]:
    """Unpack a blob made by pack_counts; ValueError if it is malformed."""
    lines, counts = counts_parts(blob)
    return dict(zip(line_numbers(lines), counts, strict=True))


def counts_parts(blob: bytes) -> tuple[bytes, array[int]]:
    """A counts blob's line numbers, still packed (equal bytes: the same lines), and its
    counts; ValueError if the blob is malformed."""
    if not blob or blob[0] != _COUNTS_V1 or len(blob) < 5:
        raise ValueError("not a tally counts blob (version 1)")
    n = int.from_bytes(blob[1:5], "little")
    if len(blob) != 5 + 12 * n:
        raise ValueError(f"counts blob holds {len(blob)} bytes, expected {5 + 12 * n}")
    counts = array("Q")
    counts.frombytes(blob[5 + 4 * n :])
    if _BIG:
        counts.byteswap()
    return blob[5 : 5 + 4 * n], counts


def line_numbers(packed: bytes) -> array[int]:
    """The line numbers of counts_parts()."""
    lines = array("I")
    lines.frombytes(packed)
    if _BIG:
        lines.byteswap()
    return lines
