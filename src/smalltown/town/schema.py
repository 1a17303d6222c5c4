"""AI Town's tables, by name and shape, so its exports import without translation."""

from smalltown.store import Index, Schema, Table

schema = Schema(
    [
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
    ]
)
