"""An app whose service leaves a task that will not be cancelled: it swallows every cancel,
as ``asyncio.wait_for`` can swallow one on Python 3.11. The server must stop anyway."""

from smalltown.store import Schema

schema = Schema([])
