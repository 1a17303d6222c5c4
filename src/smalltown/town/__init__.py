"""The town: AI Town's tables and functions on the runtime, and the runner that steps worlds.

Served as an app (``smalltown run --app smalltown.town``): function paths, arguments and
result shapes follow AI Town's (``world:worldState``, ``aiTown/main:inputStatus``,
``messages:listMessages``...), so its data and clients carry over.
"""
