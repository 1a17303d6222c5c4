"""AI Town's ``world:*`` functions: world state, descriptions, joining, inputs, heartbeats."""

from __future__ import annotations

import secrets
import time
from typing import Any

from smalltown.runtime import ConvexError, caller_query, mutation, query
from smalltown.store import Range, Transaction
from smalltown.town.agent.plan import agent_plan
from smalltown.worlds.inputs import HUMAN_INPUTS, check_owner, insert_input
from smalltown.worlds.parts import read_entry, read_world, world_document
from smalltown.worlds.usage import world_usage
from smalltown.worlds.view import conversations_view, player_view, roster_view, world_view

PAST_CONVERSATIONS = 5
RECENT_MEMORIES = 8
#: the looks a guest joining from AI Town's page gets one of: the sprite names its page
#: draws (our sheet has these columns too)
GUEST_CHARACTERS = tuple(f"f{n}" for n in range(1, 9))
#: players joined by sync sessions (no token) a world holds at once, as AI Town caps humans
MAX_GUESTS = 8


async def _status(db, world_id: str) -> dict[str, Any]:
    status = await db.first("worldStatus", "worldId", eq={"worldId": world_id})
    if status is None:
        raise ConvexError(f"no world {world_id!r}")
    return status


@query
async def defaultWorldStatus(ctx) -> dict[str, Any] | None:
    return await ctx.db.first("worldStatus", "isDefault", eq={"isDefault": True})


@query
async def worldState(ctx, worldId: str) -> dict[str, Any]:
    status = await _status(ctx.db, worldId)
    world = await read_world(ctx.db, worldId)
    engine = await ctx.db.get(status["engineId"], table="engines")
    return {"world": world, "engine": engine}


@query
async def worldView(ctx, worldId: str) -> dict[str, Any]:
    """The world as the page draws it; unchanged across steps where nothing visible is."""
    await _status(ctx.db, worldId)
    return world_view(await world_document(ctx.db, worldId, ("players", "agents", "conversations")))


@query
async def worldRoster(ctx, worldId: str) -> dict[str, Any]:
    """Who is here and which of them are agents: changes when people come or go."""
    await _status(ctx.db, worldId)
    return roster_view(await world_document(ctx.db, worldId, ("players", "agents")))


@query
async def worldConversations(ctx, worldId: str) -> list[dict[str, Any]]:
    """The live conversations: who is invited, walking over or talking, and who types."""
    await _status(ctx.db, worldId)
    return conversations_view(await world_document(ctx.db, worldId, ("conversations",)))


@query
async def playerView(ctx, worldId: str, playerId: str) -> dict[str, Any] | None:
    """One player as the page draws it (null once they left): changes when they set off,
    arrive, or take up an activity — not while they walk."""
    await _status(ctx.db, worldId)
    player = await read_entry(ctx.db, worldId, "players", playerId)
    return None if player is None else player_view(player)


@query
async def worldClock(ctx, worldId: str) -> dict[str, float]:
    """The game time of the last step, which the page runs its own clock from."""
    status = await _status(ctx.db, worldId)
    engine = await ctx.db.get(status["engineId"], table="engines")
    return {"currentTime": engine["currentTime"]}


@query
async def listWorlds(ctx) -> list[dict[str, Any]]:
    """Every world and its status, for the page's world selector and banners (without the
    heartbeat's timestamp, so viewers are not sent a new list each time someone watches)."""
    fields = ("worldId", "engineId", "status", "isDefault")
    health = {h["worldId"]: h for h in await ctx.db.query("smalltownWorldHealth")}
    out = []
    for status in await ctx.db.query("worldStatus"):
        row = {k: status[k] for k in fields if status.get(k) is not None}
        silent = health.get(status["worldId"], {})
        if silent.get("llmError"):
            row["smalltownLlmError"] = silent["llmError"]
        if silent.get("llmBudget"):
            row["smalltownLlmBudget"] = silent["llmBudget"]
        out.append(row)
    return out


@query
async def llmUsage(ctx, worldId: str) -> dict[str, Any]:
    """The world's LLM calls, failures, tokens in and out, p50/p99 latency and estimated
    cost, this clock hour and over the last 24 hours, with its hourly token budget
    (``SMALLTOWN_LLM_TOKENS_PER_HOUR``, as this server has it) and what is left."""
    await _status(ctx.db, worldId)
    budget = ctx.extensions.get("llm_tokens_per_hour")  # the worlds service's
    return await world_usage(ctx.db, worldId, time.time(), budget)


