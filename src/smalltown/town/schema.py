"""AI Town's tables, by name and shape, so its exports import without translation; and a
store opened with them, for the command line and tools."""

from smalltown.runtime.runtime import with_system_tables
from smalltown.store import Index, Schema, Store, Table, open_store
from smalltown.worlds.memory_index import memory_embeddings

#: the size a new memory index starts with (the offline MiniLM embedder's); an index the
#: database holds keeps its own size, and the worlds' service fits it to the embedder at start
#: (``worlds/memory_index.py``)
DEFAULT_EMBEDDING_DIMENSIONS = 384


def town_schema(embedding_dimensions: int = DEFAULT_EMBEDDING_DIMENSIONS) -> Schema:
    return Schema(_tables(embedding_dimensions))


def _tables(dimensions: int) -> list[Table]:
    return [
        Table("worlds"),
        Table(
            "worldStatus",
            indexes=[
                Index("worldId", ["worldId"]),
                Index("isDefault", ["isDefault"]),
                Index("engineId", ["engineId"]),
            ],
        ),
        Table("engines"),
        Table("maps", indexes=[Index("worldId", ["worldId"])]),
        Table("inputs", indexes=[Index("byInputNumber", ["engineId", "number"])]),
        Table("playerDescriptions", indexes=[Index("worldId", ["worldId", "playerId"])]),
        Table("agentDescriptions", indexes=[Index("worldId", ["worldId", "agentId"])]),
        Table("archivedPlayers", indexes=[Index("worldId", ["worldId", "id"])]),
        Table("archivedAgents", indexes=[Index("worldId", ["worldId", "id"])]),
        Table("archivedConversations", indexes=[Index("worldId", ["worldId", "id"])]),
        Table(
            "participatedTogether",
            indexes=[
                Index("edge", ["worldId", "player1", "player2", "ended"]),
                Index("conversation", ["worldId", "player1", "conversationId"]),
            ],
        ),
        Table("messages", indexes=[Index("conversationId", ["worldId", "conversationId"])]),
        # smalltown's own: each world's first state (or the checkpoint its kept history
        # starts from) and step boundaries, for replay.
        Table("smalltownInitialWorlds", indexes=[Index("worldId", ["worldId"])]),
        Table("smalltownSteps", indexes=[Index("worldStep", ["worldId", "step"])]),
        # smalltown's own: each world's seed and how many steps it took, so AI Town's
        # tables carry AI Town's fields alone.
        Table("smalltownWorlds", indexes=[Index("worldId", ["worldId"])]),
        # smalltown's own: each world's players, agents, conversations and bookkeeping, a
        # row each, so a step writes what changed (``worlds/parts.py``).
        Table("smalltownWorldParts", indexes=[Index("part", ["worldId", "kind", "key"])]),
        # smalltown's own: each engine's last input number, so that writing an input
        # reads no input row (``worlds/inputs.py: insert_input``).
        Table("smalltownInputCounters", indexes=[Index("engineId", ["engineId"])]),
        # smalltown's own: why a world's agents are silent (its LLM's failure, with the
        # fix, or its spent budget), for the page's banners.
        Table("smalltownWorldHealth", indexes=[Index("worldId", ["worldId"])]),
        # smalltown's own: which process's runner steps each world, and until when.
        Table(
            "smalltownLeases",
            indexes=[Index("worldId", ["worldId"]), Index("owner", ["owner"])],
        ),
        # smalltown's own: the world as it was after every hour's last step, where replay
        # can start once older history is pruned.
        Table(
            "smalltownCheckpoints",
            indexes=[
                Index("worldStep", ["worldId", "step"]),
                Index("worldTime", ["worldId", "time"]),
            ],
        ),
        # Agents' memories, as AI Town keeps them.
        Table(
            "memories",
            indexes=[
                Index("embeddingId", ["embeddingId"]),
                Index("playerId", ["playerId", "lastAccess"]),
            ],
        ),
        memory_embeddings(dimensions),
        Table("embeddingsCache", indexes=[Index("text", ["textHash"])]),
        # smalltown's own: which embedding model made the memories' vectors (one document).
        Table("smalltownMemoryIndex"),
        # smalltown's own: worlds made from an AI Town checkout (`smalltown aitown import`):
        # the import's name, its character sprites' sheets, and the files it stored.
        Table(
            "smalltownImports",
            indexes=[Index("worldId", ["worldId"]), Index("name", ["name"])],
        ),
        # smalltown's own: each world's LLM calls, tokens, cost and latency, by clock hour
        # and by the process that made them (``writer``).
        Table(
            "smalltownLlmUsage",
            indexes=[Index("worldHour", ["worldId", "hour", "writer"]), Index("hour", ["hour"])],
        ),
    ]


schema = town_schema()


async def open_town_store(url: str) -> Store:
    """The store at ``url`` with the town's tables and the runtime's own."""
    return await open_store(url, with_system_tables(schema))
