"""A uniform snapshot line's body, kept as the text it already is.

Export JSON and the stored JSON (``store/values.py``) agree on almost everything: Int64 a
bare integer, Float64 a number with a decimal point, ``$float``/``$bytes`` objects. So once
a line has parsed, its text minus ``_id`` and ``_creationTime`` is the body's stored JSON,
and encoding the parsed value again (an embedding's thousand floats, costly) is skipped.

Where they differ, or where the text could mean something else to another JSON engine,
the caller encodes the parsed value as usual: numbers with an exponent and ``-0.0`` (which
PostgreSQL's JSONB turns into an integer or ``0``), ``NaN``/``Infinity`` literals, typed
objects (``$integer`` is not a stored form), escapes (``\\u005fid`` spells ``_id``) and keys
starting with ``_`` (``_id`` twice). The checks look at bytes: numbers only between strings,
escapes and key prefixes anywhere, so a string that merely starts like a key costs the
fallback and nothing else.
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
# A number's exponent always follows a digit: digits and E become 0 and e, and "0e" is
# looked for (text has far more e's than "digit, then e").
_DIGITS_AND_E = bytes.maketrans(b"123456789E", b"000000000e")
_SHORT = 2048
# Bytes are searched with find(), not ``in``: CPython's ``part in data`` first tries ``part``
# as an integer and builds, then drops, a TypeError, at ten times the search's own cost.


def body_text(line: bytes) -> str | None:
    """The stored JSON of the body of ``line`` (export JSON of one document that has
    already parsed), or None when it must be encoded from the parsed value."""
    found = _SYSTEM_PREFIX.match(line)
    if found is None:
        return None
    rest = line[found.end() :]
    if found.group(1) == b"}":
        return "{}" if not rest.strip() else None
    if (
        rest.find(b"\\") >= 0  # an escape
        or (rest.find(b"$") >= 0 and rest.find(b'"$') >= 0)  # a typed object
        or (rest.find(b"_") >= 0 and rest.find(b'"_') >= 0)  # a key such as "_id" again
    ):
        return None  # (a byte is found at memory speed, two only after it)
    if (
        len(rest) < _SHORT
        and rest.find(b"NaN") < 0
        and rest.find(b"Infinity") < 0
        and rest.translate(_DIGITS_AND_E).find(b"0e") < 0
        and not (rest.find(b"-0") >= 0 and _NEGATIVE_ZERO.search(rest))
    ):
        return "{" + rest.decode().strip()  # nothing that even looks like a number to refuse
    # Something looks like one, or the line is long. With no escape, every quote opens or
    # closes a string, so what lies between strings is the line's structure and numbers:
    # look there alone, and a look-alike in text (a hex id's "3e8") costs nothing. Outside
    # strings valid JSON has no capital but an exponent's E, and an "e" is an exponent's
    # when a digit or sign follows it (not true's or false's).
    numbers = b"".join(rest.split(b'"')[::2])
    if (
        numbers.find(b"N") >= 0  # NaN
        or numbers.find(b"I") >= 0  # Infinity
        or numbers.find(b"E") >= 0
        or _followed(numbers, b"e", _EXPONENT_NEXT)
        or (numbers.find(b"-") >= 0 and _NEGATIVE_ZERO.search(numbers))
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
