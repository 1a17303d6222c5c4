"""Keeps worlds running: the machinery under the town's functions, publishing none itself.

The runner that steps each world (``runner.py``) and the service that starts it with the
LLM beside the server (``service.py``, ``reporting.py``); making worlds (``creation.py``),
storing them a row a player, agent and conversation (``parts.py``) and queuing their
inputs (``inputs.py``); their history, pruned (``history.py``) and
replayed (``replay.py``); each world's LLM usage and budget (``usage.py``, ``meter.py``);
the memory index that follows the embedder (``memory_index.py``); what a page is sent of a
world (``view.py``); and ``smalltown worlds ...`` administration (``admin.py``).

The town (:mod:`smalltown.town`) calls into this package; nothing here imports the town,
so the map and residents a world starts with are passed in.
"""
