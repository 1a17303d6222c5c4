"""``music:getBackgroundMusic``: what AI Town's Music button plays, the town's own tune
(``assets/town-tune.wav``, composed by ``scripts/make_tune.py``), as a whole URL so a page
served elsewhere finds it here."""

from __future__ import annotations

from smalltown.runtime import query
from smalltown.town.world import absolute

TUNE = "/assets/town-tune.wav"


@query
async def getBackgroundMusic(ctx) -> str:
    return absolute(ctx, TUNE)
