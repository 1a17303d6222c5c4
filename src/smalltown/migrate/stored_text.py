"""A uniform snapshot line's body, kept as the text it already is.

Export JSON and the stored JSON (``store/values.py``) agree on almost everything: Int64 a
bare integer, Float64 a number with a decimal point, ``$float``/``$bytes`` objects. So once
a line has parsed, its text minus ``_id`` and ``_creationTime`` is the body's stored JSON,
and encoding the parsed value again (an embedding's thousand floats, costly) is skipped.

Where they differ, or where the text could mean something else to another JSON engine,
the caller encodes the parsed value as usual: numbers with an exponent and ``-0.0`` (which
PostgreSQL's JSONB turns into an integer or ``0``), ``NaN``/``Infinity`` literals, typed
objects (``$integer`` is not a stored form), escapes (``\\u005fid`` spells ``_id``) and keys
starting with ``_`` (``_id`` twice). The checks look at bytes, not tokens, so a string that
merely contains such text costs the fallback and nothing else.
"""

from __future__ import annotations

import re

_ID = rb'"_id"\s*:\s*"[0-9a-z]*"'
_CT = rb'"_creationTime"\s*:\s*-?[0-9][0-9.eE+-]*'
_SYSTEM_PREFIX = re.compile(
    rb"\s*\{\s*(?:" + _ID + rb"\s*,\s*" + _CT + rb"|" + _CT + rb"\s*,\s*" + _ID + rb")\s*([,}])"
)
_NEGATIVE_ZERO = re.compile(rb"-0\.0*(?![0-9])")
_EXPONENT_NEXT = b"0123456789+-"
_DIGITS_AND_E = bytes.maketrans(b"123456789E", b"000000000e")
_SHORT = 2048


def body_text(line: bytes) -> str | None:
    """The stored JSON of the body of ``line`` (export JSON of one document that has
    already parsed), or None when it must be encoded from the parsed value."""
    found = _SYSTEM_PREFIX.match(line)
    if found is None:
        return None
    rest = line[found.end() :]
    if found.group(1) == b"}":
        return "{}" if not rest.strip() else None
    if len(rest) < _SHORT:
        # One pattern with alternatives is tried at every byte (some 10 µs a line); these
        # substring tests each run at memory speed. A number's exponent always follows a
        # digit, and text has far more e's than "digit, then e" (a pattern for that alone
        # still took 3 µs), so digits and E are mapped to 0 and e, and "0e" looked for.
        if (
            b"\\" in rest
            or b"$" in rest
            or b'"_' in rest
            or b"NaN" in rest
            or b"Infinity" in rest
            or (b"-0" in rest and _NEGATIVE_ZERO.search(rest))
            or b"0e" in rest.translate(_DIGITS_AND_E)
        ):
            return None
    elif (
        # The same, for a long line (an embedding): one-byte searches run at memory
        # speed, so two-byte patterns are found from their rarer first byte.
        b"\\" in rest
        or b"$" in rest
        or _NEGATIVE_ZERO.search(rest)
        or _followed(rest, b"e", _EXPONENT_NEXT)
        or _followed(rest, b"E", _EXPONENT_NEXT)
        or _followed(rest, b"N", b"a")  # NaN
        or _followed(rest, b"I", b"n")  # Infinity
        or _followed(rest, b'"', b"_")  # a key such as "_id" again
    ):
        return None
    return "{" + rest.decode().strip()


def _followed(text: bytes, first: bytes, then: bytes) -> bool:
    """Whether ``first`` occurs in ``text`` followed by any byte of ``then``."""
    at = text.find(first)
    while at != -1:
        if at + 1 < len(text) and text[at + 1] in then:
            return True
        at = text.find(first, at + 1)
    return False
