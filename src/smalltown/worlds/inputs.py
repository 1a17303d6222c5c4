"""Queuing inputs for a world's engine, and who may send which."""

from __future__ import annotations

import time
from typing import Any

from smalltown.runtime import ConvexError, Identity
from smalltown.store import Transaction
from smalltown.worlds.parts import read_entry
from smalltown.worlds.turns import turn_hints

#: inputs a person sends for the player they play (checked against their token)
HUMAN_INPUTS = frozenset(
    {
        "moveTo",
        "startConversation",
        "acceptInvite",
        "rejectInvite",
        "leaveConversation",
        "joinConversation",
        "startTyping",
        "finishSendingMessage",
        "leave",
    }
)


#: each engine's last input number (``engineId``, ``last``)
COUNTERS = "smalltownInputCounters"


async def insert_input(db: Transaction, engine_id: str, name: str, args: dict[str, Any]) -> str:
    """Append an input to the engine's log, numbered after the last one.

    The number comes from the engine's row in ``smalltownInputCounters``, which only
    writers of inputs touch. Read from the last input itself, it made inputs written
    while a step ran conflict with the step (which marks the inputs it took) under
    serializable isolation: most of agents' answers were written twice in a busy town."""
    counter = await db.first(COUNTERS, "engineId", eq={"engineId": engine_id})
    number = counter["last"] + 1 if counter is not None else await _next_number(db, engine_id)
    input_id = await db.insert(
        "inputs",
        {
            "engineId": engine_id,
            "number": float(number),
            "name": name,
            "args": args,
            "received": float(_now_ms()),
        },
    )
    if counter is None:
        await db.insert(COUNTERS, {"engineId": engine_id, "last": float(number)})
    else:
        await db.patch(counter["_id"], {"last": float(number)})
    return input_id


async def _next_number(db: Transaction, engine_id: str) -> float:
    """The next input number of an engine with no counter yet (imported from AI Town, or
    made before counters): after its last input, and after all it has taken (its old
    inputs may have been pruned)."""
    last = await db.first("inputs", "byInputNumber", eq={"engineId": engine_id}, order="desc")
    engine = await db.get(engine_id, table="engines")
    taken = (engine or {}).get("processedInputNumber", -1.0)
    return max(last["number"] if last else -1.0, taken) + 1.0


async def check_owner(db: Transaction, world_id: str, identity: Identity, args: dict) -> None:
    """Only the person playing a player may act for it: the holder of the token
    ``joinWorld`` gave, or the sync session that joined (``runtime/auth.py``)."""
    if identity.kind == "admin":
        return
    if identity.kind not in ("user", "session"):
        raise ConvexError("join the world first: this needs the token joinWorld gave you")
    player_id = args.get("playerId")
    player = await read_entry(db, world_id, "players", player_id)
    if player is None:
        raise ConvexError(f"no player {player_id!r} in this world")
    if player.get("human") != identity.subject:
        raise ConvexError(f"player {player_id} is not yours")


async def check_participant(
    db: Transaction, world_id: str, conversation_id: str, player_id: str
) -> None:
    """Only a conversation's participants write into it: its words go into the other
    participants' prompts, so a stranger's line there would speak to their agents. Read
    from the world as it is now, in the caller's transaction."""
    conversation = await read_entry(db, world_id, "conversations", conversation_id)
    if conversation is None:
        raise ConvexError(f"no conversation {conversation_id!r} in this world")
    if not any(p["playerId"] == player_id for p in conversation["participants"]):
        raise ConvexError(f"player {player_id} is not in conversation {conversation_id}")


def _now_ms() -> float:
    return time.time() * 1000


async def record_message(
    db: Transaction,
    world_id: str,
    conversation_id: str,
    message_uuid: str,
    author: str,
    text: str,
    finish: tuple[str, dict[str, Any]],
    hints: dict[str, Any] | None = None,
) -> None:
    """Write a message's words and, in the same transaction, the input that tells the
    engine it was sent (``finish``: the input's name and its extra arguments; in a group,
    with whose turn the line suggests, ``turns.py``: ``hints`` when the caller worked them
    out already, outside this transaction, which then reads nothing a step writes)."""
    status = await db.first("worldStatus", "worldId", eq={"worldId": world_id})
    if status is None:
        raise ConvexError(f"no world {world_id!r}")
    await db.insert(
        "messages",
        {
            "worldId": world_id,
            "conversationId": conversation_id,
            "messageUuid": message_uuid,
            "author": author,
            "text": text,
        },
    )
    name, extra = finish
    if hints is None:
        hints = await turn_hints(db, world_id, conversation_id, author, text)
    await insert_input(
        db,
        status["engineId"],
        name,
        {"conversationId": conversation_id, "messageUuid": message_uuid, **extra, **hints},
    )
