"""What agents say and remember, apart from where it is kept: the prompts they are given,
how their answers are tidied and read (importance, insights), and how memories are ranked
for recall. Pure functions; the town's operations (``town/agentOps.py``) call them with
what they read from the store and the LLM."""
