"""Convex-format document ids, bit for bit.

An id is ``varint(table number) + 16-byte internal id + 2-byte Fletcher-16 footer``, written
in Convex's base32 alphabet. Being exact here is what lets ids from a Convex export stay valid
in smalltown and ids minted by smalltown be accepted by Convex.
"""

from __future__ import annotations

import os
import re
import time
from itertools import accumulate

from smalltown.store.errors import InvalidIdError

ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
_DECODE = {c: i for i, c in enumerate(ALPHABET)}
_IN_ALPHABET = re.compile(f"[{ALPHABET}]*")
INTERNAL_ID_LENGTH = 16
MIN_TABLE_NUMBER = 1
MAX_TABLE_NUMBER = 2**32 - 1
_VERSION = 0
_SECONDS_PER_DAY = 86_400


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _read_varint(data: bytes) -> tuple[int, int]:
    """Return (value, bytes consumed); raise ValueError when truncated or overlong."""
    value = 0
    for i, byte in enumerate(data[:5]):
        value |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            return value, i + 1
    raise ValueError("bad varint")


def fletcher16(data: bytes) -> int:
    """Fletcher-16 with both sums modulo 256, as Convex computes it. Reducing modulo 256
    once at the end gives the same sums, so C does the loops: the first sum is the bytes'
    sum, the second the sum of the running sums."""
    c0 = sum(data) & 0xFF
    c1 = sum(accumulate(data)) & 0xFF
    return (c1 << 8) | c0


def base32_encode(data: bytes) -> str:
    n = int.from_bytes(data, "big")
    bits = len(data) * 8
    length = -(-bits // 5)
    n <<= length * 5 - bits  # pad on the right to a whole number of 5-bit groups
    return "".join(ALPHABET[(n >> (5 * (length - 1 - i))) & 31] for i in range(length))


_AS_PYTHON_BASE32 = str.maketrans(ALPHABET, "0123456789abcdefghijklmnopqrstuv")


def base32_decode(text: str) -> bytes:
    """``int(..., 32)`` does the digit loop in C once the alphabet is mapped to Python's:
    an import decodes every id of a snapshot, twice."""
    if not _IN_ALPHABET.fullmatch(text):
        char = next(c for c in text if c not in _DECODE)
        raise ValueError(f"character {char!r} is not in the id alphabet")
    n = int(text.translate(_AS_PYTHON_BASE32), 32) if text else 0
    bits = len(text) * 5
    nbytes = bits // 8
    pad = bits - nbytes * 8
    if n & ((1 << pad) - 1):
        raise ValueError("non-zero padding bits")
    return (n >> pad).to_bytes(nbytes, "big")


def encode_id(table_number: int, internal_id: bytes) -> str:
    """Encode a Convex document id for ``table_number`` and a 16-byte ``internal_id``."""
    if not MIN_TABLE_NUMBER <= table_number <= MAX_TABLE_NUMBER:
        raise InvalidIdError(f"table number {table_number} is out of range")
    if len(internal_id) != INTERNAL_ID_LENGTH:
        raise InvalidIdError(
            f"internal id must be {INTERNAL_ID_LENGTH} bytes, got {len(internal_id)}"
        )
    body = _varint(table_number) + internal_id
    footer = fletcher16(body) ^ _VERSION
    return base32_encode(body + footer.to_bytes(2, "little"))


def decode_id(text: object) -> tuple[int, bytes]:
    """Decode an id into ``(table_number, internal_id)``.

    Strict, as Convex is: the checksum must match and re-encoding must give the same text,
    so one document has exactly one spelling.
    """
    if not isinstance(text, str):
        raise InvalidIdError(f"an id must be a string, got {type(text).__name__}")
    if not 10 <= len(text) <= 40:
        raise InvalidIdError(f"{text!r} is not a document id: wrong length {len(text)}")
    try:
        data = base32_decode(text)
        table_number, used = _read_varint(data)
    except ValueError as exc:
        raise InvalidIdError(f"{text!r} is not a document id: {exc}") from None
    internal_id = data[used:-2]
    if len(internal_id) != INTERNAL_ID_LENGTH or table_number < MIN_TABLE_NUMBER:
        raise InvalidIdError(f"{text!r} is not a document id: wrong layout")
    footer = int.from_bytes(data[-2:], "little") ^ _VERSION
    if footer != fletcher16(data[:-2]):
        raise InvalidIdError(f"{text!r} is not a document id: bad checksum")
    # Canonical (re-encoding gives the same text): the shortest varint, no spare character
    # (padding bits were checked zero) and a number that encode_id accepts.
    if (
        (used > 1 and data[used - 1] == 0)
        or len(text) != -(-len(data) * 8 // 5)
        or table_number > MAX_TABLE_NUMBER
    ):
        raise InvalidIdError(f"{text!r} is not a document id: not in canonical form")
    return table_number, internal_id


def new_internal_id(now: float | None = None) -> bytes:
    """14 random bytes and the day count since 1970, as Convex lays them out."""
    day = int((time.time() if now is None else now) // _SECONDS_PER_DAY)
    return os.urandom(14) + day.to_bytes(2, "big")


def table_number_of(text: str) -> int:
    return decode_id(text)[0]
