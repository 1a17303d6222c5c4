"""``smalltown memories reembed|reset``: agents' memories, embedded again or forgotten."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

from smalltown.cli import options
from smalltown.cli.progress import Progress
from smalltown.cli.stores import open_town_store
from smalltown.config import Settings

NAME = "memories"


def add_parser(sub: argparse._SubParsersAction, settings: Settings) -> None:
    memories = sub.add_parser(
        NAME,
        help="manage agents' memories: reembed (with the configured embedder) or reset",
    )
    memories.add_argument("action", choices=["reembed", "reset"])
    options.database(memories, settings)


def handle(args: argparse.Namespace, settings: Settings) -> int:
    return asyncio.run(_memories(args, settings))


async def _memories(args: argparse.Namespace, settings: Settings) -> int:
    from smalltown.worlds import admin

    if (store := await open_town_store(args.database)) is None:
        return 1
    try:
        if args.action == "reembed":
            return await _reembed(store, settings)
        deleted = await admin.reset_memories(store)
    finally:
        await store.close()
    print(f"deleted {deleted} memories and embeddings; agents start remembering afresh")
    return 0


async def _reembed(store, settings: Settings) -> int:
    """Embed every memory again with the embedder the server would use (as ``settings``
    say), in place; the index takes that embedder's size."""
    from smalltown.llm import LLMError, open_provider
    from smalltown.llm.embedders import choose_embedder
    from smalltown.worlds.memory_index import reembed

    provider = open_provider(settings.llm) if settings.llm is not None else None
    embedder = await choose_embedder(provider, settings.embeddings)
    started = time.monotonic()
    shown = Progress()

    def progress(done: int, total: int) -> None:
        shown.show(f"  re-embedded {done:,} of {total:,} memories")

    try:
        count = await reembed(store, embedder, progress=progress)
    except LLMError as exc:
        shown.end_line()
        print(f"smalltown: {exc}", file=sys.stderr)
        return 1
    finally:
        if provider is not None:
            await provider.close()
    shown.done(
        f"re-embedded {count:,} memories with {embedder.description} "
        f"in {time.monotonic() - started:.1f} s"
    )
    return 0
