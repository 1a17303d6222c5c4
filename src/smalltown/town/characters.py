"""``characters:choosable``: the looks a person may pick on the page's join form;
``characters:sheets``: the sprite sheets an imported world's residents are drawn with; and
``characters:animatedSprites``: the animated sprites smalltown's page draws on a map.

The looks are the default residents' sprites (``defaults.CHARACTERS``), each once; the label
says what the sprite looks like, since the name belongs to the resident who wears it.
"""

from __future__ import annotations

from typing import Any

from smalltown.runtime import query
from smalltown.town.defaults import CHARACTERS, fountain_sprays

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
async def animatedSprites(ctx, worldId: str) -> list[dict[str, Any]]:
    """``[{"x", "y", "w", "h", "layer", "sheet": "/api/storage/...", "animation"}, ...]``:
    the animated sprites smalltown's page draws on a world's map, each sheet by its URL.

    A map holds only sheets AI Town's page knows (its ``animatedSprites``, by name): an
    imported map's, named as in the checkout, are drawn from where the import stored them;
    the town's fountain, which AI Town's page draws at rest from the tile set, gets its
    water here."""
    world_map = await ctx.db.first("maps", "worldId", eq={"worldId": worldId})
    if world_map is None:
        return []
    found = await ctx.db.first("smalltownImports", "worldId", eq={"worldId": worldId})
    stored = {s["sheet"]: s["url"] for s in (found or {}).get("spriteSheets", [])}
    sprites = [
        {**sprite, "sheet": stored.get(sprite["sheet"]) or _served(sprite["sheet"])}
        for sprite in world_map.get("animatedSprites", [])
    ]
    return sprites + fountain_sprays(world_map)


def _served(sheet: str) -> str:
    """A sheet named by the map: a URL as it is, a bare name among the town's assets."""
    return sheet if sheet.startswith("/") or "://" in sheet else f"/assets/{sheet}"
