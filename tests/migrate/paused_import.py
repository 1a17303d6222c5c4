"""``smalltown import`` that stops between two batches once it has written some documents.

Run as ``python paused_import.py AFTER import SNAPSHOT --database URL``: the real command,
whose write pass, once AFTER documents are committed, says ``PAUSED`` on stderr and waits
there (the check pass still running, batches still to come) until a signal ends it. A test
that reads the line knows the import is midway, however fast or loaded the machine is.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator

from smalltown import cli
from smalltown.migrate import import_zip
from smalltown.migrate.spool import Batch

PAUSED = "paused between two batches"


class PausingHandoff(import_zip.Handoff):
    """The hand-off to the writer, which asks for its next batch only once it has
    committed the one before: past ``after`` documents, that request waits for ever."""

    after = 0

    async def batches(self) -> AsyncIterator[tuple[str, Batch]]:
        written = 0
        async for label, batch in super().batches():
            yield label, batch
            written += len(batch[1])
            if written >= self.after:
                print(f"{PAUSED}, {written} documents in", file=sys.stderr, flush=True)
                await asyncio.Event().wait()  # until a signal stops the import


if __name__ == "__main__":
    after, *argv = sys.argv[1:]
    PausingHandoff.after = int(after)
    import_zip.Handoff = PausingHandoff
    sys.exit(cli.main(argv))
