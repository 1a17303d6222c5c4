"""JSON from clients (HTTP bodies, sync frames), parsed within bounds or refused with why.

Python's parser recurses once per level of nesting, so ``[`` a hundred thousand times
raises RecursionError, and a document just under that limit crashes whatever walks it
next (argument decoding, the store's checks, the reply's encoder). It also turns an
escape naming half of a surrogate pair (``"\\ud800"``) into a string that cannot be
written back out as UTF-8, so the first reply or log line that echoes it fails. Both are
refused here, at the edge, as :class:`BadJson` with a sentence a client can act on.
"""

from __future__ import annotations

import json
import re
from typing import Any

#: The deepest nesting accepted, counting the outermost container as 1: the store keeps
#: values nested up to 64 levels, and a message wraps its value in a few of its own
#: (frame, modification list, modification, args list).
MAX_DEPTH = 80

# An escape of a surrogate (\uD800-\uDFFF) in JSON text, or a raw surrogate in a str. A
# match only means the parsed strings must be checked: a paired escape is fine text.
_SURROGATE_HINT = re.compile(r"\\u[dD][89abcdefABCDEF]|[\ud800-\udfff]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


class BadJson(ValueError):
    """Not acceptable JSON; the message completes "the body …" or "a message that …"."""


def loads(data: str | bytes | bytearray) -> Any:
    """The parsed document, or :class:`BadJson`."""
    if isinstance(data, (bytes, bytearray)):
        try:
            text = bytes(data).decode(json.detect_encoding(data))
        except UnicodeDecodeError as exc:
            raise BadJson(f"is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    else:
        text = data
    try:
        value = json.loads(text)
    except RecursionError:
        raise BadJson(f"is nested more than {MAX_DEPTH} levels deep") from None
    except ValueError as exc:
        raise BadJson(f"is not JSON: {exc}") from None
    deep = text.count("[") + text.count("{") > MAX_DEPTH
    odd_text = _SURROGATE_HINT.search(text) is not None
    if deep or odd_text:
        _check(value)
    return value


def _check(value: Any) -> None:
    """Walk the document without recursion: its depth, and every string and key."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            _check_text(item)
        elif isinstance(item, (list, dict)):
            if depth > MAX_DEPTH:
                raise BadJson(f"is nested more than {MAX_DEPTH} levels deep")
            if isinstance(item, dict):
                for key in item:
                    _check_text(key)
                stack.extend((inner, depth + 1) for inner in item.values())
            else:
                stack.extend((inner, depth + 1) for inner in item)


def _check_text(text: str) -> None:
    found = _SURROGATE.search(text)
    if found is not None:
        raise BadJson(
            f"has a string holding half of a surrogate pair (\\u{ord(found.group()):04x}), "
            "which is not text"
        )
