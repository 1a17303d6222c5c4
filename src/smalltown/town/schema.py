"""AI Town's tables, by name and shape, so its exports import without translation."""

from smalltown.store import Index, Schema, Table, VectorIndex

#: the embedding size the memory index starts with (the offline embedder's); the town's
#: service sets the real one from the embedder at start
DEFAULT_EMBEDDING_DIMENSIONS = 256


def town_schema(embedding_dimensions: int = DEFAULT_EMBEDDING_DIMENSIONS) -> Schema:
    return Schema(_tables(embedding_dimensions))


def embedding_dimensions(schema: Schema) -> int:
    return schema.table("memoryEmbeddings").vector_index("embedding").dimensions


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
        # smalltown's own: each world's first state and step boundaries, for replay.
        Table("smalltownInitialWorlds", indexes=[Index("worldId", ["worldId"])]),
        Table("smalltownSteps", indexes=[Index("worldStep", ["worldId", "step"])]),
        # Agents' memories, as AI Town keeps them.
        Table(
            "memories",
            indexes=[
                Index("embeddingId", ["embeddingId"]),
                Index("playerId", ["playerId", "lastAccess"]),
            ],
        ),
        Table(
            "memoryEmbeddings",
            vector_indexes=[
                VectorIndex("embedding", "embedding", dimensions, filter_fields=["playerId"])
            ],
        ),
        Table("embeddingsCache", indexes=[Index("text", ["textHash"])]),
    ]


schema = town_schema()
