"""A town world on a real store, stepped by the real runner on a clock of its own, with
what each step's transaction wrote."""

from __future__ import annotations

from typing import Any

from smalltown.bench.writes_bench import SteppedTown
from smalltown.store import Write, values
from smalltown.town.defaults import town_map
from smalltown.worlds import parts


class SteppedWorld(SteppedTown):
    @classmethod
    async def open_town(cls, url: str, residents: int) -> SteppedWorld:
        town = await cls.open(url, town_map(), residents)
        town.store.on_commit(lambda _, writes: town.commits.append(writes))
        return town

    commits: list[tuple[Write, ...]]

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.commits = []

    async def step_writes(self) -> tuple[Write, ...]:
        """One step; what its transaction wrote (the one that recorded a step: the
        residents' operations may answer in commits of their own before or after it)."""
        self.commits.clear()
        await self.step()
        steps = [w for w in self.commits if any(x.table == "smalltownSteps" for x in w)]
        assert len(steps) == 1, f"{len(steps)} steps recorded"
        return steps[0]

    async def whole_size(self) -> int:
        """The encoded size of the whole world with its bookkeeping: what a step that
        rewrote it all would write, at the least."""
        stored = await self.store.read(lambda tx: parts.load(tx, self.world_id))
        assert stored is not None
        return len(values.dumps(stored.document).encode())

    async def last_step(self) -> dict[str, Any]:
        found = await self.store.read(
            lambda tx: tx.first(
                "smalltownSteps", "worldStep", eq={"worldId": self.world_id}, order="desc"
            )
        )
        assert found is not None
        return found

    async def parts_written(self, writes: tuple[Write, ...]) -> set[tuple[str, str]]:
        """The world's parts (kind, key) that ``writes`` inserted or changed."""

        async def named(tx) -> set[tuple[str, str]]:
            out = set()
            for write in writes:
                if write.table == parts.TABLE and write.new_keys is not None:
                    row = await tx.get(write.id, table=parts.TABLE)
                    out.add((row["kind"], row["key"]))
            return out

        return await self.store.read(named)
