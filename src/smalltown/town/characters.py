"""``characters:choosable``: the looks a person may pick on the page's join form;
``characters:sheets``: the sprite sheets an imported world's residents are drawn with; and
``characters:spriteSheets``: where its map's animated sprites' sheets are stored.

The looks are the default residents' sprites (``defaults.CHARACTERS``), each once; the label
says what the sprite looks like, since the name belongs to the resident who wears it.
"""

from __future__ import annotations

from typing import Any

from smalltown.runtime import query
from smalltown.town.defaults import CHARACTERS

LABELS = {"f1": "blue", "f2": "baker", "f3": "green", "f4": "red", "f5": "yellow"}


@query
async def choosable(ctx) -> list[dict[str, str]]:
    """``[{"character": "f1", "label": "blue"}, ...]`` in the residents' order."""
    looks = dict.fromkeys(c["character"] for c in CHARACTERS)
    return [{"character": look, "label": LABELS.get(look, look)} for look in looks]


@query
async def sheets(ctx, worldId: str) -> list[dict[str, Any]]:
    """``[{"character": "f1", "sheet": "/api/storage/...", "speed": 0.1}, ...]``: each
    character sprite of a world imported from an AI Town checkout (``smalltown aitown
    import``), its sheet (frames, animations ``left``/``right``/``up``/``down``, and the
    image) as a stored file; ``[]`` for a world drawn with the town's own sprites."""
    found = await ctx.db.first("smalltownImports", "worldId", eq={"worldId": worldId})
    return list(found["sheets"]) if found else []


@query
async def spriteSheets(ctx, worldId: str) -> list[dict[str, str]]:
    """``[{"sheet": "windmill.json", "url": "/api/storage/..."}, ...]``: where each sheet
    an imported world's map names (by the checkout's name, as AI Town's page knows it) is
    stored; ``[]`` for a world drawn with the town's own sprites."""
    found = await ctx.db.first("smalltownImports", "worldId", eq={"worldId": worldId})
    return list(found.get("spriteSheets", [])) if found else []
