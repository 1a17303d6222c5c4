"""``characters:choosable``: the looks a person may pick on the page's join form.

The looks are the default residents' sprites (``defaults.CHARACTERS``), each once; the label
says what the sprite looks like, since the name belongs to the resident who wears it.
"""

from __future__ import annotations

from smalltown.runtime import query
from smalltown.town.defaults import CHARACTERS

LABELS = {"f1": "blue", "f2": "baker", "f3": "green", "f4": "red", "f5": "yellow"}


@query
async def choosable(ctx) -> list[dict[str, str]]:
    """``[{"character": "f1", "label": "blue"}, ...]`` in the residents' order."""
    looks = dict.fromkeys(c["character"] for c in CHARACTERS)
    return [{"character": look, "label": LABELS.get(look, look)} for look in looks]