@query
async def playerDetails(ctx, worldId: str, playerId: str) -> dict[str, Any]:
    """What the details panel shows beyond the live world: a player's last conversations
    with their words, and (for an agent) what it remembers most recently and today's plan
    (None when it has none)."""
    await _status(ctx.db, worldId)
    names = {
        d["playerId"]: d["name"]
        for d in await ctx.db.query("playerDescriptions", "worldId", eq={"worldId": worldId})
    }
    edges = await ctx.db.query(
        "participatedTogether", "conversation", eq={"worldId": worldId, "player1": playerId}
    )
    edges.sort(key=lambda e: e["ended"], reverse=True)
    # A group's conversation has an edge per other member: one row for it, naming all.
    others: dict[str, list[str]] = {}
    latest = []
    for edge in edges:
        if edge["conversationId"] not in others:
            latest.append(edge)
        others.setdefault(edge["conversationId"], []).append(edge["player2"])
    past = []
    for edge in latest[:PAST_CONVERSATIONS]:
        messages = await ctx.db.query(
            "messages",
            "conversationId",
            eq={"worldId": worldId, "conversationId": edge["conversationId"]},
        )
        past.append(
            {
                "id": edge["conversationId"],
                "with": " and ".join(
                    sorted(names.get(p, p) for p in others[edge["conversationId"]])
                ),
                "ended": edge["ended"],
                "messages": [
                    {"authorName": names.get(m["author"], m["author"]), "text": m["text"]}
                    for m in messages
                ],
            }
        )
    memories = await ctx.db.query(
        "memories", "playerId", eq={"playerId": playerId}, order="desc", limit=RECENT_MEMORIES
    )
    return {
        "pastConversations": past,
        "plan": await agent_plan(ctx.db, worldId, playerId),
        "memories": [
            {
                "description": m["description"],
                "importance": m["importance"],
                "kind": m["data"]["type"],
                "created": m["_creationTime"],
            }
            for m in memories
        ],
    }


@query
async def gameDescriptions(ctx, worldId: str) -> dict[str, Any]:
    """The map and who everyone is. A map's URLs on this server (``/assets/...``) are
    given whole (``SMALLTOWN_PUBLIC_URL``), so a page served elsewhere, AI Town's, finds
    its tiles here."""
    await _status(ctx.db, worldId)
    world_map = await ctx.db.first("maps", "worldId", eq={"worldId": worldId})
    if world_map is not None:
        world_map = {**world_map, "tileSetUrl": absolute(ctx, world_map["tileSetUrl"])}
    players = await ctx.db.query("playerDescriptions", "worldId", eq={"worldId": worldId})
    agents = await ctx.db.query("agentDescriptions", "worldId", eq={"worldId": worldId})
    return {"worldMap": world_map, "playerDescriptions": players, "agentDescriptions": agents}


def absolute(ctx, url: str) -> str:
    """``url`` made whole against this server's public URL when it is a path on it."""
    base = ctx.extensions.get("public_url")
    return f"{base.rstrip('/')}{url}" if base and url.startswith("/") else url


@caller_query
async def userStatus(ctx, worldId: str) -> str | None:
    """Who the caller plays as (the ``human`` of their player once joined): their token's
    identifier, or their sync session's (AI Town's page signs nobody in)."""
    caller = ctx.auth.caller()
    return None if caller is None else caller.subject


@mutation
async def joinWorld(
    ctx,
    worldId: str,
    name: str | None = None,
    character: str | None = None,
    description: str = "",
) -> dict[str, Any] | str:
    """Join as a new player.

    With a name (smalltown's page): a new identity, and the token that alone acts for it
    afterwards, with the input's id. With ``worldId`` alone (AI Town's page, which signs
    nobody in): the caller joins as who they are (``userStatus``), with a guest's name and
    look, and the input's id is the answer, as AI Town's is.
    """
    status = await _status(ctx.db, worldId)
    if name is None:
        return await _join_as_caller(ctx, status)
    name = name.strip()
    if not name or len(name) > 32:
        raise ConvexError("choose a name of 1 to 32 characters")
    if character is None:
        raise ConvexError("choose a character to join with a name")
    user = ctx.auth.user()
    identifier = user.subject if user else f"human:{secrets.token_hex(8)}"
    input_id = await insert_input(
        ctx.db,
        status["engineId"],
        "join",
        {
            "tokenIdentifier": identifier,
            "name": name,
            "character": character,
            "description": description or f"{name} is a visitor, played by a person.",
        },
    )
    return {
        "inputId": input_id,
        "token": ctx.auth.mint_token(identifier),
        "tokenIdentifier": identifier,
    }


