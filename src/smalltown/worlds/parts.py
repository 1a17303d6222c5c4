"""A world stored as parts, so that a step writes what changed rather than the whole world.

AI Town keeps a world as one ``worlds`` document: ``nextId`` and lists of players, agents,
conversations and each walker's packed ``historicalLocations``. Rewritten every step, a
town of a thousand is most of a megabyte a second. smalltown keeps the same world as rows
of ``smalltownWorldParts``: ``kind`` and ``key`` (an id) name a part, ``rank`` is its place
in its list, ``value`` the entry as AI Town's document has it. A player's row holds it
without its ``pathfinding`` (a part of its own, written when a walk is planned) and with
its last step's packed ``location``, both of which change every step of a walk; one row
holds ``nextId``, and one each piece of bookkeeping (when a pair last talked, a group's
turn-taking, a resident's plan), and one each an index: which agent a player is
(``agentOf``). A step writes the parts that changed and deletes those gone; the ``worlds``
row then only says that the world lives in parts (``smalltownParts``).

Readers get AI Town's document assembled (:func:`read_world`), or only the lists they use,
or one entry (:func:`read_entry`, :func:`read_agent_of`, :func:`read_plan`): a live query
then depends on those rows alone, so a player's view is not re-run when someone else moves,
and an agent's operation reads its own few rows in a town of a thousand. A world whose
``worlds`` row holds a whole document (imported from AI Town or a snapshot, or made before
parts) is read from that row, with its bookkeeping in ``smalltownWorlds`` (``recentPairs``,
``plans``); any parts it has are stale, and its next step stores it as parts. An export
writes every world whole again (:class:`WorldsExport`), so AI Town, or smalltown, can
import it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from smalltown.runtime import ConvexError
from smalltown.store import Transaction

TABLE = "smalltownWorldParts"
INDEX = "part"  # worldId, kind, key
#: the ``worlds`` row's one field once the world is stored as parts
MARKER = "smalltownParts"
OWN = "smalltownWorlds"

#: AI Town's lists in a ``worlds`` document: the kind of part an entry is, and its key field
LISTS: dict[str, tuple[str, str]] = {
    "players": ("player", "id"),
    "agents": ("agent", "id"),
    "conversations": ("conversation", "id"),
}
NEXT_ID = "nextId"  # the kind, and the document's field, of the id counter
LOCATIONS = "historicalLocations"  # kept in the players' rows (``location``)
PATH = "path"  # a player's ``pathfinding``, by player id
#: the document's fields in its order; what a reader gets unless it names fewer
FIELDS = (NEXT_ID, *LISTS, LOCATIONS)
#: the kinds of part each field is made of
SOURCES: dict[str, tuple[str, ...]] = {
    NEXT_ID: (NEXT_ID,),
    "players": ("player", PATH),
    "agents": ("agent",),
    "conversations": ("conversation",),
    LOCATIONS: ("player",),
}
#: bookkeeping (``World.to_document(bookkeeping=True)``): its lists and their kinds
PAIRS, PLANS = "smalltownRecentPairs", "smalltownPlans"
AGENT_OF = "agentOf"  # by player id: the id of the agent that player is
KINDS = (NEXT_ID, "player", PATH, "agent", "conversation", "pair", "turns", "plan", AGENT_OF)
#: what a part row holds beyond its name and rank
CONTENT = ("value", "location")

Rows = dict[str, list[dict[str, Any]]]  # a world's part rows by kind, in their order
Content = dict[str, Any]  # a part's ``CONTENT`` fields


def is_split(row: dict[str, Any] | None) -> bool:
    """Whether a ``worlds`` row says its world is stored as parts."""
    return row is not None and row.get(MARKER) is True


async def _rows(db: Transaction, world_id: str, kinds: Iterable[str] | None = None) -> Rows:
    """The world's part rows of ``kinds`` (None: all), by kind, in their order."""
    if kinds is None:
        found = await db.query(TABLE, INDEX, eq={"worldId": world_id})
    else:
        found = []
        for kind in dict.fromkeys(kinds):
            found += await db.query(TABLE, INDEX, eq={"worldId": world_id, "kind": kind})
    out: Rows = {kind: [] for kind in KINDS}
    for row in sorted(found, key=lambda r: r["rank"]):
        out.setdefault(row["kind"], []).append(row)
    return out


def _player(value: dict[str, Any], path: dict[str, Any] | None) -> dict[str, Any]:
    """A player's entry from its part and its path's, fields in ``Player.to_doc``'s order."""
    if path is None:
        return value
    out: dict[str, Any] = {}
    for field, item in value.items():
        if field == "activity":
            out["pathfinding"] = path
        out[field] = item
    out.setdefault("pathfinding", path)
    return out


