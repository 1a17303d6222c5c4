"""``agent/*``: the internal queries and mutations agents' operations read and write the
store through (AI Town's ``convex/agent`` folder holds its counterparts)."""