async def _join_as_caller(ctx, status: dict[str, Any]) -> str:
    caller = ctx.auth.caller()
    if caller is None:
        raise ConvexError("joining needs a sync connection or a token; open the town's page")
    if caller.kind == "session" and await _guests(ctx.db, status) >= MAX_GUESTS:
        raise ConvexError(f"this world has its {MAX_GUESTS} guests already; try again later")
    name = f"Guest {caller.subject[-4:].upper()}"
    return await insert_input(
        ctx.db,
        status["engineId"],
        "join",
        {
            "tokenIdentifier": caller.subject,
            "name": name,
            "character": secrets.choice(GUEST_CHARACTERS),
            "description": f"{name} is a visitor, played by a person.",
        },
    )


async def _guests(db: Transaction, status: dict[str, Any]) -> int:
    """Players of sync sessions in the world, and guests' joins not taken yet."""
    world = await read_world(db, status["worldId"], ("players",))
    engine = await db.get(status["engineId"], table="engines")
    playing = sum(
        1 for p in (world or {}).get("players", []) if p.get("human", "").startswith("guest:")
    )
    waiting = await db.query(
        "inputs",
        "byInputNumber",
        eq={"engineId": status["engineId"]},
        range=Range("number", gt=(engine or {}).get("processedInputNumber", -1.0)),
    )
    return playing + sum(
        1
        for i in waiting
        if i["name"] == "join" and str(i["args"].get("tokenIdentifier", "")).startswith("guest:")
    )


@mutation
async def sendWorldInput(ctx, engineId: str, name: str, args: dict[str, Any]) -> str:
    status = await ctx.db.first("worldStatus", "engineId", eq={"engineId": engineId})
    if name not in HUMAN_INPUTS and not ctx.auth.is_admin:
        raise ConvexError(f"input {name!r} cannot be sent from outside")
    if status is None:
        raise ConvexError(f"no world runs engine {engineId!r}")
    await check_owner(ctx.db, status["worldId"], ctx.auth.identity, args)
    return await insert_input(ctx.db, engineId, name, args)


@mutation
async def leaveWorld(ctx, worldId: str) -> str | None:
    """The caller's player leaves (their input's id), or null if they have none."""
    caller = ctx.auth.caller()
    if caller is None:
        raise ConvexError("join the world first: nobody to take out of it")
    status = await _status(ctx.db, worldId)
    world = await world_document(ctx.db, worldId, ("players",))
    for player in world["players"]:
        if player.get("human") == caller.subject:
            return await insert_input(
                ctx.db, status["engineId"], "leave", {"playerId": player["id"]}
            )
    return None


@mutation
async def heartbeatWorld(ctx, worldId: str) -> None:
    """Viewers call this while watching; a world nobody views goes to sleep."""
    status = await _status(ctx.db, worldId)
    fields: dict[str, Any] = {"lastViewed": time.time() * 1000}
    if status["status"] == "inactive":
        fields["status"] = "running"
    await ctx.db.patch(status["_id"], fields)


@query
async def previousConversation(ctx, worldId: str, playerId: str) -> dict[str, Any] | None:
    """The player's most recent ended conversation in which something was said, if any
    (AI Town's shape: one where nobody spoke is passed over, as its page shows words)."""
    rows = await ctx.db.query(
        "participatedTogether", "conversation", eq={"worldId": worldId, "player1": playerId}
    )
    for row in sorted(rows, key=lambda r: r["ended"], reverse=True):
        found = await ctx.db.first(
            "archivedConversations", "worldId", eq={"worldId": worldId, "id": row["conversationId"]}
        )
        if found is not None and found.get("numMessages", 0) > 0:
            return found
    return None