def _document(rows: Rows, fields: Iterable[str]) -> dict[str, Any]:
    """The document's ``fields`` from the world's part rows."""
    wanted, doc = set(fields), {}
    for field in FIELDS:
        if field not in wanted:
            continue
        if field == NEXT_ID:
            doc[NEXT_ID] = rows[NEXT_ID][0]["value"] if rows[NEXT_ID] else 0.0
        elif field == "players":
            paths = {row["key"]: row["value"] for row in rows[PATH]}
            doc[field] = [_player(row["value"], paths.get(row["key"])) for row in rows["player"]]
        elif field == LOCATIONS:
            located = [
                {"playerId": row["key"], "location": row["location"]}
                for row in rows["player"]
                if "location" in row
            ]
            if located:  # AI Town leaves it out when there is none
                doc[field] = located
        else:
            doc[field] = [row["value"] for row in rows[LISTS[field][0]]]
    return doc


async def read_world(
    db: Transaction, world_id: str, fields: Iterable[str] = FIELDS
) -> dict[str, Any] | None:
    """AI Town's ``worlds`` document of ``world_id`` (None: there is none), with the fields
    named (a whole stored document comes with all of them)."""
    row = await db.get(world_id, table="worlds")
    if row is None or not is_split(row):
        return row
    fields = tuple(fields)
    kinds = [kind for field in fields for kind in SOURCES[field]]
    document = _document(await _rows(db, world_id, kinds), fields)
    return {"_id": row["_id"], "_creationTime": row["_creationTime"], **document}


async def world_document(
    db: Transaction, world_id: str, fields: Iterable[str] = FIELDS
) -> dict[str, Any]:
    """:func:`read_world` of a world that must be there: a :class:`ConvexError` saying
    so otherwise."""
    found = await read_world(db, world_id, fields)
    if found is None:
        raise ConvexError(f"no world {world_id!r}")
    return found


async def read_entry(db: Transaction, world_id: str, field: str, key: Any) -> dict[str, Any] | None:
    """The entry of the world's list ``field`` (``players``, ...) whose id is ``key``
    (None: there is none; ids are strings)."""
    row = await db.get(world_id, table="worlds")
    if row is None or not isinstance(key, str):
        return None
    if not is_split(row):
        key_field = LISTS[field][1]
        return next((e for e in row.get(field, []) if e.get(key_field) == key), None)
    found = [
        await db.first(TABLE, INDEX, eq={"worldId": world_id, "kind": kind, "key": key})
        for kind in SOURCES[field]
    ]
    if found[0] is None:
        return None
    value: dict[str, Any] = found[0]["value"]
    return _player(value, found[1] and found[1]["value"]) if field == "players" else value


async def read_agent_of(db: Transaction, world_id: str, player_id: Any) -> dict[str, Any] | None:
    """The agent entry of the world whose player is ``player_id`` (None: none is)."""
    row = await db.get(world_id, table="worlds")
    if row is None or not isinstance(player_id, str):
        return None
    if not is_split(row):
        return next((a for a in row.get("agents", []) if a.get("playerId") == player_id), None)
    index = await db.first(
        TABLE, INDEX, eq={"worldId": world_id, "kind": AGENT_OF, "key": player_id}
    )
    if index is not None:
        return await read_entry(db, world_id, "agents", index["value"])
    if await db.first(TABLE, INDEX, eq={"worldId": world_id, "kind": AGENT_OF}) is not None:
        return None
    # Stored in parts before they had this index: it comes with the world's next step.
    agents = (await read_world(db, world_id, ("agents",)) or {}).get("agents", [])
    return next((a for a in agents if a.get("playerId") == player_id), None)


async def read_plan(db: Transaction, world_id: str, agent_id: str) -> dict[str, Any] | None:
    """One resident's plan (``Plan.to_doc()``; None: it has none)."""
    row = await db.get(world_id, table="worlds")
    if row is None or not is_split(row):
        return next((p for p in await read_plans(db, world_id) if p["agentId"] == agent_id), None)
    part = await db.first(TABLE, INDEX, eq={"worldId": world_id, "kind": "plan", "key": agent_id})
    return None if part is None else part["value"]


async def read_plans(db: Transaction, world_id: str) -> list[dict[str, Any]]:
    """The residents' plans (``Plan.to_doc()`` each), kept beside the world."""
    row = await db.get(world_id, table="worlds")
    if row is None:
        return []
    if is_split(row):
        return [part["value"] for part in (await _rows(db, world_id, ["plan"]))["plan"]]
    own = await db.first(OWN, "worldId", eq={"worldId": world_id})
    return list((own or {}).get("plans", row.get(PLANS, [])))


async def next_id(db: Transaction, row: dict[str, Any]) -> Any:
    """The id counter of the world whose ``worlds`` row is ``row``."""
    if not is_split(row):
        return row.get(NEXT_ID)
    return _document(await _rows(db, row["_id"], [NEXT_ID]), [NEXT_ID])[NEXT_ID]


@dataclass(frozen=True)
class Stored:
    """A world as loaded for a step: its whole document with bookkeeping (what
    ``World.from_document`` takes), the parts it is stored in, and whether its ``worlds``
    row still holds the whole document."""

    document: dict[str, Any]
    rows: dict[tuple[str, str], dict[str, Any]]
    whole: bool


