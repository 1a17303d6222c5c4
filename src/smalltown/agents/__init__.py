"""What agents do: hold a conversation (``conversation.py``), recall and remember
(``memory.py``), reflect (``reflection.py``), embed through the town's cache
(``embeddings.py``); with the prompts they are given and how their answers are read
(``prompts.py``). The store access and the metered LLM they need are passed in, as
``town_access.py`` describes; the town's actions (``town/aiTown/agentOperations.py``)
hand them over."""
