"""Parsing a uniform export line fast, with the standard parser's exact results.

orjson parses a line several times faster than the standard library (an embedding's
thousand floats above all) and agrees with it on what matters here: ``5`` is an int and
``5.0`` a float, ``-0.0`` keeps its sign, keys keep their order, the last of a repeated
key wins. Where the two differ, the line goes to the standard parser, so the result is
always exactly what ``json.loads`` gives:

- an integer beyond 64 bits, which orjson silently turns into a float (an Int64 that
  does not fit must be refused, not imported as a Float64). Such a literal is a run of at
  least 19 digits that no ``.`` comes just before; a line with one (which may just be a
  string of digits) takes the standard parser. Digits after a point do not count: small
  floats printed in full (``0.0023416446056216955``, a float32 vector's) have 19 of them;
- anything orjson refuses (``NaN``, ``1e400``, a lone surrogate escape, or simply bad
  JSON): the standard parser then reads it as it always has, or raises its own error.

Typed objects (``$float``, ``$bytes``, ``$integer``) are decoded by one walk afterwards,
only for a line that has a ``$`` at all.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

from smalltown.migrate.typed import decode_typed, typed_object

# Digits become 0, a point stays, every other byte becomes a space: an integer part of 19
# digits or more (2**63 has 19: shorter integers never overflow) is then " 000...".
_DIGITS = bytes(
    ord("0") if chr(b).isdigit() and b < 128 else b if b == ord(".") else ord(" ")
    for b in range(256)
)
_LONG_INTEGER = b" " + b"0" * 19


def parse_uniform(line: str | bytes) -> Any:
    """Export JSON: ``1`` is an Int64 and ``1.0`` a Float64, as the parser gives them;
    typed objects become their values."""
    data = line.encode() if isinstance(line, str) else line
    if data.translate(_DIGITS).find(_LONG_INTEGER) >= 0:  # (find: see stored_text.py)
        return _standard(data)
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        return _standard(data)
    return decode_typed(value) if data.find(b"$") >= 0 else value


def _standard(data: bytes) -> Any:
    return json.loads(data, object_hook=typed_object)