async def load(
    tx: Transaction,
    world_id: str,
    own: dict[str, Any] | None = None,
    known: Stored | None = None,
) -> Stored | None:
    """The world ``world_id`` as stored (None: there is none); ``own`` its
    ``smalltownWorlds`` row, where a whole document keeps its bookkeeping. ``known``: its
    parts as the caller knows them to be stored (it saved them last), used as they are
    while the world is stored in parts."""
    row = await tx.get(world_id, table="worlds")
    if row is None:
        return None
    if known is not None and is_split(row):
        return known
    rows = await _rows(tx, world_id)
    by_key = {(part["kind"], part["key"]): part for kind in rows.values() for part in kind}
    if not is_split(row):
        document = {k: v for k, v in row.items() if not k.startswith("_")}
        if own is not None and "recentPairs" in own:
            document[PAIRS] = own["recentPairs"]
            document[PLANS] = own.get("plans", [])
        return Stored(document, by_key, whole=True)
    document = _document(rows, FIELDS)
    document[PAIRS] = [part["value"] for part in rows["pair"] + rows["turns"]]
    document[PLANS] = [part["value"] for part in rows["plan"]]
    return Stored(document, by_key, whole=False)


def split(document: dict[str, Any]) -> dict[str, list[tuple[str, Content]]]:
    """A whole document with bookkeeping as parts: by kind, ``(key, content)`` in order."""
    parts: dict[str, list[tuple[str, Content]]] = {kind: [] for kind in KINDS}
    parts[NEXT_ID].append(("", {"value": document.get(NEXT_ID, 0.0)}))
    located = {e["playerId"]: e["location"] for e in document.get(LOCATIONS, [])}
    for player in document.get("players", []):
        key = player["id"]
        content: Content = {"value": {k: v for k, v in player.items() if k != "pathfinding"}}
        if key in located:
            content["location"] = located[key]
        parts["player"].append((key, content))
        if "pathfinding" in player:
            parts[PATH].append((key, {"value": player["pathfinding"]}))
    for field in ("agents", "conversations"):
        kind, key_field = LISTS[field]
        parts[kind] = [(e[key_field], {"value": e}) for e in document.get(field, [])]
    parts[AGENT_OF] = [(a["playerId"], {"value": a["id"]}) for a in document.get("agents", [])]
    for entry in document.get(PAIRS, []):
        if "pair" in entry:
            parts["pair"].append((entry["pair"], {"value": entry}))
        else:
            parts["turns"].append((entry["conversation"], {"value": entry}))
    parts["plan"] = [(entry["agentId"], {"value": entry}) for entry in document.get(PLANS, [])]
    return parts


async def save(tx: Transaction, world_id: str, stored: Stored, document: dict[str, Any]) -> Stored:
    """Store ``document`` (a whole world with bookkeeping) as parts, writing only those
    that differ from ``stored``'s and deleting those it no longer has; the world as it is
    now stored.

    Each kind keeps its entries' order by ``rank``: an entry keeps its rank while it
    comes after the one before it (new entries come last), else it gets the next one."""
    left = dict(stored.rows)  # (``tx`` may be run again: ``stored`` stays as loaded)
    now: dict[tuple[str, str], dict[str, Any]] = {}
    for kind, entries in split(document).items():
        last = -math.inf
        for key, content in entries:
            old = left.pop((kind, key), None)
            if old is not None and old["rank"] > last:
                last = old["rank"]
                if {f: old[f] for f in CONTENT if f in old} == content:
                    now[kind, key] = old
                    continue
            else:
                last = 0.0 if last == -math.inf else last + 1
            fields = {"worldId": world_id, "kind": kind, "key": key, "rank": last, **content}
            if old is None:
                now[kind, key] = {"_id": await tx.insert(TABLE, fields), **fields}
            else:
                await tx.replace(old["_id"], fields)
                now[kind, key] = {"_id": old["_id"], **fields}
    for old in left.values():
        await tx.delete(old["_id"])
    if stored.whole:
        await tx.replace(world_id, {MARKER: True})
    return Stored(document, now, whole=False)


class WorldsExport:
    """How worlds leave in a snapshot (``smalltown export``): whole, in AI Town's shape,
    with their bookkeeping in ``smalltownWorlds`` as a whole document keeps it; the parts
    table stays behind."""

    omitted = frozenset({TABLE})

    async def documents(
        self, tx: Transaction, table: str, docs: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        if table == "worlds":
            return [await self._world(tx, doc) for doc in docs]
        if table == OWN:
            return [await self._own(tx, doc) for doc in docs]
        return docs

    @staticmethod
    async def _world(tx: Transaction, doc: dict[str, Any]) -> dict[str, Any]:
        if not is_split(doc):
            return doc
        return await read_world(tx, doc["_id"]) or doc

    @staticmethod
    async def _own(tx: Transaction, doc: dict[str, Any]) -> dict[str, Any]:
        if "worlds" not in tx.table_numbers or not isinstance(doc.get("worldId"), str):
            return doc
        row = await tx.get(doc["worldId"], table="worlds")
        if not is_split(row):
            return doc
        stored = await load(tx, doc["worldId"])
        assert stored is not None  # (its row was just read in this transaction)
        return {**doc, "recentPairs": stored.document[PAIRS], "plans": stored.document[PLANS]}


WORLDS_EXPORT = WorldsExport()
