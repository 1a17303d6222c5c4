"""The town: AI Town as an app on the runtime; its modules are its function paths.

Served as an app (``smalltown run --app smalltown.town``): every module here but the data
and the files the loader looks for is a function path, with AI Town's names, arguments and
result shapes (``world:worldState``, ``messages:listMessages``, ``aiTown/main:inputStatus``,
``testing:stop``), so its data and clients carry over; ``feed:observe`` is smalltown's
own, the senses of a resident played by a program from outside, and so is ``viewport:*``,
the part of a world the page shows. The town's own jobs call
``aiTown/agentOperations:*`` (agents' operations, scheduled by the runner), ``agent/*`` and
``aiTown/agentInputs:*`` (what those operations read and write) and ``usage:*`` (each LLM
call recorded). The loader's files are ``schema.py`` (the tables) and ``service.py`` (a
thin start); the data are ``defaults.py`` (the map and five residents) and ``assets/``.
What keeps worlds running lives in :mod:`smalltown.worlds`, what agents do in
:mod:`smalltown.agents`.
"""
