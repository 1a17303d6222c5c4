"""Messages name their world: one for a world with no engine is refused clearly, and
nothing of it is written."""

import pytest

from smalltown.runtime import ADMIN, ConvexError, Registry, Runtime
from smalltown.store import open_store
from smalltown.town.schema import schema


async def test_a_message_to_a_world_with_no_engine_is_refused_by_name(tmp_path):
    store = await open_store(f"sqlite:///{tmp_path}/messages.db")
    try:
        runtime = await Runtime.create(store, schema, Registry.from_package("smalltown.town"))
        world_id = await store.run(lambda tx: tx.insert("worlds", {"players": [], "agents": []}))
        with pytest.raises(ConvexError, match=f"no world '{world_id}'"):
            await runtime.mutation(
                "messages:writeMessage",
                {
                    "worldId": world_id,
                    "conversationId": "c:1",
                    "messageUuid": "m-1",
                    "playerId": "p:1",
                    "text": "hello",
                },
                ADMIN,
            )
        assert await store.read(lambda tx: tx.query("messages")) == []
    finally:
        await store.close()
